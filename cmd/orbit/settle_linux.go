package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropStartupPages drops the process's mappings of the executable's
// read-only pages, its code and constant data (MADV_DONTNEED). Starting
// the sidecar runs and reads much that serving never uses again (the
// compilers of scripts and plugins, the data-file check, flag parsing),
// and the kernel maps every page touched and the cached pages around it,
// so the resident set counted some 25 MiB of the executable at idle. The
// pages stay in the kernel's page cache, shared and reclaimable; those
// that serving uses come back with a minor fault. Only private, read-only
// mappings of the executable file are dropped: nothing ever writes their
// pages, so dropping them loses nothing, where a writable mapping would
// lose its changes.
func dropStartupPages() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) != 6 || fields[5] != exe || (fields[1] != "r--p" && fields[1] != "r-xp") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		// An error leaves the pages mapped, which costs memory, not data.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), syscall.MADV_DONTNEED)
	}
}
