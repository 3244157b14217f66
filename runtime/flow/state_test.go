package flow

import (
	"maps"
	"slices"
	"testing"
)

func TestKindAndPosString(t *testing.T) {
	if Map.String() != "map" || Fail.String() != "fail" || Kind(0).String() != "kind(0)" || Kind(99).String() != "kind(99)" {
		t.Errorf("Kind strings: %s %s %s %s", Map, Fail, Kind(0), Kind(99))
	}
	if got := (Pos{File: "a/b.lua", Line: 7}).String(); got != "a/b.lua:7" {
		t.Errorf("Pos = %q", got)
	}
	if got := (Pos{}).String(); got != "?" {
		t.Errorf("unknown Pos = %q", got)
	}
}

func TestWorkflowIndex(t *testing.T) {
	w := &Workflow{Name: "w", Machine: *machineOf("Fan out", 1,
		&State{Name: "Fan out", Kind: Parallel, Next: "Each", Branches: []*Machine{
			machineOf("A", 1, &State{Name: "A", Kind: Pass}),
			machineOf("A", 1, &State{Name: "A", Kind: Pass}),
		}},
		&State{Name: "Each", Kind: Map, Iterator: machineOf("Item", 1, &State{Name: "Item", Kind: Pass})},
	)}
	inner := machineOf("X", 1, &State{Name: "X", Kind: Pass})
	w.States["Fan out"].Branches[1].States["A"] = &State{Name: "A", Kind: Map, Iterator: inner}
	w.Index()
	want := []string{"", "Each", "Fan out[0]", "Fan out[1]", "Fan out[1]/A"}
	got := slices.Sorted(maps.Keys(w.Machines))
	if !slices.Equal(got, want) {
		t.Fatalf("Machines keys = %q, want %q", got, want)
	}
	if w.Machines[""] != &w.Machine || w.Machines["Fan out[1]/A"] != inner || w.Machines["Each"] != w.States["Each"].Iterator {
		t.Error("Machines points at the wrong machines")
	}
	if BranchKey("", "P", 2) != "P[2]" || IteratorKey("P[2]", "M") != "P[2]/M" {
		t.Errorf("keys: %s %s", BranchKey("", "P", 2), IteratorKey("P[2]", "M"))
	}
}
