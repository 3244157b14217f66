package plugins_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// The order workflow names the fraud plugin's routine without any Lua
// wrapper, and the audit plugin's hook watches its Save state: a drop-in
// extension needs no script edit.
const pluginWorkflow = `
routine "orders.save" { lua = function(input) return { saved = input.id } end }

workflow "place_order" {
  start = "Score",
  states = {
    Score = task { routine = "fraud.score", input = "$.order", result = "$.verdict", next = "Save" },
    Save  = task { routine = "orders.save", input = "$.order", result = "$.saved" },
  },
}
`

func TestPluginRoutineAndHookRunInAWorkflow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	risk := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"risk":0.3}`)
	})}
	go risk.Serve(ln)
	defer risk.Close()

	st, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, err := plugins.Open(built.Examples(t, "http://"+ln.Addr().String()),
		plugins.Options{CacheDir: built.CacheDir, HTTP: httpcall.NewClient(), KV: st})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(context.Background())
	b, err := scripting.LoadSources([]flow.Source{{Path: "orders.lua", Body: []byte(pluginWorkflow)}},
		scripting.Options{Plugins: host})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.Config{Store: st})
	ctx := context.Background()
	if err := e.Load(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)

	in, _, err := e.Start(ctx, "place_order", engine.StartOptions{ID: "order-9",
		Input: json.RawMessage(`{"order":{"id":"o-9","amount":50,"currency":"EUR","customer":"c-1"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if in, err = e.Wait(wait, in.ID); err != nil || in.Status != store.Succeeded {
		t.Fatalf("instance: %+v %v", in, err)
	}
	var out struct {
		Verdict struct{ Risk float64 } `json:"verdict"`
	}
	if err := json.Unmarshal(in.Output, &out); err != nil || out.Verdict.Risk != 0.3 {
		t.Fatalf("output %s (%v)", in.Output, err)
	}
	// The hook runs after the Save event is committed.
	for {
		v, err := st.KVGet("audit", "audit/order-9")
		if err == nil {
			if !strings.Contains(string(v), "o-9") {
				t.Fatalf("audit record %s", v)
			}
			return
		}
		if wait.Err() != nil {
			t.Fatal("the audit hook never wrote its record")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
