package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
)

// guests are the test reactors: the same exports written with the Go kit
// (plugins/testdata/guest) and the C kit (plugins/testdata/cguest).
var guests = []string{"guest", "cguest"}

// eachGuest runs test once per test reactor, with its module's name.
func eachGuest(t *testing.T, test func(t *testing.T, module string)) {
	for _, module := range guests {
		t.Run(module, func(t *testing.T) { test(t, module) })
	}
}

// guestHost loads a test reactor as plugin "guest", allowed to reach srv
// (nil: no host).
func guestHost(t *testing.T, module string, srv *httptest.Server, timeout string, logs io.Writer) (*plugins.Host, *pluginstest.KV) {
	t.Helper()
	dir := t.TempDir()
	var hosts []string
	if srv != nil {
		u, _ := url.Parse(srv.URL)
		hosts = append(hosts, u.Host)
	}
	addPlugin(t, dir, map[string]any{
		"name":          "guest",
		"allowed_hosts": hosts,
		"memory_limit":  "32MiB",
		"timeout":       timeout,
		"config":        map[string]string{"greeting": "hello"},
	}, built.Module(module))
	kv := pluginstest.NewKV()
	// One instance, so that every failure must be followed by a fresh
	// instance for the next call to pass.
	return open(t, dir, kv, 1, logs), kv
}

func call(t *testing.T, h *plugins.Host, fn string, input any) (any, error) {
	t.Helper()
	r, err := h.Func("guest", fn)
	if err != nil {
		t.Fatal(err)
	}
	return r.Call(context.Background(), input, &flow.Context{Instance: "i-1", Workflow: "wf", State: "S", Attempt: 1, Visit: 1, IdempotencyKey: "i-1/S/1"})
}

// wantHealthy checks that the plugin still answers, on a fresh instance
// when the last one was discarded.
func wantHealthy(t *testing.T, h *plugins.Host) {
	t.Helper()
	in := map[string]any{"still": "alive"}
	out, err := call(t, h, "echo", in)
	if err != nil || !sameValue(out, in) {
		t.Fatalf("echo after a failure = %v, %v", out, err)
	}
}

func TestGuest(t *testing.T) { eachGuest(t, testGuest) }

