package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/store"
)

func init() {
	register("run", "run one instance to its end in-process and print its output", cmdRun)
	register("validate", "check a bundle and print each problem as file:line: message", cmdValidate)
	register("graph", "print a workflow's state diagram (DOT, Mermaid or SVG)", cmdGraph)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "FILE_OR_DIR WORKFLOW [--input JSON|@file] [--json]", stderr)
	input := fs.String("input", "null", "instance input: JSON, or @file to read it from a file")
	asJSON := fs.Bool("json", false, "print the whole instance as one JSON object")
	luaTimeout := fs.Duration("lua-timeout", 100*time.Millisecond, "longest a Lua call may run")
	verbose := fs.Bool("v", false, "log what the engine does to stderr")
	data := fs.String("data", "", "keep instances in this bbolt file instead of a temporary one; running again resumes them")
	id := fs.String("id", "", "instance id; with --data, running again with the same id resumes that instance")
	env := scriptEnvFlag(fs)
	pos, code, ok := parseScripts(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	in, err := readInput(*input)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := sidecarConfig{Data: *data, LuaTimeout: *luaTimeout, ScriptEnv: env.env, Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	s, ctx, done, ok := runInProcess(pos[0], cfg, stderr)
	if !ok {
		return 1
	}
	defer done()
	inst, _, err := s.engine.Start(ctx, pos[1], engine.StartOptions{ID: *id, Input: in})
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	started := inst.ID
	inst, err = waitForEnd(ctx, s.engine, started, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		if *data == "" {
			fmt.Fprintf(stderr, "orbit: instance %s is lost with the temporary store it ran in; run with --data FILE --id ID to keep an instance and resume it by running again\n", started)
		}
		return 1
	}
	if *asJSON {
		out, _ := json.Marshal(store.View(inst.Public))
		fmt.Fprintln(stdout, string(out))
	} else if inst.Status == store.Succeeded {
		fmt.Fprintln(stdout, string(inst.Output))
	}
	if inst.Status != store.Succeeded {
		fmt.Fprintf(stderr, "%s: %s\n", inst.Error, inst.Cause)
		return 1
	}
	return 0
}

// waitForEnd waits for the instance to end, printing a status line to
// stderr whenever it starts waiting. An instance that waits for an event
// cannot go on here (nothing can deliver it), so that ends the run.
func waitForEnd(ctx context.Context, e *engine.Engine, id string, stderr io.Writer) (*store.Instance, error) {
	last := ""
	for {
		tick, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		inst, err := e.Wait(tick, id)
		cancel()
		switch {
		case err != nil:
			return nil, err
		case inst.Status.Terminal():
			return inst, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("interrupted; instance %s was %s", id, inst.Status)
		case inst.Status == store.Waiting && inst.Waiting != nil && inst.Waiting.Kind == store.WaitEvent:
			return nil, fmt.Errorf("instance %s waits in state %s for event %q, which only a running sidecar (orbit serve) can deliver",
				id, inst.State, inst.Waiting.Event)
		}
		if status := describeWait(inst); status != last && status != "" {
			fmt.Fprintf(stderr, "orbit: instance %s %s\n", id, status)
			last = status
		}
	}
}

// describeWait says in words what a waiting instance waits for.
func describeWait(in *store.Instance) string {
	w := in.Waiting
	if w == nil {
		return ""
	}
	until := ""
	if w.Until != nil {
		until = " until " + store.FormatTime(*w.Until)
	}
	switch w.Kind {
	case store.WaitTimer:
		return fmt.Sprintf("waits in state %s: timer%s", in.State, until)
	case store.WaitRetry:
		return fmt.Sprintf("waits in state %s: retry attempt %d after %s%s", in.State, w.Attempt, w.Error, until)
	case store.WaitChild:
		return fmt.Sprintf("waits in state %s: child instance %s", in.State, w.Instance)
	default:
		return fmt.Sprintf("waits in state %s: %s", in.State, w.Kind)
	}
}
