package flow

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	key := func(k string) pathStep { return pathStep{key: k} }
	idx := func(i int) pathStep { return pathStep{index: i, isIdx: true} }
	for _, tc := range []struct {
		in   string
		want []pathStep
	}{
		{"$", nil},
		{"$.a", []pathStep{key("a")}},
		{"$.a.b", []pathStep{key("a"), key("b")}},
		{"$.a[0]", []pathStep{key("a"), idx(0)}},
		{"$[0][12]", []pathStep{idx(0), idx(12)}},
		{"$['key with space']", []pathStep{key("key with space")}},
		{`$["x"]`, []pathStep{key("x")}},
		{`$['it"s']`, []pathStep{key(`it"s`)}},
		{`$["it's"]`, []pathStep{key("it's")}},
		{"$['a]b']", []pathStep{key("a]b")}},
		{"$['a.b'].c", []pathStep{key("a.b"), key("c")}},
		{"$['']", []pathStep{key("")}},
		{"$.a['b'][1].c", []pathStep{key("a"), key("b"), idx(1), key("c")}},
	} {
		p, err := ParsePath(tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(p.steps, tc.want) {
			t.Errorf("ParsePath(%q) steps = %+v, want %+v", tc.in, p.steps, tc.want)
		}
		if p.String() != tc.in {
			t.Errorf("String() = %q, want %q", p.String(), tc.in)
		}
		if p.IsRoot() != (tc.want == nil) {
			t.Errorf("%q: IsRoot() = %v", tc.in, p.IsRoot())
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `path "" must start with $`},
		{"a.b", `path "a.b" must start with $`},
		{"$a", `path "$a": unexpected 'a' at offset 1`},
		{"$.", `path "$.": empty name at offset 1`},
		{"$..a", `path "$..a": empty name at offset 1`},
		{"$.a.", `path "$.a.": empty name at offset 3`},
		{"$.a[", `path "$.a[": missing ]`},
		{"$[]", `path "$[]": index "" is not a non-negative integer`},
		{"$[-1]", `path "$[-1]": index "-1" is not a non-negative integer`},
		{"$[x]", `path "$[x]": index "x" is not a non-negative integer`},
		{"$['a'", `path "$['a'": bad quoted key`},
		{"$['a", `path "$['a": bad quoted key`},
		{"$['a'x]", `path "$['a'x]": bad quoted key`},
		{`$['a"]`, `path "$['a\"]": bad quoted key`},
		{"$['a']x", `path "$['a']x": unexpected 'x' at offset 6`},
	} {
		p, err := ParsePath(tc.in)
		if err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", tc.in, p.steps)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParsePath(%q) error = %q, want %q", tc.in, err, tc.want)
		}
	}
}

func TestMustPathPanicsOnBadPath(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustPath(\"x\") did not panic")
		}
	}()
	MustPath("x")
}

func pathData() map[string]any {
	return map[string]any{
		"a": map[string]any{
			"b":              1.0,
			"list":           []any{10.0, map[string]any{"c": "x"}},
			"key with space": true,
			"n":              nil,
		},
	}
}

func TestPathGet(t *testing.T) {
	data := pathData()
	for _, tc := range []struct {
		path string
		want any
	}{
		{"$.a.b", 1.0},
		{"$.a.list[0]", 10.0},
		{"$.a.list[1].c", "x"},
		{"$['a']['key with space']", true},
		{"$.a.n", nil}, // null is a value: it resolves
	} {
		got, ok := MustPath(tc.path).Get(data)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Get(%s) = %v, %v; want %v, true", tc.path, got, ok, tc.want)
		}
	}
	if got, ok := MustPath("$").Get(data); !ok || !reflect.DeepEqual(got, data) {
		t.Errorf("Get($) = %v, %v; want the whole data", got, ok)
	}
	for _, path := range []string{
		"$.missing",
		"$.a.list[2]",  // past the end
		"$.a.b.c",      // into a number
		"$.a[0]",       // index into an object
		"$.a.list.c",   // key into an array
		"$.a.n.deeper", // into null
		"$['a'].list[1].c.d",
	} {
		if got, ok := MustPath(path).Get(data); ok {
			t.Errorf("Get(%s) = %v, true; want no value", path, got)
		}
	}
	if _, ok := MustPath("$.a").Get(nil); ok {
		t.Error("Get($.a) on null resolved")
	}
}

