package main

import (
	"os"
	"syscall"

	"github.com/orbit-sidecar/orbit/internal/smaps"
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
	maps, err := smaps.Self()
	if err != nil {
		return
	}
	for _, m := range startupPages(maps, exe) {
		// An error leaves the pages mapped, which costs memory, not data.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, m.Lo, m.Hi-m.Lo, syscall.MADV_DONTNEED)
	}
}

// startupPages picks the private read-only mappings of the file exe that
// hold no anonymous page: every page of those is the file's as it is on
// disk. A mapping written before it was made read-only holds anonymous
// copies (a position-independent executable's data, relocated by the
// dynamic loader), and dropping it would put the file's unrelocated bytes
// back; a mapping whose count is missing is left too.
func startupPages(maps []smaps.Mapping, exe string) []smaps.Mapping {
	var out []smaps.Mapping
	for _, m := range maps {
		if m.Path == exe && m.ReadOnlyPrivate() && m.AnonymousKB == 0 {
			out = append(out, m)
		}
	}
	return out
}
