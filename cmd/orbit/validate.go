package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/diagram"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "FILE_OR_DIR [--script-env LIST]", stderr)
	env := scriptEnvFlag(fs)
	pos, code, ok := parseScripts(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	cfg := sidecarConfig{Log: discardLog(), ScriptEnv: env.env}
	b, ok := loadBundle(pos[0], scriptOptions(cfg), stdout)
	if !ok {
		return 1
	}
	names := make([]string, 0, len(b.Workflows))
	for n := range b.Workflows {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "ok: %d workflows (%s), %d routines, bundle %s\n", len(names), strings.Join(names, ", "), len(b.Routines), short(b.Hash))
	return 0
}

func cmdGraph(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("graph", "FILE_OR_DIR WORKFLOW [--format dot|mermaid|svg] [--script-env LIST]", stderr)
	format := fs.String("format", "dot", "dot, mermaid or svg (a picture, laid out by Orbit itself)")
	env := scriptEnvFlag(fs)
	pos, code, ok := parseScripts(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 || (*format != "dot" && *format != "mermaid" && *format != "svg") {
		fs.Usage()
		return 2
	}
	b, ok := loadBundle(pos[0], scriptOptions(sidecarConfig{Log: discardLog(), ScriptEnv: env.env}), stderr)
	if !ok {
		return 1
	}
	wf := b.Workflows[pos[1]]
	if wf == nil {
		fmt.Fprintf(stderr, "orbit: no workflow %q in %s\n", pos[1], pos[0])
		return 1
	}
	d := diagram.New(wf, b.Observers...)
	switch *format {
	case "mermaid":
		fmt.Fprint(stdout, diagram.Mermaid(d))
	case "svg":
		stdout.Write(diagram.SVG(d))
	default:
		fmt.Fprint(stdout, diagram.DOT(d))
	}
	return 0
}

// short is a bundle hash as Orbit prints it.
func short(hash string) string {
	if len(hash) > shortHash {
		return hash[:shortHash]
	}
	return hash
}

// shortHash is how many characters of a bundle hash Orbit prints, as git
// prints a commit's.
const shortHash = 12

// shortVersion prints a workflow's version for a table: a bundle hash (the
// version of a workflow without a label) shortened, a label whole.
func shortVersion(v string) string {
	if len(v) == hex.EncodedLen(sha256.Size) && strings.Trim(v, "0123456789abcdef") == "" {
		return short(v)
	}
	return v
}
