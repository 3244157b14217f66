package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
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
// executable, from /proc/self/smaps.
func exeRSSKB(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = len(fields) == 6 && fields[5] == exe && (fields[1] == "r--p" || fields[1] == "r-xp")
		case in && len(fields) == 3 && fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}