func testGuest(t *testing.T, module string) {
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", "yes")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	logs := &logBuffer{}
	// Long enough for a fresh instance on a loaded machine under the race
	// detector; the loop and sleep cases wait for it.
	h, kv := guestHost(t, module, srv, "2s", logs)

	t.Run("echo", func(t *testing.T) {
		in := map[string]any{"n": 1.5, "s": "x", "a": []any{true, nil}}
		out, err := call(t, h, "echo", in)
		if err != nil || !sameValue(out, in) {
			t.Fatalf("echo = %v, %v", out, err)
		}
		// Numbers come back as the guest wrote them, even those a float64
		// would change.
		exact := map[string]any{"id": json.Number("9007199254740993"), "huge": json.Number("1e400")}
		out, err = call(t, h, "echo", exact)
		if b, _ := json.Marshal(out); err != nil || string(b) != `{"huge":1e400,"id":9007199254740993}` {
			t.Fatalf("echo of exact numbers = %s, %v", b, err)
		}
		if out, err := call(t, h, "echo", nil); err != nil || out != nil {
			t.Fatalf("echo(null) = %v, %v", out, err)
		}
	})
	t.Run("named error", func(t *testing.T) {
		_, err := call(t, h, "fail", map[string]any{"Name": "Payment.Declined", "Cause": "card expired"})
		if fe := flowtest.WantError(t, err, "Payment.Declined"); fe.Cause != "card expired" {
			t.Fatalf("cause = %q", fe.Cause)
		}
		wantHealthy(t, h)
	})
	t.Run("allowed host", func(t *testing.T) {
		out, err := call(t, h, "fetch", map[string]any{"URL": srv.URL + "/x"})
		if err != nil {
			t.Fatal(err)
		}
		resp := out.(map[string]any)
		if num(resp["status"]) != 200 || resp["body"] != `{"q":1}` || resp["headers"].(map[string]any)["x-echo"] != "yes" {
			t.Fatalf("response = %v", resp)
		}
		if seen.Get("Idempotency-Key") != "i-1/S/1" || seen.Get("Orbit-Instance") != "i-1" || seen.Get("Content-Type") != "application/json" {
			t.Fatalf("the request lacks the task's headers: %v", seen)
		}
	})
	t.Run("disallowed host", func(t *testing.T) {
		_, err := call(t, h, "fetch", map[string]any{"URL": "http://203.0.113.7:9/steal"})
		if fe := flowtest.WantError(t, err, "Fetch.Denied"); !strings.Contains(fe.Cause, "allowed_hosts") {
			t.Fatalf("cause = %q", fe.Cause)
		}
		wantHealthy(t, h)
	})
	t.Run("infinite loop", func(t *testing.T) {
		_, err := call(t, h, "loop", nil)
		flowtest.WantError(t, err, flow.ErrPluginTimeout)
		wantHealthy(t, h)
	})
	t.Run("sleep", func(t *testing.T) {
		// The guest sleeps for an hour; the test ending at all is the point.
		_, err := call(t, h, "sleep", nil)
		flowtest.WantError(t, err, flow.ErrPluginTimeout)
		wantHealthy(t, h)
	})
	t.Run("memory bomb", func(t *testing.T) {
		// A timeout long enough for the bomb to reach the cap even when
		// the race detector slows memory growth tenfold.
		h, _ := guestHost(t, module, srv, "20s", nil)
		_, err := call(t, h, "bomb", nil)
		var fe *flow.Error
		if !errors.As(err, &fe) || (fe.Name != flow.ErrPluginMemory && fe.Name != flow.ErrPluginTrap) {
			t.Fatalf("error = %v, want Plugin.MemoryLimit or Plugin.Trap", err)
		}
		t.Logf("memory bomb: %v", err)
		wantHealthy(t, h)
	})
	t.Run("panic", func(t *testing.T) {
		count := func() any { out, _ := call(t, h, "count", nil); return out }
		first, second := count(), count()
		_, err := call(t, h, "boom", nil)
		// Go's panic prints "panic: boom"; the C guest writes "boom" to
		// stderr and aborts.
		if fe := flowtest.WantError(t, err, flow.ErrPluginTrap); !strings.Contains(fe.Cause, "boom") {
			t.Fatalf("cause = %q, want the guest's last words", fe.Cause)
		}
		// The pool holds one instance: a count that starts over shows the
		// one that panicked was replaced, not reused.
		if n := func(v any) float64 { f, _ := flow.Number(v); return f }; n(second) != n(first)+1 || n(count()) != 1 {
			t.Fatalf("counts around a panic: %v, %v, then not a fresh instance", first, second)
		}
		wantHealthy(t, h)
	})
	t.Run("file open", func(t *testing.T) {
		_, err := call(t, h, "open_file", map[string]any{"Path": "/etc/hostname"})
		flowtest.WantError(t, err, "File.Denied")
		wantHealthy(t, h)
	})
	t.Run("missing export", func(t *testing.T) {
		_, err := call(t, h, "no_such_func", nil)
		flowtest.WantError(t, err, flow.ErrPluginNotFound)
		_, err = call(t, h, "wrong_shape", nil)
		if fe := flowtest.WantError(t, err, flow.ErrPluginNotFound); !strings.Contains(fe.Cause, "want (i32, i32) -> i64") {
			t.Fatalf("cause = %q", fe.Cause)
		}
		wantHealthy(t, h)
	})
	t.Run("host functions", func(t *testing.T) {
		out, err := call(t, h, "host", map[string]any{"Key": "token", "Value": "s3cret"})
		if err != nil {
			t.Fatal(err)
		}
		got := out.(map[string]any)
		if got["config"] != "hello" || got["kv"] != "s3cret" || got["missing"] != true {
			t.Fatalf("host functions = %v", got)
		}
		if tc := got["context"].(map[string]any); tc["instance"] != "i-1" || tc["idempotency_key"] != "i-1/S/1" {
			t.Fatalf("context = %v", tc)
		}
		if v, err := kv.KVGet("guest", "token"); err != nil || string(v) != "s3cret" {
			t.Fatalf("kv namespace: %q, %v", v, err)
		}
		if l := logs.String(); !strings.Contains(l, "host functions exercised") || !strings.Contains(l, "plugin=guest") {
			t.Fatalf("log lacks the guest's line: %s", l)
		}
	})
}

func TestGuestOutputIsBounded(t *testing.T) { eachGuest(t, testGuestOutputIsBounded) }

