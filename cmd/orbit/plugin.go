package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/orbit-sidecar/orbit/plugins"
)

// cmdPlugin is `orbit plugin inspect FILE.wasm`: what a module exports and
// imports, and whether Orbit can load it as a plugin. Exit 0 when it fits,
// 1 when it does not (or cannot be read), 2 on a usage error.
func cmdPlugin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "inspect" {
		fmt.Fprintln(stderr, "Usage: orbit plugin inspect [--json] [--cache DIR] FILE.wasm")
		return 2
	}
	fs := newFlags("plugin inspect", "[--json] [--cache DIR] FILE.wasm", stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	cache := fs.String("cache", "", "compilation cache directory (the sidecar's is <data dir>/wasm-cache)")
	pos, code, ok := parse(fs, args[1:])
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	wasm, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "orbit plugin inspect: %v\n", err)
		return 1
	}
	rep, err := plugins.Inspect(context.Background(), wasm, *cache)
	if err != nil {
		fmt.Fprintf(stderr, "orbit plugin inspect: %s: %v\n", pos[0], err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			*plugins.Report
			Fits bool `json:"fits"`
		}{rep, rep.Fits()})
	} else {
		writeReport(stdout, pos[0], rep)
	}
	if !rep.Fits() {
		return 1
	}
	return 0
}

func writeReport(w io.Writer, file string, rep *plugins.Report) {
	fmt.Fprintf(w, "module: %s\nkind:   %s\n", file, rep.Kind)
	if rep.ABIVersion != 0 {
		fmt.Fprintf(w, "abi:    %d\n", rep.ABIVersion)
	}
	fmt.Fprintln(w, "exports:")
	for _, e := range rep.Exports {
		mark := ""
		if e.Routine {
			mark = "  (callable as a routine or hook)"
		}
		fmt.Fprintf(w, "  %s%s\n", e, mark)
	}
	fmt.Fprintln(w, "imports:")
	for _, i := range rep.Imports {
		fmt.Fprintf(w, "  %s\n", i)
	}
	if rep.Fits() {
		fmt.Fprintf(w, "fits the Orbit plugin ABI (version %d)\n", plugins.ABIVersion)
		return
	}
	fmt.Fprintln(w, "does not fit the Orbit plugin ABI:")
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
