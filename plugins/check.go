package plugins

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Report is what a module exports and imports, and why it does or does
// not fit the ABI: the host's load check and `orbit plugin inspect`.
type Report struct {
	Kind       string      `json:"kind"`
	Exports    []Signature `json:"exports"`
	Imports    []Signature `json:"imports"`
	ABIVersion int32       `json:"abi_version,omitempty"` // 0 until an instance answered
	Problems   []string    `json:"problems"`

	funcs map[string]api.FunctionDefinition
}

// Fits reports whether the module can be loaded as a plugin.
func (r *Report) Fits() bool { return len(r.Problems) == 0 }

// Signature is one imported or exported function.
type Signature struct {
	Module  string   `json:"module,omitempty"` // imports only
	Name    string   `json:"name"`
	Params  []string `json:"params"`
	Results []string `json:"results"`
	Routine bool     `json:"routine,omitempty"` // exports: has the routine shape (i32, i32) -> i64
}

// String prints the signature as WebAssembly text would.
func (s Signature) String() string {
	name := s.Name
	if s.Module != "" {
		name = s.Module + "." + name
	}
	out := name + "(" + strings.Join(s.Params, ", ") + ")"
	if len(s.Results) > 0 {
		out += " -> " + strings.Join(s.Results, ", ")
	}
	return out
}

func signatureOf(module, name string, d api.FunctionDefinition) Signature {
	return Signature{Module: module, Name: name, Params: valueTypeNames(d.ParamTypes()), Results: valueTypeNames(d.ResultTypes())}
}

func valueTypeNames(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}

func sigString(d api.FunctionDefinition) string { return signatureOf("", "", d).String() }

func sameTypes(a, b []api.ValueType) bool {
	return string(a) == string(b)
}

// isRoutineSig reports whether a function has the shape of a routine:
// (ptr i32, len i32) -> packed i64.
func isRoutineSig(d api.FunctionDefinition) bool {
	return sameTypes(d.ParamTypes(), []api.ValueType{i32, i32}) && sameTypes(d.ResultTypes(), []api.ValueType{api.ValueTypeI64})
}

// checkModule holds a compiled module against the ABI (see abi.go).
func checkModule(cm wazero.CompiledModule) *Report {
	r := &Report{Kind: KindReactor, funcs: cm.ExportedFunctions(), Exports: []Signature{}, Imports: []Signature{}, Problems: []string{}}
	bad := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	for _, name := range sortedKeys(r.funcs) {
		s := signatureOf("", name, r.funcs[name])
		s.Routine = isRoutineSig(r.funcs[name])
		r.Exports = append(r.Exports, s)
	}
	provided := map[string]hostFunc{}
	for _, hf := range hostFuncs {
		provided[hf.name] = hf
	}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		r.Imports = append(r.Imports, signatureOf(mod, name, d))
		switch mod {
		case importWASI:
		case importOrbit:
			hf, ok := provided[name]
			switch {
			case !ok:
				bad("imports %s.%s, which this Orbit does not provide", mod, name)
			case !sameTypes(d.ParamTypes(), hf.params) || !sameTypes(d.ResultTypes(), hf.results):
				want := Signature{Module: mod, Name: name, Params: valueTypeNames(hf.params), Results: valueTypeNames(hf.results)}
				bad("imports %s, but the host provides %s", signatureOf(mod, name, d), want)
			}
		default:
			bad("imports %s.%s: only the %s and %s modules are provided", mod, name, importWASI, importOrbit)
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		bad("imports a memory; a plugin must define its own")
	}
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		bad("does not export its memory as %q", exportMemory)
	}

	_, hasStart := r.funcs[exportStart]
	_, hasInit := r.funcs[exportInitialize]
	switch {
	case hasStart && hasInit:
		bad("exports both %s and %s: build a reactor (-buildmode=c-shared) or a command, not both", exportStart, exportInitialize)
	case hasStart:
		r.Kind = KindCommand
		return r
	}
	r.want(exportABIVersion, nil, []api.ValueType{i32})
	r.want(exportAlloc, []api.ValueType{i32}, []api.ValueType{i32})
	return r
}

// want records a problem unless the module exports name with this type.
func (r *Report) want(name string, params, results []api.ValueType) {
	d, ok := r.funcs[name]
	wantSig := Signature{Name: name, Params: valueTypeNames(params), Results: valueTypeNames(results)}.String()
	switch {
	case !ok:
		r.Problems = append(r.Problems, fmt.Sprintf("does not export %s (a reactor must; the Go kit plugins/pdk provides it)", wantSig))
	case !sameTypes(d.ParamTypes(), params) || !sameTypes(d.ResultTypes(), results):
		r.Problems = append(r.Problems, fmt.Sprintf("exports %s, want %s", signatureOf("", name, d), wantSig))
	}
}

// exportProblem says why fn cannot be called as a routine ("" if it can).
// Command modules dispatch on their arguments, so any name may do.
func (r *Report) exportProblem(fn string) string {
	if r.Kind == KindCommand {
		return ""
	}
	d, ok := r.funcs[fn]
	switch {
	case !ok:
		return fmt.Sprintf("module exports no function %q", fn)
	case !isRoutineSig(d):
		return fmt.Sprintf("export %q is %s, want (i32, i32) -> i64", fn, sigString(d))
	}
	return ""
}

func joinProblems(ps []string) string {
	sort.Strings(ps)
	return strings.Join(ps, "; ")
}
