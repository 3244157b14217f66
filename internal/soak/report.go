package soak

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Level compares the middle third of a run's samples with the last third.
type Level struct {
	Middle, Last float64 // means
	Slack        float64 // growth tolerated beside 10 %
	Levelled     bool
}

// The growth a levelled measure may still show between the middle and the
// last third, beside 10 %: bbolt grows its file 16 MiB at a time, and the
// Go heap breathes by a few MiB from one GC to the next.
const (
	fileSlack = 16 * mib
	rssSlack  = 8 * mib
)

// Levelled judges one measure of the samples: it levelled off when the
// mean of the last third exceeds the mean of the middle third by no more
// than 10 % or slack, whichever is more. Fewer than three samples cannot
// tell.
func Levelled(samples []Sample, measure func(Sample) float64, slack float64) Level {
	n := len(samples)
	l := Level{Slack: slack}
	if n < 3 {
		return l
	}
	mean := func(ss []Sample) float64 {
		var sum float64
		for _, s := range ss {
			sum += measure(s)
		}
		return sum / float64(len(ss))
	}
	l.Middle, l.Last = mean(samples[n/3:2*n/3]), mean(samples[2*n/3:])
	l.Levelled = l.Last-l.Middle <= max(0.1*l.Middle, slack)
	return l
}

// Verdict is a line a person reads, saying whether the measure levelled.
func (l Level) Verdict(name string) string {
	word := "levelled off"
	if !l.Levelled {
		word = "did NOT level off"
	}
	return fmt.Sprintf("%s %s: mean %.1f MiB in the middle third, %.1f MiB in the last (%+.1f%%; allowed: 10%% or %.0f MiB)",
		name, word, l.Middle/mib, l.Last/mib, 100*(l.Last-l.Middle)/max(l.Middle, 1), l.Slack/mib)
}

// OK reports whether the run passed: both measures levelled and every
// workflow ended as expected.
func (r *Result) OK() bool { return r.RSS.Levelled && r.File.Levelled && r.Failed == 0 }

// WriteTable writes the samples as a Markdown table, with the verdicts.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintln(w, "| time | workflows done | failed | p99 | RSS | goroutines | data file | open files |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "| %s | %d | %d | %.1f ms | %.1f MiB | %d | %.1f MiB | %d |\n", s.At.Round(time.Second), s.Done, s.Failed,
			float64(s.P99.Microseconds())/1000, float64(s.RSS)/mib, s.Goroutines, float64(s.FileSize)/mib, s.OpenFiles)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- %s\n- %s\n- workflows that did not end as expected: %d; starts skipped because %d were in flight: %d\n",
		r.RSS.Verdict("RSS"), r.File.Verdict("Data file"), r.Failed, maxInFlight, r.Skipped)
}

// chart is one panel of the picture.
type chart struct {
	title string
	unit  string
	value func(Sample) float64
}

var charts = []chart{
	{"RSS", "MiB", func(s Sample) float64 { return float64(s.RSS) / mib }},
	{"data file", "MiB", func(s Sample) float64 { return float64(s.FileSize) / mib }},
	{"p99 start to end", "ms", func(s Sample) float64 { return float64(s.P99.Microseconds()) / 1000 }},
	{"goroutines", "", func(s Sample) float64 { return float64(s.Goroutines) }},
}

// WriteSVG draws each measure over time, one small panel each, from zero
// up to its largest value, so that a level line looks level.
func (r *Result) WriteSVG(w io.Writer) {
	const (
		pw, ph         = 340, 150 // a panel
		left, top, gap = 48, 24, 28
		width          = 2*pw + 3*gap + 2*left
		height         = 2*ph + 2*top + 3*gap
	)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	var last time.Duration
	if n := len(r.Samples); n > 0 {
		last = r.Samples[n-1].At
	}
	for i, c := range charts {
		x0 := float64(left + (i%2)*(pw+left+gap))
		y0 := float64(top + (i/2)*(ph+top+gap))
		top := 0.0
		for _, s := range r.Samples {
			top = max(top, c.value(s))
		}
		if top == 0 {
			top = 1
		}
		top *= 1.1
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", x0, y0-8, esc(c.title))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%d" height="%d" fill="none" stroke="#bbb"/>`+"\n", x0, y0, pw, ph)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f %s</text>`+"\n", x0-4, y0+10, top, c.unit)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">0</text>`+"\n", x0-4, y0+ph)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`+"\n", x0+pw, y0+ph+14, last.Round(time.Second))
		var pts []string
		for _, s := range r.Samples {
			x := x0
			if last > 0 {
				x += float64(pw) * float64(s.At) / float64(last)
			}
			y := y0 + float64(ph) - float64(ph)*c.value(s)/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="%s"/>`+"\n", strings.Join(pts, " "))
	}
	b.WriteString("</svg>\n")
	io.WriteString(w, b.String())
}

// esc escapes text for SVG.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
