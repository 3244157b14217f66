package main

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{"1048576": 1 << 20, "256KiB": 256 << 10, "1MiB": 1 << 20, "2 GiB": 2 << 30, "10kB": 10000, "3MB": 3000000, "512B": 512} {
		var s byteSize
		if err := s.Set(in); err != nil || int(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1KiB", "lots", "1.5MiB", "4096GiB"} {
		var s byteSize
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) accepted %d", in, s)
		}
	}
	s := byteSize(256 << 10)
	if s.String() != "256KiB" {
		t.Errorf("String() = %q", s.String())
	}
}
