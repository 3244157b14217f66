// Package pluginstest builds Orbit's example and test plugins from source
// for tests in any package, and gives them an in-memory key-value store.
//
//	func TestMain(m *testing.M) {
//		b, err := pluginstest.Build()
//		if err != nil { log.Fatal(err) }
//		code := m.Run()
//		b.Remove()
//		os.Exit(code)
//	}
//
// Then plugins.Open(b.Examples(t, riskURL), plugins.Options{CacheDir: b.CacheDir, KV: pluginstest.NewKV()})
// loads the examples, fraud pointed at a test risk service: routine
// fraud.score, a hook on place_order's Save state that keeps
// "audit/<instance>" in namespace "audit", and luhn's card.check (in C).
package pluginstest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// Built is where Build put the modules.
type Built struct {
	PluginsDir string // a plugins directory with the examples: fraud/, audit/, luhn/
	ModulesDir string // the test modules: guest.wasm, cguest.wasm (reactors), command.wasm, cguest-command.wasm (commands)
	CacheDir   string // a compilation cache that outlives the test process
	tmp        string
	users      int // callers of Build that have not called Remove yet
}

var (
	mu    sync.Mutex
	built *Built
)

// Build runs plugins/build.sh once per process into a temporary directory,
// shared by every caller until the last of them calls Remove (tests that
// run in parallel each build and remove). The compilation cache lives in
// the user's cache directory (or $ORBIT_TEST_WASM_CACHE), so that only the
// first run of a machine pays for compiling a Go guest — about 1.5 s, or
// 15 s under -race.
func Build() (*Built, error) {
	mu.Lock()
	defer mu.Unlock()
	if built == nil {
		b, err := build()
		if err != nil {
			return nil, err
		}
		built = b
	}
	built.users++
	return built, nil
}

func build() (*Built, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("pluginstest: cannot locate the sources")
	}
	script := filepath.Join(filepath.Dir(file), "..", "build.sh")
	tmp, err := os.MkdirTemp("", "orbit-plugins-")
	if err != nil {
		return nil, err
	}
	b := &Built{PluginsDir: filepath.Join(tmp, "plugins.d"), ModulesDir: filepath.Join(tmp, "modules"), tmp: tmp}
	cmd := exec.Command("bash", script, b.PluginsDir, b.ModulesDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("pluginstest: %s: %v\n%s", script, err, out)
	}
	b.CacheDir = os.Getenv("ORBIT_TEST_WASM_CACHE")
	if b.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			b.CacheDir = filepath.Join(dir, "orbit-test", "wasm-cache")
		} else {
			b.CacheDir = filepath.Join(tmp, "wasm-cache")
		}
	}
	return b, nil
}

// Remove deletes the built modules (not the shared compilation cache) once
// every caller of Build has called it.
func (b *Built) Remove() {
	if b == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if b.users--; b.users > 0 {
		return
	}
	if built == b {
		built = nil
	}
	_ = os.RemoveAll(b.tmp)
}

// Module is the path of a test module by name ("guest", "cguest",
// "command", "cguest-command").
func (b *Built) Module(name string) string { return filepath.Join(b.ModulesDir, name+".wasm") }

// Examples copies the built examples into a fresh plugins directory, with
// the fraud plugin's endpoint and allow-list pointed at riskURL (a test
// server answering POST /score with {"risk": n}).
func (b *Built) Examples(tb testing.TB, riskURL string) string {
	tb.Helper()
	dir := tb.TempDir()
	u, err := url.Parse(riskURL)
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{"fraud", "audit", "luhn"} {
		var m map[string]any
		raw, err := os.ReadFile(filepath.Join(b.PluginsDir, name, "plugin.json"))
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatal(err)
		}
		if name == "fraud" {
			m["allowed_hosts"] = []string{u.Host}
			m["config"] = map[string]string{"endpoint": riskURL, "threshold": "0.8"}
		}
		AddPlugin(tb, dir, m, filepath.Join(b.PluginsDir, name, name+".wasm"))
	}
	return dir
}

// AddPlugin writes a plugin folder dir/<name>: the manifest (its module
// defaults to the module file's name) and a copy of the module, if any.
func AddPlugin(tb testing.TB, dir string, manifest map[string]any, module string) {
	tb.Helper()
	sub := filepath.Join(dir, fmt.Sprint(manifest["name"]))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatal(err)
	}
	if _, ok := manifest["module"]; !ok {
		manifest["module"] = filepath.Base(module)
	}
	raw, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "plugin.json"), raw, 0o644); err != nil {
		tb.Fatal(err)
	}
	if module == "" {
		return
	}
	wasm, err := os.ReadFile(module)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, filepath.Base(module)), wasm, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// KV is an in-memory plugins.KV, safe for concurrent use.
type KV struct {
	mu   sync.Mutex
	data map[string][]byte
}

// NewKV returns an empty store.
func NewKV() *KV { return &KV{data: map[string][]byte{}} }

// KVGet returns a copy of the value, or store.ErrNotFound.
func (k *KV) KVGet(ns, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.data[ns+"\x00"+key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// KVPut stores a copy of the value; nil deletes the key.
func (k *KV) KVPut(ns, key string, value []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if value == nil {
		delete(k.data, ns+"\x00"+key)
		return nil
	}
	k.data[ns+"\x00"+key] = append([]byte{}, value...)
	return nil
}

// KVUsage adds up the lengths of a namespace's keys and values.
func (k *KV) KVUsage(ns string) (int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var n int64
	for full, v := range k.data {
		if key, ok := strings.CutPrefix(full, ns+"\x00"); ok {
			n += int64(len(key) + len(v))
		}
	}
	return n, nil
}

// Keys lists the keys of a namespace, for assertions.
func (k *KV) Keys(ns string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for full := range k.data {
		if key, ok := strings.CutPrefix(full, ns+"\x00"); ok {
			out = append(out, key)
		}
	}
	return out
}
