package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// What one Lua call may use (docs/scripts.md, "Security"). Every library
// function that can allocate in proportion to its arguments checks its
// result's size against these before it allocates, so a script gets a Lua
// error where it would otherwise ask Go for gigabytes and kill the process.
const (
	// maxString is the longest string a script can make: by `..`,
	// string.rep, string.format, string.gsub, table.concat, json.encode.
	maxString = 16 << 20
	// maxCallAlloc bounds the bytes of strings and JSON-decoded tables that
	// library functions and `..` create during one call, garbage included:
	// what a call can hold is never more than what it has made.
	maxCallAlloc = 128 << 20
	// maxResults bounds the values unpack and string.byte return at once;
	// it is Lua 5.1's own limit (LUAI_MAXCSTACK).
	maxResults = 8000
	// maxValues bounds the values of one conversion to or from JSON
	// (json.encode and json.decode, a function's result, a logged table),
	// which shared sub-tables would otherwise multiply without end.
	maxValues = 1 << 20
	// maxArray is where a table's array part ends: larger integer keys go
	// to its hash part, so `t[60000000] = 1` cannot allocate 60 million
	// slots in one instruction. Every array a conversion allows fits.
	maxArray = maxValues + 1
	// registryMax bounds a state's value stack (16 bytes a slot); it is
	// never given back, and a pool keeps up to maxIdle states.
	registryMax = 1 << 16
	// registryGrowStep makes the stack grow in few steps: gopher-lua's
	// default of 32 slots copies the whole stack for every 32 values
	// pushed, which made unpack of 60,000 values take seconds.
	registryGrowStep = 4096
	// pollEvery is how many steps of a long loop inside a library call
	// (pattern matching, sorting, converting) run between two checks of
	// the call's deadline: the VM checks it only between instructions.
	pollEvery = 1024
)

func init() {
	// A process-wide setting of gopher-lua, read by every table.
	lua.MaxArrayIndex = maxArray
}

// decodedValueCost is what json.decode charges for each value it may
// create, beyond the text: a Lua table is over a hundred bytes.
const decodedValueCost = 64

// alloc charges n bytes the running call is about to create, raising a
// Lua error instead when one string would be longer than maxString or the
// call would pass maxCallAlloc. Callers allocate only after it returns.
func (v *vm) alloc(what string, n int) {
	if n > maxString || n < 0 {
		v.L.RaiseError("%s: the result would be longer than %s, the most a string may hold", what, sizeText(maxString))
	}
	v.charge(what, n)
}

// charge counts n bytes against the call's maxCallAlloc, raising a Lua
// error instead when they do not fit.
func (v *vm) charge(what string, n int) {
	if v.allocated += n; v.allocated > maxCallAlloc || n < 0 {
		v.L.RaiseError("%s: this call has created more than %s of strings and tables, the most one call may", what, sizeText(maxCallAlloc))
	}
}

// argument converts a call's argument to Lua, refusing more than
// maxValues values (a large --max-payload allows more).
func (v *vm) argument(x any) (lua.LValue, error) {
	v.made = 0
	lv := v.toLua(x)
	if v.made > maxValues {
		return nil, flow.Errorf(flow.ErrRuntime, "the input has more than %d values, the most a Lua function takes", maxValues)
	}
	return lv, nil
}

// poll raises the deadline's error once the call has been stopped (it ran
// out of time or its caller gave up). Library loops that can run long call
// it every pollEvery steps; the VM checks only between instructions.
func (v *vm) poll() {
	if v.dl.stopped() {
		v.L.RaiseError("%s", v.dl.Err())
	}
}

// sizeText writes a byte count the way the docs do.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
