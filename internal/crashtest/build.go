package crashtest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// A fault build is orbit built with the tag orbitfault (internal/fault), so
// that ORBIT_FAULT can kill it at a named point. Points in Orbit's own code
// need nothing more. Points inside a dependency need that dependency
// patched: bbolt marks the places between its page writes and syncs with
// failpoint comments ("// gofail: var NAME struct{}", which its own tests
// turn into code with the gofail tool); the fault build does the same, in a
// copy of the module, turning each comment into a call of bbolt.FaultHook.
// The copy replaces the module through an alternative go.mod, so the
// module cache, the repository and every normal build stay untouched.

// patch is a dependency a fault build compiles from a patched copy.
type patch struct {
	module string
	// edit rewrites the copy in place, in dir.
	edit func(dir string) error
}

var patches = []patch{{module: "go.etcd.io/bbolt", edit: patchBbolt}}

// failpoint matches a gofail comment and keeps its indentation and name.
var failpoint = regexp.MustCompile(`(?m)^(\s*)// gofail: var (\w+) .*$`)

// bboltFailpoints are the failpoints of bbolt's commit that store/bolt's
// fault points stand on (store/bolt/fault_bbolt.go). A bbolt that lost one
// fails the build here rather than silently never killing there.
var bboltFailpoints = []string{"beforeSyncDataPages", "beforeWriteMetaError", "beforeSyncMetaPage"}

const bboltHook = `package bbolt

// FaultHook is called at each failpoint of this copy of bbolt, which
// Orbit's fault build made from the gofail comments of the original.
var FaultHook func(name string)

func orbitFault(name string) {
	if FaultHook != nil {
		FaultHook(name)
	}
}
`

func patchBbolt(dir string) error {
	path := filepath.Join(dir, "tx.go")
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, name := range bboltFailpoints {
		if !strings.Contains(string(src), "// gofail: var "+name+" ") {
			return fmt.Errorf("bbolt's tx.go has no failpoint %s", name)
		}
	}
	src = failpoint.ReplaceAll(src, []byte(`${1}orbitFault("${2}")`))
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "orbit_fault.go"), []byte(bboltHook), 0o644)
}

var (
	faultOnce sync.Once
	faultMod  string
	faultErr  error
)

// faultBinary builds orbit for fault injection, once per test process.
func faultBinary(tb testing.TB) string {
	tb.Helper()
	faultOnce.Do(func() { faultMod, faultErr = faultModFile() })
	if faultErr != nil {
		tb.Fatalf("prepare the fault build: %v", faultErr)
	}
	return orbittest.Build(tb, orbittest.OrbitPackage, orbittest.BuildOptions{Tags: []string{"orbitfault"}, ModFile: faultMod})
}

// faultModFile copies and patches every patched dependency into a
// temporary directory and writes a go.mod that points to the copies.
func faultModFile() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	tmp, err := orbittest.MkdirTemp("orbit-fault-")
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, p := range patches {
		dir, err := moduleDir(p.module)
		if err != nil {
			return "", err
		}
		copyDir := filepath.Join(tmp, strings.ReplaceAll(p.module, "/", "_"))
		if err := copySources(dir, copyDir); err != nil {
			return "", fmt.Errorf("copy %s: %w", p.module, err)
		}
		if err := p.edit(copyDir); err != nil {
			return "", fmt.Errorf("patch %s: %w", p.module, err)
		}
		mod = fmt.Appendf(mod, "\nreplace %s => %s\n", p.module, copyDir)
	}
	modFile := filepath.Join(tmp, "go.mod")
	if err := os.WriteFile(modFile, mod, 0o644); err != nil {
		return "", err
	}
	sum, err := os.ReadFile(strings.TrimSuffix(gomod, ".mod") + ".sum")
	if err != nil {
		return "", err
	}
	return modFile, os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644)
}

// moduleDir is where the build list's version of a module lies.
func moduleDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go list -m %s: no directory (%v)", module, err)
	}
	return m.Dir, nil
}

// copySources copies a module's go.mod and Go sources, without tests, into
// a writable directory.
func copySources(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if d.Name() == "testdata" || rel == "cmd" || rel == "tests" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !(strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") || d.Name() == "go.mod") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}
