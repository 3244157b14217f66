package flow

import (
	"reflect"
	"strings"
	"testing"
)

var fastSeeds = []string{
	`{"order":{"id":"o-1","items":[{"sku":"A","qty":2,"price":9.5}],"tags":[]},"ok":true,"none":null}`,
	`[1,-0,0.5,1e400,9007199254740993,-12E-3,"é😀",{},[[]]]`, ` "plain" `, `{"a":1,"a":2}`,
	`"esc\n"`, `"ctl` + "\x01" + `"`, `"bad` + "\xff" + `"`, `{"a":}`, `[1,]`, `01`, `1.`, `-`, `1e+`, `tru`, ``,
	`{} x`, `{"k" 1}`, `[1 2]`, strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300), `123456789012345`, `1234567890123456`,
}

// TestDecodeFastAgreesWithEncodingJSON: what the fast decoder takes, it
// decodes as encoding/json does, numbers as either kind; what it leaves,
// encoding/json decodes or refuses.
func TestDecodeFastAgreesWithEncodingJSON(t *testing.T) {
	taken := 0
	for _, s := range fastSeeds {
		if checkFast(t, []byte(s)) {
			taken++
		}
	}
	if taken < 5 {
		t.Fatalf("the fast decoder took only %d of the plain seeds", taken)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}

// checkFast compares both decoders on b, for both kinds of numbers, and
// reports whether the fast one took b.
func checkFast(t *testing.T, b []byte) bool {
	t.Helper()
	took := false
	for _, floats := range []bool{true, false} {
		fast, ok := decodeFast(b, floats)
		var slow any
		err := unmarshalJSON(b, &slow, floats)
		if !ok {
			continue
		}
		took = true
		if err != nil {
			t.Fatalf("%q (floats %v): the fast decoder took what encoding/json refuses: %v", b, floats, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q (floats %v):\nfast %#v\nslow %#v", b, floats, fast, slow)
		}
	}
	return took
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(fastSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		DecodeJSON(body)
	}
}

// BenchmarkDecodeJSONByEncodingJSON is BenchmarkDecodeJSON's text
// through encoding/json alone, as DecodeJSON would decode it without the
// fast decoder.
func BenchmarkDecodeJSONByEncodingJSON(b *testing.B) {
	body := []byte(fastSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		var v any
		unmarshalJSON(body, &v, floatsExact(body))
	}
}

// TestUnmarshalJSONIntoAHeldPointer: an any that holds a pointer is
// decoded into as encoding/json does, through the pointer.
func TestUnmarshalJSONIntoAHeldPointer(t *testing.T) {
	var target map[string]any
	var v any = &target
	if err := UnmarshalJSON([]byte(`{"a":"b"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v != any(&target) || target["a"] != "b" {
		t.Fatalf("v %#v, target %#v", v, target)
	}
}
