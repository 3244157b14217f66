package scripting

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// FuzzLoadSources loads arbitrary Lua as a one-file bundle. Whatever the
// file holds, loading ends (within its time limit) with either a bundle the
// validator accepts or problems that each name the file and a line of it;
// loading the same file twice gives the same answer.
func FuzzLoadSources(f *testing.F) {
	f.Add([]byte(`routine "echo" { lua = function(input, ctx) return input end }
workflow "w" { start = "A", states = { A = task { routine = "echo", next = "B" }, B = succeed {} } }`))
	opt := Options{LuaTimeout: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, src []byte) {
		files := []flow.Source{{Path: "fuzz.lua", Body: src}}
		b, err := LoadSources(files, opt)
		lines := countLines(src)
		if err != nil {
			var ps flow.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("load failed with %T %v, not problems", err, err)
			}
			for _, p := range ps {
				if p.Pos.File != "fuzz.lua" || p.Pos.Line < 1 || p.Pos.Line > lines {
					t.Fatalf("problem %q is not at a line of fuzz.lua (%d lines)", p, lines)
				}
			}
			if b != nil {
				t.Fatal("a bundle came back with problems")
			}
			if _, again := LoadSources(files, opt); !sameProblems(err, again) {
				t.Fatalf("a second load answered\n%v\nthe first\n%v", again, err)
			}
			return
		}
		if ps := flow.Validate(b); len(ps) > 0 {
			t.Fatalf("loaded bundle does not validate: %v", ps)
		}
		again, err := LoadSources(files, opt)
		if err != nil {
			t.Fatalf("first load succeeded, second failed: %v", err)
		}
		if again.Hash != b.Hash || !slices.Equal(workflowNames(again), workflowNames(b)) {
			t.Fatalf("two loads of one file differ: %s %v and %s %v", b.Hash, workflowNames(b), again.Hash, workflowNames(again))
		}
	})
}

// countLines counts lines as an editor shows them: \r\n, \n\r, \n and \r
// each end one.
func countLines(src []byte) int {
	n := 1
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' || src[i] == '\r' {
			if i+1 < len(src) && src[i+1] != src[i] && (src[i+1] == '\n' || src[i+1] == '\r') {
				i++
			}
			n++
		}
	}
	return n
}

func workflowNames(b *flow.Bundle) []string {
	var names []string
	for name := range b.Workflows {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// sameProblems compares two loads' problems; a script stopped for running
// too long may be stopped at another line the second time, so those
// compare by count only.
func sameProblems(a, b error) bool {
	var pa, pb flow.Problems
	if !errors.As(a, &pa) || !errors.As(b, &pb) {
		return false
	}
	if reflect.DeepEqual(pa, pb) {
		return true
	}
	for _, ps := range []flow.Problems{pa, pb} {
		for _, p := range ps {
			if bytes.Contains([]byte(p.Message), []byte("ran longer than")) {
				return len(pa) == len(pb)
			}
		}
	}
	return false
}
