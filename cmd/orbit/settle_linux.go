package main

import (
	"bufio"
	"io"
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
// mappings of the executable file whose pages are all the file's are
// dropped (startupPages), so dropping them loses nothing.
func dropStartupPages() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return
	}
	defer f.Close()
	for _, r := range startupPages(f, exe) {
		// An error leaves the pages mapped, which costs memory, not data.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, r.lo, r.hi-r.lo, syscall.MADV_DONTNEED)
	}
}

// pageRange is a mapping's addresses, from lo up to hi.
type pageRange struct{ lo, hi uintptr }

// startupPages lists, from smaps, the private read-only mappings of the
// file exe that hold no anonymous page: every page of those is the file's
// as it is on disk. A mapping written before it was made read-only holds
// anonymous copies (a position-independent executable's data, relocated by
// the dynamic loader), and dropping it would put the file's unrelocated
// bytes back; a mapping whose count is missing is left too.
func startupPages(r io.Reader, exe string) []pageRange {
	var (
		out       []pageRange
		cur       pageRange
		in, clean bool
	)
	flush := func() {
		if in && clean {
			out = append(out, cur)
		}
		in, clean = false, false
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// A mapping: start-end perms offset dev inode path, then its
		// fields, one "Name: value kB" a line.
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			flush()
			if len(fields) != 6 || fields[5] != exe || (fields[1] != "r--p" && fields[1] != "r-xp") {
				continue
			}
			start, end, _ := strings.Cut(fields[0], "-")
			lo, err1 := strconv.ParseUint(start, 16, 64)
			hi, err2 := strconv.ParseUint(end, 16, 64)
			if err1 == nil && err2 == nil && hi > lo {
				cur, in = pageRange{uintptr(lo), uintptr(hi)}, true
			}
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Anonymous:" {
			clean = fields[1] == "0"
		}
	}
	flush()
	return out
}
