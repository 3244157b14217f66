package scripting

import (
	"context"
	"reflect"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// isolationBundle has an attacker routine that tries, one way per call, to
// change what later calls of the same interpreter see, and a victim that
// reports what it sees. Two workflows of a bundle share its interpreters.
const isolationBundle = `
helper = "bundle"                      -- a global of the bundle itself
function string.shout(s) return s:upper() .. "!" end  -- libraries may grow at load time

local attacks = {
  global = function(input) leaked = input.secret end,
  rawset_global = function(input) rawset(_G, "leaked", input.secret) end,
  replace_global = function(input) helper = input.secret end,
  replace_json = function(input) json.encode = function() return input.secret end end,
  replace_string = function(input) string.upper = function() return input.secret end end,
  string_metatable = function(input) getmetatable("").__index = function() return input.secret end end,
  rawset_string_metatable = function(input) rawset(getmetatable(""), "upper", function() return input.secret end) end,
  rawset_library = function(input) rawset(json, "encode", function() return input.secret end) end,
  insert_into_library = function(input) table.insert(string, input.secret) end,
  insert_into_globals = function(input) table.insert(_G, input.secret) end,
  globals_metatable = function(input) setmetatable(_G, { __index = function() return input.secret end }) end,
  number_metatable = function(input) setmetatable(1, { __index = function() return input.secret end }) end,
  json_null_metatable = function(input) setmetatable(json.null, { __index = function() return input.secret end }) end,
  array_globals = function(input) json.array(_G) end,
  sort_library = function(input) table.sort(math) end,
}

routine "attack" { lua = function(input) attacks[input.how](input) return "done" end }

routine "victim" {
  lua = function(input)
    -- Numbers and json.null have no metatable: indexing them fails.
    local function index(v) local ok, got = pcall(function() return v.secret end) return ok and got or "none" end
    return {
      leaked = leaked or rawget(_G, "leaked") or "none",
      helper = helper,
      encoded = json.encode({ 1 }),
      upper = ("abc"):upper(),
      shout = ("abc"):shout(),
      index = index(1),
      null = index(json.null),
      first = string[1] or _G[1] or "none",
      missing = missing_global or "none",
      max = math.max(1, 2),
    }
  end,
}
`

// Every call sees the environment the bundle built, whatever an earlier
// call on the same interpreter did to it; one workflow read another
// instance's input from a global left in a pooled state.
func TestEachCallSeesACleanEnvironment(t *testing.T) {
	want := map[string]any{"leaked": "none", "helper": "bundle", "encoded": "[1]", "upper": "ABC", "shout": "ABC!",
		"index": "none", "null": "none", "first": "none", "missing": "none", "max": 2.0}
	ctx := context.Background()
	for _, how := range []string{"global", "rawset_global", "replace_global", "replace_json", "replace_string",
		"string_metatable", "rawset_string_metatable", "rawset_library", "insert_into_library", "insert_into_globals",
		"globals_metatable", "number_metatable", "json_null_metatable", "array_globals", "sort_library"} {
		b, err := LoadSources([]flow.Source{{Path: "iso.lua", Body: []byte(isolationBundle)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Errors are fine (most attempts are refused); leaks are not.
		_, _ = b.Routines["attack"].Call(ctx, map[string]any{"how": how, "secret": "tenant-A-secret"}, nil)
		got, err := b.Routines["victim"].Call(ctx, nil, nil)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("after %s: %v, %v", how, got, err)
		}
	}
}

// A call's own globals work within the call, as in any Lua.
func TestGlobalsWithinACall(t *testing.T) {
	r := loadRoutine(t, Options{}, `
count = 0
for i = 1, 3 do count = count + 1 end
rawset(_G, "raw", "r")
return { count = count, raw = raw, rawget = rawget(_G, "raw"), lib = rawget(_G, "string") ~= nil }`)
	for range 2 { // the second call starts from scratch again
		got, err := r.Call(context.Background(), nil, nil)
		want := map[string]any{"count": 3.0, "raw": "r", "rawget": "r", "lib": true}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("globals in a call: %v, %v", got, err)
		}
	}
}

// Changing a library during a call is refused with a message that says
// why and what to do instead.
func TestLibrariesAreReadOnlyDuringCalls(t *testing.T) {
	r := loadRoutine(t, Options{}, `json.encode = nil`)
	_, err := r.Call(context.Background(), nil, nil)
	wantError(t, err, flow.ErrTaskFailed,
		"r.lua:2: json cannot be changed during a call: every call of the workflow shares it (set encode at the top of a file instead)")
}
