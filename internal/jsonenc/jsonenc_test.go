package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// tricky are strings whose JSON encodings differ between careless encoders:
// quotes, control characters (those encoding/json names and the rest), HTML, non-ASCII, invalid UTF-8 and the
// JavaScript line separators.
var tricky = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "back\bfeed\f", "\x00\x01\x1f\x7f",
	"<html> & 'amp'", "ünïcödé ✓ 🚀", "bad \xff\xfe utf8", "line\u2028para\u2029", "\xe2\x80"}

// std is v as encoding/json writes it with HTML escaping off.
func std(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// AppendString matches encoding/json with HTML escaping off, byte for byte.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range tricky {
		if got, want := string(AppendString(nil, s)), std(t, s); got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// AppendCompact writes a raw value as encoding/json writes a
// json.RawMessage: compacted, strings and numbers untouched.
func TestAppendCompactMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{`1`, `{"a":[1,2]}`, " { \"a\" : [ 1 , 2 ] ,\n\t\"b\":\r\n\"x y\\n\" } ",
		`123456789012345678901234567890.5e-300`, `"ü\u00e9 \u2028 <&>"`, `[ "spaces  in string" ]`, `{"n":{"m":[{"k":null}]}}`} {
		got, err := AppendCompact([]byte("prefix"), []byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if want := "prefix" + std(t, json.RawMessage(raw)); string(got) != want {
			t.Errorf("%q: got %s, want %s", raw, got, want)
		}
	}
	got, err := AppendCompact([]byte("prefix"), []byte(`{ "a": `))
	if err == nil || string(got) != "prefix" {
		t.Errorf("invalid raw: got %q, %v; want the prefix alone and an error", got, err)
	}
}

// FuzzAppendString holds AppendString to encoding/json with HTML escaping
// off for any bytes, and AppendValue's strings to json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), std(t, s); got != want {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		want, _ := json.Marshal(s)
		if got, _ := AppendValue(nil, s); string(got) != string(want) {
			t.Fatalf("%q: AppendValue wrote %s, json.Marshal %s", s, got, want)
		}
	})
}
