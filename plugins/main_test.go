package plugins_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
)

// built holds the modules compiled from source once for the package.
var built *pluginstest.Built

func TestMain(m *testing.M) {
	var err error
	if built, err = pluginstest.Build(); err != nil {
		log.Fatal(err)
	}
	code := m.Run()
	built.Remove()
	os.Exit(code)
}

// addPlugin writes a plugin folder into dir: the manifest (module defaults
// to the file's base name) and a copy of the module.
func addPlugin(t testing.TB, dir string, manifest map[string]any, module string) {
	t.Helper()
	name := fmt.Sprint(manifest["name"])
	sub := filepath.Join(dir, name)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := manifest["module"]; !ok {
		manifest["module"] = filepath.Base(module)
	}
	raw, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, plugins.ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if module != "" {
		wasm, err := os.ReadFile(module)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, filepath.Base(module)), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// logBuffer collects what plugins log, for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// open loads dir with the shared compilation cache and test doubles; logs
// go to w (nil: discarded).
func open(t testing.TB, dir string, kv plugins.KV, poolSize int, w io.Writer) *plugins.Host {
	t.Helper()
	if w == nil {
		w = io.Discard
	}
	h, err := plugins.Open(dir, plugins.Options{
		CacheDir: built.CacheDir,
		HTTP:     httpcall.NewClient(),
		KV:       kv,
		Logger:   slog.New(slog.NewTextHandler(w, nil)),
		PoolSize: poolSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(t.Context()) })
	return h
}
