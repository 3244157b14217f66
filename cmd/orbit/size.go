package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value for sizes written as 1048576, 256KiB, 1MiB,
// 1GiB, or in decimal units (kB, MB, GB).
type byteSize int

// maxSize keeps sizes far from overflow; no payload comes near it.
const maxSize = 1 << 40

var sizeUnits = []struct {
	suffix string
	factor int
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

func (s *byteSize) String() string {
	n := int(*s)
	for _, u := range sizeUnits[:3] {
		if n >= u.factor && n%u.factor == 0 && (n/u.factor < 1024 || u.suffix == "GiB") {
			return strconv.Itoa(n/u.factor) + u.suffix
		}
	}
	return strconv.Itoa(n)
}

func (s *byteSize) Set(v string) error {
	in := v
	v = strings.TrimSpace(v)
	factor := 1
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, factor = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > maxSize/factor {
		return fmt.Errorf("%q is not a size like 262144, 256KiB or 1MiB", in)
	}
	*s = byteSize(n * factor)
	return nil
}
