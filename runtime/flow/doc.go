// Package flow is Orbit's workflow model: states, rules, retriers, catchers,
// paths, validation and graph export.
//
// It is pure data plus a few small interfaces (Expr, Cond, Routine). Lua and
// WebAssembly live behind those interfaces in other packages, so the engine
// can be driven by plain Go functions in tests and a new routine kind is one
// new type.
//
// Data flowing through a workflow is a decoded JSON value: nil, bool,
// float64, string, []any or map[string]any.
package flow
