package soak

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func samples(rss, file []float64) []Sample {
	var ss []Sample
	for i := range rss {
		ss = append(ss, Sample{At: time.Duration(i+1) * time.Minute, RSS: int64(rss[i] * mib), FileSize: int64(file[i] * mib),
			Goroutines: 40, P99: 12 * time.Millisecond, Done: 1200})
	}
	return ss
}

func TestLevelled(t *testing.T) {
	cases := []struct {
		name  string
		vals  []float64
		slack float64
		want  bool
	}{
		{"flat", []float64{30, 40, 41, 40, 42, 41, 40, 41, 42}, rssSlack, true},
		{"growth within 10 %", []float64{100, 200, 200, 200, 210, 215, 215}, 0, true},
		{"growth within the slack", []float64{16, 16, 16, 16, 32, 32}, fileSlack, true},
		{"a leak", []float64{30, 60, 90, 120, 150, 180, 210, 240, 270}, rssSlack, false},
		{"too few samples", []float64{30, 30}, rssSlack, false},
	}
	for _, c := range cases {
		l := Levelled(samples(c.vals, c.vals), func(s Sample) float64 { return float64(s.RSS) }, c.slack)
		if l.Levelled != c.want {
			t.Errorf("%s: %+v, want levelled %v", c.name, l, c.want)
		}
	}
}

func TestReport(t *testing.T) {
	r := &Result{Samples: samples([]float64{30, 40, 41, 40, 42, 41}, []float64{16, 32, 32, 32, 32, 32})}
	r.RSS = Levelled(r.Samples, func(s Sample) float64 { return float64(s.RSS) }, rssSlack)
	r.File = Levelled(r.Samples, func(s Sample) float64 { return float64(s.FileSize) }, fileSlack)
	if !r.OK() {
		t.Fatalf("a levelled run without failures fails: %+v %+v", r.RSS, r.File)
	}
	var table strings.Builder
	r.WriteTable(&table)
	for _, want := range []string{"| 6m0s | 1200 | 0 | 12.0 ms | 41.0 MiB | 40 | 32.0 MiB | 0 |", "RSS levelled off", "Data file levelled off"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table does not hold %q:\n%s", want, table.String())
		}
	}
	var svg strings.Builder
	r.WriteSVG(&svg)
	var doc struct {
		XMLName   xml.Name `xml:"svg"`
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal([]byte(svg.String()), &doc); err != nil {
		t.Fatalf("the chart is not SVG: %v", err)
	}
	if len(doc.Polylines) != len(charts) || strings.Count(doc.Polylines[0].Points, ",") != len(r.Samples) {
		t.Fatalf("the chart has %d lines, the first of points %q", len(doc.Polylines), doc.Polylines[0].Points)
	}
	r.Failed = 1
	if r.OK() {
		t.Fatal("a run with a failed workflow passes")
	}
}
