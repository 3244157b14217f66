package main

import (
	"fmt"
	"io"

	"github.com/orbit-sidecar/orbit/scripting"
)

func init() {
	register("convert", "print a loaded workflow of any format as a Lua script", cmdConvert)
}

// cmdConvert loads a bundle (Lua, XML scenarios, ASL) and prints one of
// its workflows in the Lua DSL, with the http routines and observers it
// uses, so a definition can move to Lua.
func cmdConvert(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", "FILE_OR_DIR WORKFLOW [--to lua]", stderr)
	to := fs.String("to", "lua", "the format to write: lua")
	env := scriptEnvFlag(fs)
	pos, code, ok := parseScripts(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	if *to != "lua" {
		fmt.Fprintf(stderr, "orbit: --to %s: convert writes lua\n", *to)
		return 2
	}
	b, ok := loadBundle(pos[0], scriptOptions(sidecarConfig{Log: discardLog(), ScriptEnv: env.env}), stderr)
	if !ok {
		return 1
	}
	if b.Workflows[pos[1]] == nil {
		fmt.Fprintf(stderr, "orbit: no workflow %q in %s\n", pos[1], pos[0])
		return 1
	}
	out, err := scripting.LuaScript(b, pos[1])
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}