func testGuestOutputIsBounded(t *testing.T, module string) {
	line := strings.Repeat("x", 100)
	for _, via := range []string{"log", "stdout", "stderr"} {
		t.Run(via, func(t *testing.T) {
			logs := &logBuffer{}
			h, _ := guestHost(t, module, nil, "20s", logs)
			for call_ := 1; call_ <= 2; call_++ {
				// 100,000 lines in one call: the attack wrote 251 MiB a second.
				if _, err := call(t, h, "spam", map[string]any{"Via": via, "Lines": 100_000, "Size": 100}); err != nil {
					t.Fatal(err)
				}
				got := strings.Count(logs.String(), line)
				if want := call_ * 256; got != want {
					t.Fatalf("after call %d the log holds %d of the guest's lines, want %d (256 a call)", call_, got, want)
				}
				if n := strings.Count(logs.String(), "plugin output dropped"); n != call_ {
					t.Fatalf("after call %d the log holds %d markers of dropped output, want one a call", call_, n)
				}
			}
			if !strings.Contains(logs.String(), "dropped_bytes=") || !strings.Contains(logs.String(), "instance=i-1") {
				t.Fatalf("the marker does not say how much was dropped, or for which task: %s", lastLine(logs.String()))
			}
		})
	}
	t.Run("one endless line", func(t *testing.T) {
		logs := &logBuffer{}
		h, _ := guestHost(t, module, nil, "20s", logs)
		if _, err := call(t, h, "spam", map[string]any{"Lines": 0, "Size": 8 << 20}); err != nil {
			t.Fatal(err)
		}
		if n := len(logs.String()); n > 128<<10 {
			t.Fatalf("an 8 MiB line without an end made %d bytes of log, want at most 64 KiB and the records' overhead", n)
		}
		if !strings.Contains(logs.String(), "plugin output dropped") {
			t.Fatalf("no marker of dropped output: %s", lastLine(logs.String()))
		}
	})
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func TestGuestKVQuota(t *testing.T) { eachGuest(t, testGuestKVQuota) }

func testGuestKVQuota(t *testing.T, module string) {
	const value = 16 << 10 // each put takes 16 KiB and its key's 2 bytes
	dir := t.TempDir()
	// A timeout far above a call's cost: the concurrent fills queue for
	// four instances on a loaded machine under the race detector.
	addPlugin(t, dir, map[string]any{"name": "guest", "kv_quota": "64KiB", "timeout": "20s"}, built.Module(module))
	kv := pluginstest.NewKV()
	h := open(t, dir, kv, 4, nil)
	tryFill := func(h *plugins.Host, prefix string, count, size int) (map[string]any, error) {
		out, err := call(t, h, "kv_fill", map[string]any{"Prefix": prefix, "Count": count, "Size": size})
		got, _ := out.(map[string]any)
		return got, err
	}
	fill := func(h *plugins.Host, prefix string, count, size int) map[string]any {
		t.Helper()
		got, err := tryFill(h, prefix, count, size)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	usage := func(kv *pluginstest.KV) int64 {
		n, err := kv.KVUsage("guest")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The attack wrote 89 MB in one call.
	got := fill(h, "k", 100, value)
	if num(got["written"]) != 3 || got["quota"] != true || !strings.Contains(got["error"].(string), "over its kv_quota of 64KiB") {
		t.Fatalf("kv_fill = %v, want 3 written and then the quota's refusal", got)
	}
	if n := usage(kv); n != 3*(value+2) {
		t.Fatalf("usage = %d, want %d", n, 3*(value+2))
	}
	// Overwriting a key in place costs nothing more; deleting one frees it.
	if got := fill(h, "k", 1, value); num(got["written"]) != 1 {
		t.Fatalf("overwrite at the quota = %v", got)
	}
	if _, err := call(t, h, "kv_delete", map[string]any{"Key": "k1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.KVGet("guest", "k1"); err == nil {
		t.Fatal("k1 survived its delete")
	}
	if got := fill(h, "n", 1, value); num(got["written"]) != 1 {
		t.Fatalf("a put after a delete = %v", got)
	}

	// A new host, as after a reload or a restart, starts from the store's
	// own count.
	again := open(t, dir, kv, 1, nil)
	if got := fill(again, "m", 1, value); num(got["written"]) != 0 || got["quota"] != true {
		t.Fatalf("a put over the quota after a reload = %v", got)
	}

	// Concurrent calls on four instances share the quota.
	fresh := pluginstest.NewKV()
	busy := open(t, dir, fresh, 4, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			if _, err := tryFill(busy, fmt.Sprintf("g%d-", g), 8, 4<<10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := usage(fresh); n > 64<<10 || n < 60<<10 {
		t.Fatalf("usage after concurrent fills = %d, want at most the 64 KiB quota and near it", n)
	}
}

func TestGuestReplyAndKeysAreBounded(t *testing.T) { eachGuest(t, testGuestReplyAndKeysAreBounded) }

func testGuestReplyAndKeysAreBounded(t *testing.T, module string) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("b"), 17<<20))
	}))
	defer big.Close()
	u, _ := url.Parse(big.URL)
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{"name": "guest", "memory_limit": "96MiB", "timeout": "20s", "allowed_hosts": []string{u.Host}},
		built.Module(module))
	h := open(t, dir, pluginstest.NewKV(), 1, nil)
	if out, err := call(t, h, "big_reply", 1<<20); err != nil || len(out.(string)) != 1<<20 {
		t.Fatalf("a 1 MiB reply: %v", err)
	}
	_, err := call(t, h, "big_reply", 17<<20)
	if fe := flowtest.WantError(t, err, flow.ErrPluginTrap); !strings.Contains(fe.Cause, "over the 16777216 a plugin may answer") {
		t.Fatalf("cause = %q", fe.Cause)
	}
	wantHealthy(t, h)

	// A response body over 16 MiB is refused before it is quoted into JSON.
	_, err = call(t, h, "fetch", map[string]any{"URL": big.URL})
	if fe := flowtest.WantError(t, err, "Fetch.Failed"); !strings.Contains(fe.Cause, "response body of 17825792 bytes is over the 16777216") {
		t.Fatalf("cause = %q", fe.Cause)
	}

	// A key over 1 KiB is refused before the host looks it up or quotes it.
	out, err := call(t, h, "config", map[string]any{"Key": strings.Repeat("k", 2<<10)})
	if got := out.(map[string]any); err != nil || got["found"] != false || got["kv_invalid"] != true {
		t.Fatalf("a 2 KiB key = %v, %v; want refused as invalid", out, err)
	}
}
