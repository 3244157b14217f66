package main

import (
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
)

func init() {
	register("convert", "print a loaded workflow of any format as a Lua script or an ASL state machine", cmdConvert)
}

// cmdConvert loads a bundle (Lua, XML scenarios, ASL) and prints one of
// its workflows in the Lua DSL (with the http routines and observers it
// uses) or, with --to asl, as an Amazon States Language document, so a
// definition can move between formats.
func cmdConvert(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", "FILE_OR_DIR WORKFLOW [--to lua|asl]", stderr)
	to := fs.String("to", "lua", "the format to write: lua or asl")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	if *to != "lua" && *to != "asl" {
		fmt.Fprintf(stderr, "orbit: --to %s: convert writes lua or asl\n", *to)
		return 2
	}
	b, ok := loadBundle(pos[0], scriptOptions(sidecarConfig{Log: discardLog()}), stderr)
	if !ok {
		return 1
	}
	w := b.Workflows[pos[1]]
	if w == nil {
		fmt.Fprintf(stderr, "orbit: no workflow %q in %s\n", pos[1], pos[0])
		return 1
	}
	if *to == "asl" {
		return writeASL(b, w, stdout, stderr)
	}
	out, err := scripting.LuaScript(b, pos[1])
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

// writeASL prints w as an ASL document, and notes on stderr what the
// document leaves to the rest of the bundle: the routines it calls and
// the observers of the workflow, which ASL cannot declare.
func writeASL(b *flow.Bundle, w *flow.Workflow, stdout, stderr io.Writer) int {
	doc, err := asl.Document(b, w)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	body, err := doc.Indented()
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	stdout.Write(body)
	var routines []string
	for _, m := range w.Machines {
		for _, st := range m.States {
			if st.RoutineName != "" && !slices.Contains(routines, st.RoutineName) {
				routines = append(routines, st.RoutineName)
			}
		}
	}
	sort.Strings(routines)
	if len(routines) > 0 && w.Definition == nil {
		fmt.Fprintf(stderr, "orbit: note: the state machine calls the routines %q; the bundle that runs it must define them\n", routines)
	}
	for _, o := range b.Observers {
		if o.Workflow == w.Name {
			fmt.Fprintf(stderr, "orbit: note: ASL has no observers; keep observer %q (%s of %s) as observe{...} in a Lua file\n",
				cmpOr(o.Name, o.RoutineName), o.On, cmpOr(o.State, "the workflow"))
		}
	}
	return 0
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
