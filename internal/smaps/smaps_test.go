package smaps

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	maps, err := Read(strings.NewReader(`55d000000000-55d000100000 r-xp 00000000 08:01 42 /usr/bin/orbit
Size:               1024 kB
Rss:                 512 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
55d000100000-55d000110000 rw-p 00100000 08:01 42 /usr/bin/orbit
Rss:                  64 kB
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                 132 kB
Anonymous:           132 kB
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{Lo: 0x55d000000000, Hi: 0x55d000100000, Perms: "r-xp", Path: "/usr/bin/orbit", RSSKB: 512, AnonymousKB: 0},
		{Lo: 0x55d000100000, Hi: 0x55d000110000, Perms: "rw-p", Path: "/usr/bin/orbit", RSSKB: 64, AnonymousKB: -1},
		{Lo: 0x7ffc00000000, Hi: 0x7ffc00021000, Perms: "rw-p", Path: "[stack]", RSSKB: 132, AnonymousKB: 132},
	}
	if len(maps) != len(want) {
		t.Fatalf("read %d mappings, want %d: %+v", len(maps), len(want), maps)
	}
	for i := range want {
		if maps[i] != want[i] {
			t.Errorf("mapping %d = %+v, want %+v", i, maps[i], want[i])
		}
	}
	if kb := ResidentKB(maps, func(m *Mapping) bool { return m.Path == "/usr/bin/orbit" }); kb != 576 {
		t.Errorf("resident of the executable %d KiB, want 576", kb)
	}
}

// The process's own mappings include resident pages of its executable.
func TestSelf(t *testing.T) {
	maps, err := Self()
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	if ResidentKB(maps, func(m *Mapping) bool { return m.Perms == "r-xp" }) == 0 {
		t.Fatal("no executable page is resident, yet this code runs")
	}
}
