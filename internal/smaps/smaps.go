// Package smaps reads /proc/self/smaps: the process's mappings and how
// much of each is resident, for the code that drops pages it no longer
// needs and the tests that check it did.
package smaps

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mapping is one mapping of the address space and what smaps counts of it.
type Mapping struct {
	Lo, Hi      uintptr // its addresses, from Lo up to Hi
	Perms       string  // as "r-xp": read, write, execute, private or shared
	Path        string  // the file mapped, "" for none
	RSSKB       int     // resident, in KiB
	AnonymousKB int     // resident and not the file's, in KiB; -1 when smaps gave no count
}

// ReadOnlyPrivate reports whether m is a private mapping that cannot be
// written: an executable's code or constant data.
func (m *Mapping) ReadOnlyPrivate() bool { return m.Perms == "r--p" || m.Perms == "r-xp" }

// Self reads the mappings of this process.
func Self() ([]Mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read reads mappings in the format of /proc/PID/smaps: a line
// "lo-hi perms offset dev inode [path]" for each, then its counts, one
// "Name: value kB" a line.
func Read(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			start, end, _ := strings.Cut(fields[0], "-")
			lo, err1 := strconv.ParseUint(start, 16, 64)
			hi, err2 := strconv.ParseUint(end, 16, 64)
			if err1 != nil || err2 != nil || hi <= lo {
				continue // not a mapping's line after all
			}
			m := Mapping{Lo: uintptr(lo), Hi: uintptr(hi), Perms: fields[1], AnonymousKB: -1}
			if len(fields) == 6 {
				m.Path = fields[5] // a path with a space, or " (deleted)", matches no file asked for
			}
			out = append(out, m)
			continue
		}
		if len(out) == 0 || len(fields) != 3 || fields[2] != "kB" {
			continue
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		switch m := &out[len(out)-1]; fields[0] {
		case "Rss:":
			m.RSSKB = n
		case "Anonymous:":
			m.AnonymousKB = n
		}
	}
	return out, sc.Err()
}

// ResidentKB sums the resident KiB of the mappings for which keep holds.
func ResidentKB(maps []Mapping, keep func(*Mapping) bool) int {
	kb := 0
	for i := range maps {
		if keep(&maps[i]) {
			kb += maps[i].RSSKB
		}
	}
	return kb
}
