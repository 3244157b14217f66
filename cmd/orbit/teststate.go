package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func init() {
	register("test-state", "run one state of a workflow in isolation, with mocks, and print how it ends", cmdTestState)
}

// cmdTestState runs one state once (engine.TestState), as POST
// /v1/workflows/{name}/states/{state}/test does on a running sidecar, and
// prints the answer as JSON. It exits 1 when the state FAILED.
func cmdTestState(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test-state", "FILE_OR_DIR WORKFLOW STATE [--input JSON|@file] [--mock-result JSON|@file | --mock-error NAME [--mock-cause TEXT]] [--inspection-level INFO|DEBUG|TRACE]", stderr)
	input := fs.String("input", "null", "the state's input: JSON, or @file to read it from a file")
	ctxObj := fs.String("context", "", "the context object ($$) the state sees: JSON or @file; default: one describing this test")
	vars := fs.String("variables", "", "the variables in force: a JSON object or @file")
	mockResult := fs.String("mock-result", "", "the result of what the state calls, in place of the call: JSON or @file")
	mockError := fs.String("mock-error", "", "the error name of what the state calls, in place of the call")
	mockCause := fs.String("mock-cause", "", "the cause of --mock-error")
	level := fs.String("inspection-level", "INFO", "INFO, or DEBUG and TRACE to print the values the data flow went through")
	retries := fs.Int("retry-count", 0, "retries the retrier that takes the error has made already")
	failures := fs.Int("map-failures", 0, "failed items of a map state")
	errorState := fs.String("error-state", "", "the state inside a map or parallel that raised the mocked error")
	luaTimeout := fs.Duration("lua-timeout", 100*time.Millisecond, "longest a Lua call may run")
	env := scriptEnvFlag(fs)
	pos, code, ok := parseScripts(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 3 {
		fs.Usage()
		return 2
	}
	t := engine.StateTest{Workflow: pos[1], State: pos[2], Level: engine.InspectionLevel(*level),
		RetryCount: *retries, MapFailures: *failures, ErrorState: *errorState}
	for _, f := range []struct {
		value string
		to    *json.RawMessage
	}{{*input, &t.Input}, {*ctxObj, &t.Context}, {*vars, &t.Variables}} {
		if f.value == "" {
			continue
		}
		b, err := readInput(f.value)
		if err != nil {
			fmt.Fprintf(stderr, "orbit: %v\n", err)
			return 2
		}
		*f.to = b
	}
	switch {
	case *mockResult != "" && *mockError != "":
		fmt.Fprintln(stderr, "orbit: give --mock-result or --mock-error, not both")
		return 2
	case *mockResult != "":
		b, err := readInput(*mockResult)
		if err != nil {
			fmt.Fprintf(stderr, "orbit: %v\n", err)
			return 2
		}
		t.Mock = &engine.Mock{Result: b}
	case *mockError != "":
		t.Mock = &engine.Mock{Error: &flow.Error{Name: *mockError, Cause: *mockCause}}
	case *mockCause != "":
		fmt.Fprintln(stderr, "orbit: --mock-cause goes with --mock-error")
		return 2
	}
	cfg := sidecarConfig{LuaTimeout: *luaTimeout, ScriptEnv: env.env, Log: discardLog()}
	s, ctx, done, ok := runInProcess(pos[0], cfg, stderr)
	if !ok {
		return 1
	}
	defer done()
	res, err := s.engine.TestState(ctx, t)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if res.Status == engine.TestFailed {
		return 1
	}
	return 0
}
