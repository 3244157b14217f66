package scripting

import (
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/diagram"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

const condScript = `
workflow "route" {
  start = "Route",
  states = {
    Route = choice {
      { name = "big", when = all { gt("$.total", 100), any { eq("$.country", "DE"), eq("$.vip", true) } }, next = "Big" },
      { when = none(eq("$.country", "DE"), lte("$.total", 0)), next = "Abroad" },
      { name = "scripted", when = function(data) return data.total == 0 end, next = "Free" },
      default = "Home",
    },
    Big = succeed {}, Abroad = succeed {}, Free = succeed {}, Home = succeed {},
  },
}
`

func TestDeclarativeConditions(t *testing.T) {
	b, err := LoadSources([]flow.Source{{Path: "c.lua", Body: []byte(condScript)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := b.Workflows["route"].States["Route"]
	if got, want := st.Rules[0].Label(1), `big: $.total > 100 and ($.country == "DE" or $.vip == true)`; got != want {
		t.Errorf("rule 1 reads %q, want %q", got, want)
	}
	if got, want := st.Rules[1].Label(2), `not ($.country == "DE" or $.total <= 0)`; got != want {
		t.Errorf("rule 2 reads %q, want %q", got, want)
	}
	if got := st.Rules[2].Label(3); got != "scripted" {
		t.Errorf("a function rule reads %q, want its name only", got)
	}
	if !flow.Declarative(st.Rules[0].When) || flow.Declarative(st.Rules[2].When) {
		t.Error("Declarative misjudges the rules")
	}
	for _, tc := range []struct {
		data map[string]any
		want []bool
	}{
		{map[string]any{"total": 150.0, "country": "DE", "vip": false}, []bool{true, false, false}},
		{map[string]any{"total": 150.0, "country": "FR", "vip": true}, []bool{true, true, false}},
		{map[string]any{"total": 0.0, "country": "FR", "vip": false}, []bool{false, false, true}},
	} {
		for i, want := range tc.want {
			got, err := st.Rules[i].When.Test(tc.data, &flow.Context{ItemIndex: -1})
			if err != nil || got != want {
				t.Errorf("%v: rule %d = %v, %v; want %v", tc.data, i+1, got, err, want)
			}
		}
	}
	if dot := diagram.DOT(diagram.New(b.Workflows["route"])); !strings.Contains(dot, `label="big: $.total > 100`) {
		t.Errorf("the graph does not show the condition:\n%s", dot)
	}
}

func TestConditionProblems(t *testing.T) {
	for _, tc := range []struct{ name, state, want string }{
		{"bad path", `A = choice { { when = eq("total", 1), next = "A" }, default = "B" }, B = succeed {},`,
			`p.lua:4: bad argument #1 to eq (path "total" must start with $)`},
		{"no value", `A = choice { { when = gt("$.n"), next = "A" }, default = "B" }, B = succeed {},`,
			`p.lua:4: gt(path, value) needs a value to compare with`},
		{"not a condition", `A = choice { { when = all { eq("$.a", 1), "$.b" }, next = "A" }, default = "B" }, B = succeed {},`,
			`p.lua:4: all: member 2 must be a condition (eq, ne, lt, lte, gt, gte, all, any, none), got string`},
		{"empty", `A = choice { { when = any {}, next = "A" }, default = "B" }, B = succeed {},`,
			`p.lua:4: any needs at least one condition`},
		{"wrong when", `A = choice { { when = 5, next = "A" }, default = "B" }, B = succeed {},`,
			`p.lua:4: workflow "w", state "A", rule 1: field "when" must be a condition (all, any, none, eq, ne, lt, lte, gt, gte), a path string or a function(data, ctx), got number`},
		{"name type", `A = choice { { name = 1, when = eq("$.a", 1), next = "B" }, default = "B" }, B = succeed {},`,
			`p.lua:4: workflow "w", state "A", rule 1: field "name" must be a string, got number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadSources([]flow.Source{{Path: "p.lua", Body: []byte(okWorkflow(tc.state))}}, Options{})
			assertProblem(t, b, err, tc.want)
		})
	}
}
