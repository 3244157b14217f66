package api

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/store"
)

// Every sentinel error the engine declares answers with a status of its
// own, never the 500 of an internal fault. The list is read from the
// engine's source, so a new sentinel fails this test until it is mapped.
func TestEverySentinelErrorHasAStatus(t *testing.T) {
	sentinels := map[string]error{
		"ErrUnknownWorkflow": engine.ErrUnknownWorkflow,
		"ErrUnknownState":    engine.ErrUnknownState,
		"ErrConflict":        engine.ErrConflict,
		"ErrEnded":           engine.ErrEnded,
		"ErrNotEnded":        engine.ErrNotEnded,
		"ErrNotPaused":       engine.ErrNotPaused,
		"ErrPayloadTooLarge": engine.ErrPayloadTooLarge,
		"ErrBadID":           engine.ErrBadID,
		"ErrBadInput":        engine.ErrBadInput,
		"ErrCannotMigrate":   engine.ErrCannotMigrate,
		"ErrTooManyEvents":   engine.ErrTooManyEvents,
		"ErrNotAwaitable":    engine.ErrNotAwaitable,
		"ErrClosed":          engine.ErrClosed,
		"ErrUnavailable":     engine.ErrUnavailable,
	}
	declared := declaredErrors(t, "../engine/errors.go")
	if got, want := declared, slices.Sorted(maps.Keys(sentinels)); !slices.Equal(got, want) {
		t.Fatalf("the engine declares %v; this test knows %v: map the new ones in errors.go and list them here", got, want)
	}
	sentinels["store.ErrNotFound"] = store.ErrNotFound
	for name, err := range sentinels {
		a := engineAnswer(fmt.Errorf("some context: %w", err))
		if a.status == fasthttp.StatusInternalServerError || a.code == CodeInternal || a.message == "" {
			t.Errorf("%s answers %d %s %q", name, a.status, a.code, a.message)
		}
		if a.status == fasthttp.StatusServiceUnavailable && a.retryAfter == "" {
			t.Errorf("%s answers 503 without Retry-After", name)
		}
	}
}

// declaredErrors lists the package-level Err* variables of a Go file.
func declaredErrors(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			for _, n := range spec.(*ast.ValueSpec).Names {
				if len(n.Name) > 3 && n.Name[:3] == "Err" {
					names = append(names, n.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}
