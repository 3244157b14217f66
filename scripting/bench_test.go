package scripting

import (
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func benchData() map[string]any {
	return map[string]any{"payment": map[string]any{"tax": 12.0, "risk": 0.5},
		"order": map[string]any{"id": "o-1", "amount": 60.0}}
}

// BenchmarkLuaChoice is one Lua `when` call of a choice rule.
func BenchmarkLuaChoice(b *testing.B) {
	bundle := loadGood(b, Options{})
	when := bundle.Workflows["place_order"].States["Route"].Rules[0].When
	data, c := benchData(), &flow.Context{State: "Route", ItemIndex: -1}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := when.Test(data, c); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLuaExpr is one Lua output function that reads ctx.
func BenchmarkLuaExpr(b *testing.B) {
	bundle := loadGood(b, Options{})
	out := bundle.Workflows["place_order"].States["Each"].Iterator.States["Line"].Output
	data, c := benchData(), &flow.Context{State: "Line", ItemIndex: 2}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := out.Eval(data, c); err != nil || v != 2.0 {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkLuaRoutine is one Lua routine call returning a table.
func BenchmarkLuaRoutine(b *testing.B) {
	bundle := loadGood(b, Options{})
	r := bundle.Routines["tax.compute"]
	in, c := map[string]any{"amount": 100.0}, &flow.Context{State: "Authorize", ItemIndex: -1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Call(b.Context(), in, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is a whole load of the good bundle.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		loadGood(b, Options{})
	}
}