func TestPathEval(t *testing.T) {
	data := pathData()
	got, err := MustPath("$.a.list[1].c").Eval(data, &Context{State: "Charge"})
	if err != nil || got != "x" {
		t.Fatalf("Eval = %v, %v; want x", got, err)
	}
	_, err = MustPath("$.a.missing").Eval(data, &Context{State: "Charge"})
	var fe *Error
	if !errors.As(err, &fe) || fe.Name != ErrRuntime {
		t.Fatalf("Eval of a missing path = %v, want a %s error", err, ErrRuntime)
	}
	for _, part := range []string{"$.a.missing", `"Charge"`} {
		if !strings.Contains(fe.Cause, part) {
			t.Errorf("cause %q does not name %s", fe.Cause, part)
		}
	}
	if _, err := MustPath("$.x").Eval(nil, nil); err == nil {
		t.Error("Eval without a context resolved a missing path")
	}
	var _ Expr = MustPath("$") // paths are usable wherever an Expr is
}

func TestPathSet(t *testing.T) {
	t.Run("root replaces", func(t *testing.T) {
		got, err := MustPath("$").Set(pathData(), "new")
		if err != nil || got != "new" {
			t.Fatalf("Set($) = %v, %v", got, err)
		}
	})
	t.Run("creates objects and keeps siblings", func(t *testing.T) {
		in := map[string]any{"a": 1.0}
		got, err := MustPath("$.x.y").Set(in, "v")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"a": 1.0, "x": map[string]any{"y": "v"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if !reflect.DeepEqual(in, map[string]any{"a": 1.0}) {
			t.Fatalf("input changed: %v", in)
		}
	})
	t.Run("on null data", func(t *testing.T) {
		got, err := MustPath("$['a b'].c").Set(nil, 2.0)
		if err != nil || !reflect.DeepEqual(got, map[string]any{"a b": map[string]any{"c": 2.0}}) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("copies arrays and maps along the way", func(t *testing.T) {
		in := pathData()
		got, err := MustPath("$.a.list[1].c").Set(in, "y")
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := MustPath("$.a.list[1].c").Get(got); v != "y" {
			t.Fatalf("result has %v", v)
		}
		if !reflect.DeepEqual(in, pathData()) {
			t.Fatalf("input changed: %v", in)
		}
		// Writing into the result must not reach the input either.
		got.(map[string]any)["a"].(map[string]any)["list"].([]any)[0] = "changed"
		if !reflect.DeepEqual(in, pathData()) {
			t.Fatalf("result shares the array with the input: %v", in)
		}
	})
	t.Run("overwrites a value", func(t *testing.T) {
		got, err := MustPath("$.a.b").Set(pathData(), map[string]any{"z": true})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := MustPath("$.a.b.z").Get(got); v != true {
			t.Fatalf("got %v", got)
		}
	})
	for _, tc := range []struct{ path, want string }{
		{"$.a.list[5]", "States.Runtime: path $.a.list[5]: index 5 is out of range"},
		{"$.a.b[0]", "States.Runtime: path $.a.b[0]: index 0 is out of range"},
		{"$.a.b.c", `States.Runtime: path $.a.b.c: cannot set "c" inside a number`},
		{"$.a.list.c", `States.Runtime: path $.a.list.c: cannot set "c" inside a array`},
	} {
		t.Run("error "+tc.path, func(t *testing.T) {
			in := pathData()
			_, err := MustPath(tc.path).Set(in, 1.0)
			var fe *Error
			if !errors.As(err, &fe) || fe.Name != ErrRuntime || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			if !reflect.DeepEqual(in, pathData()) {
				t.Fatalf("input changed: %v", in)
			}
		})
	}
}

func TestTypeName(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "null"}, {true, "boolean"}, {1.5, "number"}, {3, "number"}, {"s", "string"},
		{[]any{}, "array"}, {map[string]any{}, "object"}, {struct{}{}, "struct {}"},
	} {
		if got := TypeName(tc.v); got != tc.want {
			t.Errorf("TypeName(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// benchData is an order as a workflow would carry it: nested objects, an
// array of items and a dozen top-level fields.
func benchData() map[string]any {
	items := make([]any, 10)
	for i := range items {
		items[i] = map[string]any{"sku": "SKU-1", "qty": 2.0, "price": 9.5}
	}
	d := map[string]any{"order": map[string]any{"id": "o-1", "items": items, "customer": map[string]any{"id": "c-1"}}}
	for _, k := range []string{"f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10"} {
		d[k] = k
	}
	return d
}

func BenchmarkPathGet(b *testing.B) {
	p, data := MustPath("$.order.items[3].price"), benchData()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Get(data); !ok {
			b.Fatal("did not resolve")
		}
	}
}

func BenchmarkPathSet(b *testing.B) {
	p, data := MustPath("$.order.payment"), benchData()
	result := map[string]any{"status": "authorized"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Set(data, result); err != nil {
			b.Fatal(err)
		}
	}
}
