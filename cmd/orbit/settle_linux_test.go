package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/smaps"
)

// dropStartupPages leaves little of the executable resident: the test
// binary has run its package initialisation and the testing framework,
// so several MiB of its code and constant data are mapped before.
func TestDropStartupPagesDropsTheExecutablesPages(t *testing.T) {
	before := exeRSSKB(t)
	if before < 2<<10 {
		t.Skipf("only %d KiB of the executable is resident to begin with", before)
	}
	dropStartupPages()
	// The test itself runs on in between and maps a few pages back.
	if after := exeRSSKB(t); after > before/2 {
		t.Errorf("%d KiB of the executable resident after dropping, %d KiB before; want at most half", after, before)
	}
}

// exeRSSKB is the resident size of the process's read-only mappings of its
// executable.
func exeRSSKB(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	maps, err := smaps.Self()
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	return smaps.ResidentKB(maps, func(m *smaps.Mapping) bool { return m.Path == exe && m.ReadOnlyPrivate() })
}

// A read-only mapping of the executable that holds anonymous pages is not
// dropped: a position-independent executable's relocated data is written
// by the dynamic loader and then made read-only, and dropping it would put
// the file's unrelocated bytes back (the sidecar built with -buildmode=pie
// crashed at once). Mappings of other files, writable ones, and those whose
// anonymous count is missing are left too.
func TestStartupPagesAreThoseAsOnDisk(t *testing.T) {
	const sample = `55d000000000-55d000100000 r--p 00000000 08:01 42 /usr/bin/orbit
Size:               1024 kB
Rss:                 512 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd
55d000100000-55d000300000 r-xp 00100000 08:01 42 /usr/bin/orbit
Size:               2048 kB
Anonymous:             0 kB
55d000300000-55d000310000 r--p 00300000 08:01 42 /usr/bin/orbit
Size:                 64 kB
Anonymous:            64 kB
55d000310000-55d000320000 rw-p 00310000 08:01 42 /usr/bin/orbit
Anonymous:             8 kB
55d000320000-55d000330000 r--p 00000000 08:01 43 /usr/lib/libc.so.6
Anonymous:             0 kB
55d000330000-55d000340000 r--p 00000000 08:01 42 /usr/bin/orbit
Size:                 64 kB
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
Anonymous:           132 kB
`
	maps, err := smaps.Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]uintptr
	for _, m := range startupPages(maps, "/usr/bin/orbit") {
		got = append(got, [2]uintptr{m.Lo, m.Hi})
	}
	want := [][2]uintptr{{0x55d000000000, 0x55d000100000}, {0x55d000100000, 0x55d000300000}}
	if !slices.Equal(got, want) {
		t.Fatalf("startupPages = %x, want %x", got, want)
	}
}
