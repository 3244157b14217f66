package plugins_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins"
)

func TestInspect(t *testing.T) {
	inspect := func(t *testing.T, wasm []byte) *plugins.Report {
		t.Helper()
		rep, err := plugins.Inspect(context.Background(), wasm, built.CacheDir)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for _, module := range guests {
		t.Run("reactor "+module, func(t *testing.T) {
			wasm, err := os.ReadFile(built.Module(module))
			if err != nil {
				t.Fatal(err)
			}
			rep := inspect(t, wasm)
			if !rep.Fits() || rep.Kind != plugins.KindReactor || rep.ABIVersion != plugins.ABIVersion {
				t.Fatalf("report = %+v", rep)
			}
			routines := map[string]bool{}
			for _, e := range rep.Exports {
				routines[e.Name] = e.Routine
			}
			if !routines["echo"] || routines["wrong_shape"] || routines["orbit_alloc"] {
				t.Fatalf("routine-shaped exports = %v", routines)
			}
		})
	}
	for _, module := range []string{"command", "cguest-command"} {
		t.Run(module, func(t *testing.T) {
			wasm, err := os.ReadFile(built.Module(module))
			if err != nil {
				t.Fatal(err)
			}
			if rep := inspect(t, wasm); !rep.Fits() || rep.Kind != plugins.KindCommand {
				t.Fatalf("report = %+v", rep)
			}
		})
	}
	t.Run("not a plugin", func(t *testing.T) {
		rep := inspect(t, []byte("\x00asm\x01\x00\x00\x00"))
		all := strings.Join(rep.Problems, "\n")
		if rep.Fits() || !strings.Contains(all, "memory") || !strings.Contains(all, "orbit_abi_version") || !strings.Contains(all, "orbit_alloc") {
			t.Fatalf("problems = %v", rep.Problems)
		}
	})
	t.Run("not wasm", func(t *testing.T) {
		if _, err := plugins.Inspect(context.Background(), []byte("hello"), ""); err == nil {
			t.Fatal("Inspect accepted bytes that are not WebAssembly")
		}
	})
}
