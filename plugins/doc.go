// Package plugins runs Orbit's WebAssembly plugins (SPEC 4) on wazero:
// service adapters and extension hooks that third parties ship as a .wasm
// module plus a plugin.json manifest, sandboxed so that they cannot hurt
// the sidecar.
//
// Open loads a plugins directory: every manifest is validated, every
// module compiled once through an on-disk compilation cache (a Go guest
// takes seconds to compile and milliseconds to load from the cache),
// checked against the ABI (abi.go) and started once; then, with an
// on-disk cache, parked: its code and instance freed until its first call
// compiles it again from the cache. Each plugin has a pool of instances,
// made as calls need them. The Host then hands the scripting layer flow.Routines:
// Func for `wasm = { plugin, func }` routines, Routines for those the
// manifests declare, and Hooks for the manifests' observers.
//
// Manifests are held to the operator's ceilings (Limits). Every call runs
// under the manifest's timeout and memory cap, and what it hands the host
// is bounded before the host copies it: log output per call (output.go),
// replies, keys and values, and the plugin's key-value space (kvquota.go).
// A trap, an
// exceeded cap or a missing export is a task error (Plugin.Trap,
// Plugin.Timeout, Plugin.MemoryLimit, Plugin.NotFound), and the instance
// it happened in is discarded; the next call gets a fresh one. A named
// error in the guest's reply is a *flow.Error with the guest's name.
//
// Reload: open a new Host for the changed directory, then close the old
// one, which waits for its calls in flight. Routines taken from a Host stay
// bound to it (after Close they fail with Plugin.NotFound); Live holds the
// current Host and hands out routines that follow every Replace, so a
// bundle loaded once keeps working across plugin reloads.
//
// plugins/pdk is the authoring kit for Go (and orbit.h for C);
// plugins/pluginstest builds the example and test modules for tests.
package plugins
