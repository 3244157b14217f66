package plugins_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
	"github.com/orbit-sidecar/orbit/runtime/flow"
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

// addPlugin is pluginstest.AddPlugin, short for the many tests here.
var addPlugin = pluginstest.AddPlugin

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

// sameValue reports whether two values are the same JSON. A plugin's
// answer keeps its numbers as written (json.Number), where a test's own
// values have float64s.
func sameValue(a, b any) bool {
	x, err1 := json.Marshal(flow.Floats(a))
	y, err2 := json.Marshal(flow.Floats(b))
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// num reads a number of a plugin's answer.
func num(v any) float64 {
	f, ok := flow.Number(v)
	if !ok {
		return math.NaN()
	}
	return f
}
