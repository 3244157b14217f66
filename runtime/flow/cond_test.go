package flow

import (
	"strings"
	"testing"
)

func comparison(path string, op Op, v any) *Compare {
	return &Compare{Path: MustPath(path), Op: op, Value: v}
}

func TestCompare(t *testing.T) {
	data := map[string]any{"n": 2.0, "s": "b", "t": true, "code": "2", "z": nil,
		"o": map[string]any{"k": []any{1.0}}}
	for _, tc := range []struct {
		c    *Compare
		want bool
	}{
		{comparison("$.n", Eq, 2.0), true},
		{comparison("$.n", Eq, 2), true}, // Go integers widen
		{comparison("$.n", Ne, 2.0), false},
		{comparison("$.n", Lt, 3.0), true},
		{comparison("$.n", Lte, 2.0), true},
		{comparison("$.n", Gt, 2.0), false},
		{comparison("$.n", Gte, 2.0), true},
		{comparison("$.n", Eq, "2"), true},    // XML text against a number
		{comparison("$.code", Eq, 2.0), true}, // a number against text in the data
		{comparison("$.n", Eq, "two"), false}, // text that is no number stays text
		{comparison("$.n", Lt, "two"), false}, // and cannot be ordered against one
		{comparison("$.s", Lt, "c"), true},
		{comparison("$.s", Gte, "c"), false},
		{comparison("$.t", Eq, "true"), true},
		{comparison("$.t", Eq, true), true},
		{comparison("$.t", Lt, true), false}, // booleans have no order
		{comparison("$.z", Eq, nil), true},
		{comparison("$.z", Ne, nil), false},
		{comparison("$.o", Eq, map[string]any{"k": []any{1.0}}), true},
		{comparison("$.o", Gt, 1.0), false},
	} {
		got, err := tc.c.Test(data, nil)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.c, got, err, tc.want)
		}
	}
	_, err := comparison("$.missing", Eq, 1.0).Test(data, &Context{State: "Route"})
	if fe := AsError(err, ""); fe == nil || fe.Name != ErrRuntime {
		t.Fatalf("unresolved path: %v, want %s", err, ErrRuntime)
	}
}

func TestConnective(t *testing.T) {
	yes, no := comparison("$.a", Eq, 1.0), comparison("$.a", Eq, 2.0)
	boom := comparison("$.missing", Eq, 1.0) // errors if it is ever tested
	data := map[string]any{"a": 1.0}
	for _, tc := range []struct {
		c    *Connective
		want bool
	}{
		{&Connective{All, []Cond{yes, yes}}, true},
		{&Connective{All, []Cond{yes, no}}, false},
		{&Connective{All, []Cond{no, boom}}, false}, // stops at the first false
		{&Connective{Any, []Cond{no, yes}}, true},
		{&Connective{Any, []Cond{yes, boom}}, true},
		{&Connective{Any, []Cond{no, no}}, false},
		{&Connective{None, []Cond{no, no}}, true},
		{&Connective{None, []Cond{no, yes, boom}}, false},
	} {
		got, err := tc.c.Test(data, nil)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.c, got, err, tc.want)
		}
	}
	if _, err := (&Connective{All, []Cond{yes, boom}}).Test(data, nil); err == nil {
		t.Error("an unresolved path inside all: want an error")
	}
}

func TestCondText(t *testing.T) {
	a, b, c := comparison("$.a", Eq, 1.0), comparison("$.b", Gt, "x"), comparison("$['c d']", Lte, nil)
	for _, tc := range []struct {
		c    Cond
		want string
	}{
		{a, `$.a == 1`},
		{&Connective{All, []Cond{a, &Connective{Any, []Cond{b, c}}}}, `$.a == 1 and ($.b > "x" or $['c d'] <= null)`},
		{&Connective{None, []Cond{a, b}}, `not ($.a == 1 or $.b > "x")`},
		// one-member connectives draw as their member, even nested
		{&Connective{All, []Cond{a, &Connective{All, []Cond{&Connective{Any, []Cond{b, c}}}}}}, `$.a == 1 and ($.b > "x" or $['c d'] <= null)`},
		{&Connective{Any, []Cond{&Connective{None, []Cond{a}}, b}}, `not ($.a == 1) or $.b > "x"`},
		{CondFunc(func(any, *Context) (bool, error) { return true, nil }), ""},
	} {
		if got := CondText(tc.c); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func TestRuleLabel(t *testing.T) {
	when := comparison("$.a", Eq, 1.0)
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{Name: "one", When: when}, "one: $.a == 1"},
		{Rule{Name: "one", When: CondFunc(nil)}, "one"},
		{Rule{When: when}, "$.a == 1"},
		{Rule{When: CondFunc(nil)}, "rule 3"},
	} {
		if got := tc.r.Label(3); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestValidateConditions(t *testing.T) {
	wf := &Workflow{Name: "w", Machine: *machineOf("C", 1,
		&State{Name: "C", Kind: Choice, Default: "E", Rules: []Rule{
			{Next: "E", When: &Connective{Junction: Any}},
			{Next: "E", When: &Compare{Op: Eq}},
			{Next: "E", When: &Compare{Path: MustPath("$"), Op: 0}},
		}},
		&State{Name: "E", Kind: Succeed})}
	got := Validate(&Bundle{Workflows: map[string]*Workflow{"w": wf}}).Error()
	for _, want := range []string{"rule 1: any has no conditions", "rule 2: a comparison has no path", "rule 3: unknown comparison op(0)"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
}
