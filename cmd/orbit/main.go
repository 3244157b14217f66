// Command orbit is the Orbit workflow sidecar: it serves the HTTP API, runs
// and validates bundles, draws workflows, benchmarks itself, and is a
// client of a running sidecar.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
)

// command is one subcommand: it parses its own flags and returns the exit
// code (0 success, 1 failure, 2 usage).
type command struct {
	run     func(args []string, stdout, stderr io.Writer) int
	summary string
}

var commands = map[string]command{}

func init() {
	register("plugin", "inspect a WebAssembly module: exports, imports, ABI fit", cmdPlugin)
}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{run: run, summary: summary}
}

func main() {
	runtime.MemProfileRate = heapProfileRate(false, os.Getenv("GODEBUG")) // serve --pprof turns it back on
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "orbit: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: orbit <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'orbit <command> -h' for a command's flags.")
}
