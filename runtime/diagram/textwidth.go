package diagram

import (
	"strings"
	"unicode/utf8"
)

// SVG text is measured without fonts: by the advance widths of Helvetica
// (the Adobe font metrics, in thousandths of an em), which Arial and most
// sans-serif faces match closely, with some slack for wider faces such as
// DejaVu Sans. Boxes may come out a little wide; text never spills.

// helvetica and helveticaBold are the widths of ASCII 32 to 126.
var helvetica = [95]uint16{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
}

var helveticaBold = [95]uint16{
	278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
	975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
	333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
	611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
}

// slack widens every measure for faces wider than Helvetica.
const slack = 1.12

// textWidth is the width of s in pixels at size px.
func textWidth(s string, px float64, bold bool) float64 {
	table := &helvetica
	if bold {
		table = &helveticaBold
	}
	var em float64
	for _, r := range s {
		switch {
		case r >= 32 && r <= 126:
			em += float64(table[r-32])
		case r >= 0x2E80: // CJK and other wide scripts
			em += 1000
		default:
			em += 600
		}
	}
	return em / 1000 * px * slack
}

// wrap breaks s into lines of at most width runes, at spaces when it can,
// keeping at most maxLines (the last one ends in an ellipsis when text was
// left out).
func wrap(s string, width, maxLines int) []string {
	var lines []string
	for s != "" {
		if utf8.RuneCountInString(s) <= width {
			lines = append(lines, s)
			break
		}
		cut := runeOffset(s, width)
		if i := strings.LastIndexByte(s[:cut], ' '); i > 0 {
			cut = i
		}
		lines = append(lines, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		last := lines[maxLines-1]
		if utf8.RuneCountInString(last) >= width {
			last = last[:runeOffset(last, width-1)]
		}
		lines[maxLines-1] = last + "…"
	}
	return lines
}

// runeOffset is the byte offset of rune n of s.
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
