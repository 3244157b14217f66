package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

type named map[string]any

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(` { "z" : [1, 2] } `), nil }

// valueCases are values of the kinds data holds, with the corners of
// encoding/json's output: escapes, HTML, invalid UTF-8, float formats,
// numbers as text, empty and nil containers, and types it writes itself.
func valueCases() []any {
	at := time.Date(2026, 12, 2, 4, 30, 0, 5, time.UTC)
	return []any{
		nil, true, false, "", "plain", "q\"b\\s/<a href='x'>&</a>", "\b\f\n\r\t\x00\x1f\x7f", "é\u2028\u2029😀",
		"bad \xff\xfe utf8", 0.0, -0.0, 1.0, -1.5, 1e-7, 1e-6, 123456789.0, 1e20, 1e21, 1.7976931348623157e308,
		5e-324, math.Pi, json.Number("9007199254740993"), json.Number("1e400"), json.Number("-0.5E+10"),
		json.Number(""), 7, int64(-1 << 62), map[string]any{}, map[string]any(nil), []any{}, []any(nil),
		map[string]any{"b": 1.0, "a": []any{"x", nil, map[string]any{"<": json.Number("2")}}, "": false},
		[]any{map[string]any{"k": at}, named{"n": 1.0}, marshaler{}, json.RawMessage(`{"r" : 1}`), []string{"s"}, uint8(3), float32(0.1)},
	}
}

func TestAppendValueWritesWhatMarshalWrites(t *testing.T) {
	for _, v := range valueCases() {
		want, werr := json.Marshal(v)
		got, gerr := AppendValue([]byte("prefix"), v)
		if werr != nil || gerr != nil {
			t.Fatalf("%#v: errors %v, %v", v, werr, gerr)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%#v:\n got %s\nwant prefix%s", v, got, want)
		}
	}
}

func TestAppendValueFailsWhereMarshalFails(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for _, v := range []any{math.NaN(), math.Inf(-1), json.Number("1."), json.Number("0x10"), json.Number("-"),
		map[string]any{"f": math.Inf(1)}, []any{func() {}}, cyclic} {
		_, werr := json.Marshal(v)
		_, gerr := AppendValue(nil, v)
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Errorf("%T: errors %v, want %v", v, gerr, werr)
		}
	}
}

func TestAppendValueOfDeepValues(t *testing.T) {
	var v any = "leaf"
	for range 2 * maxValueDepth {
		v = []any{map[string]any{"d": v}}
	}
	want, _ := json.Marshal(v)
	got, err := AppendValue(nil, v)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("deep value: %v, %d bytes, want %d", err, len(got), len(want))
	}
}

// FuzzAppendValue decodes JSON as the engine does (numbers as text) and
// as encoding/json does (float64s), and checks that AppendValue writes
// each as json.Marshal does.
func FuzzAppendValue(f *testing.F) {
	for _, v := range valueCases() {
		if b, err := json.Marshal(v); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"a":"\u003c\ud800","b":[1e999999,0.000001,-12e-8]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var plain any
		if json.Unmarshal(data, &plain) != nil {
			return
		}
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		var numbers any
		if d.Decode(&numbers) != nil {
			return
		}
		for _, v := range []any{plain, numbers} {
			want, werr := json.Marshal(v)
			got, gerr := AppendValue(nil, v)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) && werr == nil {
				t.Fatalf("%s:\n got %s (%v)\nwant %s (%v)", data, got, gerr, want, werr)
			}
		}
	})
}

// stepData is a workflow's data after a few steps: the start's input and
// each step's result placed under its own name.
func stepData() any {
	var v any
	json.Unmarshal([]byte(`{"order":{"id":"o-1042","items":[{"sku":"A-1","qty":2,"price":9.5},{"sku":"B-7","qty":1,"price":120}],
		"customer":"ada@example.com"},"s1":{"ok":true},"s2":{"ok":true,"ref":"x-93"},"s3":{"ok":true}}`), &v)
	return v
}

func BenchmarkAppendValue(b *testing.B) {
	v := stepData()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendValue(buf[:0], v)
	}
}

// BenchmarkMarshal is BenchmarkAppendValue's value through json.Marshal.
func BenchmarkMarshal(b *testing.B) {
	v := stepData()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(v)
	}
}
