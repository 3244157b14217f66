package plugins_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

func TestOpenMissingDir(t *testing.T) {
	h, err := plugins.Open(filepath.Join(t.TempDir(), "absent"), plugins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Info()) != 0 || len(h.Routines()) != 0 || len(h.Hooks()) != 0 {
		t.Fatal("a missing directory should be an empty host")
	}
	if _, err := h.Func("fraud", "score"); err == nil {
		t.Fatal("Func on an empty host should fail")
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCommandModule(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{"name": "cmd", "routines": map[string]string{"cmd.echo": "echo"}}, built.Module("command"))
	h := open(t, dir, nil, 0, nil)
	if info := h.Info(); len(info) != 1 || info[0].Kind != plugins.KindCommand {
		t.Fatalf("info = %+v, want one command plugin", info)
	}
	in := map[string]any{"x": []any{1.0, "two"}}
	out, err := h.Routines()["cmd.echo"].Call(context.Background(), in, &flow.Context{})
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("echo = %v, %v", out, err)
	}
	r, _ := h.Func("cmd", "fail")
	_, err = r.Call(context.Background(), map[string]any{"Name": "Tax.Unknown", "Cause": "no rate"}, &flow.Context{})
	wantName(t, err, "Tax.Unknown")
	r, _ = h.Func("cmd", "nope")
	_, err = r.Call(context.Background(), nil, &flow.Context{})
	wantName(t, err, flow.ErrPluginNotFound)
}

func TestInfo(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{
		"name":          "guest",
		"routines":      map[string]string{"guest.echo": "echo"},
		"hooks":         []map[string]string{{"workflow": "*", "on": "ExecutionFailed", "func": "echo"}},
		"allowed_hosts": []string{"risk.internal:8443"},
		"timeout":       "250ms",
	}, built.Module("guest"))
	h := open(t, dir, nil, 1, nil)
	want := []plugins.PluginInfo{{
		Name:         "guest",
		Module:       "guest.wasm",
		Routines:     map[string]string{"guest.echo": "echo"},
		Hooks:        []plugins.Hook{{Workflow: "*", On: "ExecutionFailed", Func: "echo"}},
		AllowedHosts: []string{"risk.internal:8443"},
		MemoryLimit:  plugins.DefaultMemoryLimit,
		Timeout:      "250ms",
		Kind:         plugins.KindReactor,
	}}
	if got := h.Info(); !reflect.DeepEqual(got, want) {
		t.Fatalf("info = %+v\nwant %+v", got, want)
	}
}

func TestCloseRefusesNewCalls(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{"name": "guest"}, built.Module("guest"))
	h := open(t, dir, nil, 1, nil)
	r, err := h.Func("guest", "echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = r.Call(context.Background(), 1.0, &flow.Context{})
	wantName(t, err, flow.ErrPluginNotFound)
}

// A hook may watch every history event the engine writes, Migrated
// included: the manifest is checked against the store's one list.
func TestHooksMayWatchEveryEventType(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "guest.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, typ := range store.EventTypes {
		manifest := fmt.Sprintf(`{"name": "p", "module": "guest.wasm", "hooks": [{"workflow": "*", "on": %q, "func": "f"}]}`, typ)
		if err := os.WriteFile(filepath.Join(dir, plugins.ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := plugins.LoadManifest(dir)
		if err != nil {
			t.Errorf("on %q: %v", typ, err)
			continue
		}
		if m.Hooks[0].On != typ {
			t.Errorf("on %q read as %q", typ, m.Hooks[0].On)
		}
	}
}

func TestBadManifests(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		want     []string
	}{
		{"not json", `{"name": `, []string{"plugin.json: not a valid manifest"}},
		{"unknown field", `{"name": "p", "module": "guest.wasm", "memory": "1MiB"}`, []string{`unknown field "memory"`}},
		{"no name", `{"module": "guest.wasm"}`, []string{"name: is required"}},
		{"bad name", `{"name": "a b", "module": "guest.wasm"}`, []string{`name: "a b" may hold only`}},
		{"no module", `{"name": "p"}`, []string{"module: is required"}},
		{"absent module", `{"name": "p", "module": "gone.wasm"}`, []string{`module: "gone.wasm" cannot be read`}},
		{"escaping module", `{"name": "p", "module": "../guest.wasm"}`, []string{"must be a path inside the plugin folder"}},
		{"bad limits", `{"name": "p", "module": "guest.wasm", "memory_limit": "16XB", "timeout": "soon"}`,
			[]string{`memory_limit: "16XB" is not a size`, `timeout: "soon" is not a positive duration`}},
		{"huge memory", `{"name": "p", "module": "guest.wasm", "memory_limit": "8GiB"}`, []string{"over the 4GiB"}},
		{"bad hook", `{"name": "p", "module": "guest.wasm", "hooks": [{"workflow": "w", "on": "Exited", "func": ""}]}`,
			[]string{`hooks[0].on: "Exited" is not a history event type`, `hooks[0].func: "" is not an export name`}},
		{"bad host", `{"name": "p", "module": "guest.wasm", "allowed_hosts": ["https://x.com/a", "h:99999", "a.*.com"]}`,
			[]string{"allowed_hosts[0]", "allowed_hosts[1]", "allowed_hosts[2]"}},
		{"bad routine", `{"name": "p", "module": "guest.wasm", "routines": {"p.x": "1bad"}}`, []string{`routines.p.x: "1bad" is not an export name`}},
		{"config not strings", `{"name": "p", "module": "guest.wasm", "config": {"n": 1}}`, []string{"not a valid manifest"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			folder := filepath.Join(dir, "myplugin")
			if err := os.MkdirAll(folder, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, "guest.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, plugins.ManifestFile), []byte(c.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := plugins.Open(dir, plugins.Options{})
			if err == nil {
				t.Fatal("Open accepted a bad manifest")
			}
			msg := err.Error()
			for _, want := range append(c.want, filepath.Join(folder, plugins.ManifestFile)) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLoadProblems(t *testing.T) {
	t.Run("duplicate names", func(t *testing.T) {
		dir := t.TempDir()
		addPlugin(t, dir, map[string]any{"name": "same", "module": "guest.wasm"}, built.Module("guest"))
		if err := os.Rename(filepath.Join(dir, "same"), filepath.Join(dir, "first")); err != nil {
			t.Fatal(err)
		}
		addPlugin(t, dir, map[string]any{"name": "same"}, built.Module("guest"))
		_, err := plugins.Open(dir, plugins.Options{CacheDir: built.CacheDir})
		if err == nil || !strings.Contains(err.Error(), `name: "same" is already the name of the plugin in`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("duplicate routines", func(t *testing.T) {
		dir := t.TempDir()
		addPlugin(t, dir, map[string]any{"name": "a", "routines": map[string]string{"x.y": "echo"}}, built.Module("guest"))
		addPlugin(t, dir, map[string]any{"name": "b", "routines": map[string]string{"x.y": "echo"}}, built.Module("guest"))
		_, err := plugins.Open(dir, plugins.Options{CacheDir: built.CacheDir, PoolSize: 1})
		if err == nil || !strings.Contains(err.Error(), `plugin b: routines: "x.y" is also declared by plugin a`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("not a plugin module", func(t *testing.T) {
		dir := t.TempDir()
		addPlugin(t, dir, map[string]any{"name": "empty", "module": "empty.wasm"}, "")
		if err := os.WriteFile(filepath.Join(dir, "empty", "empty.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := plugins.Open(dir, plugins.Options{})
		if err == nil || !strings.Contains(err.Error(), "does not fit the plugin ABI") || !strings.Contains(err.Error(), "orbit_abi_version") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("memory limit below the module's needs", func(t *testing.T) {
		dir := t.TempDir()
		addPlugin(t, dir, map[string]any{"name": "tiny", "memory_limit": "1MiB"}, built.Module("guest"))
		_, err := plugins.Open(dir, plugins.Options{CacheDir: built.CacheDir, PoolSize: 1})
		if err == nil || !strings.Contains(err.Error(), "plugin tiny") {
			t.Fatalf("error = %v", err)
		}
		t.Log(err)
	})
}

func TestLiveReload(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{"name": "guest", "routines": map[string]string{"guest.echo": "echo"}}, built.Module("guest"))
	first := open(t, dir, nil, 1, nil)
	live := plugins.NewLive(first)
	byFunc, err := live.Func("guest", "echo")
	if err != nil {
		t.Fatal(err)
	}
	byName := live.Routines()["guest.echo"]
	bound, _ := first.Func("guest", "echo")

	second := open(t, dir, nil, 1, nil)
	if err := live.Replace(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	for _, r := range []flow.Routine{byFunc, byName} {
		if out, err := r.Call(context.Background(), "after reload", &flow.Context{}); err != nil || out != "after reload" {
			t.Fatalf("late-bound routine after reload = %v, %v", out, err)
		}
	}
	_, err = bound.Call(context.Background(), 1.0, &flow.Context{})
	wantName(t, err, flow.ErrPluginNotFound)

	// A reload that drops the plugin leaves its routines failing by name.
	if err := live.Replace(context.Background(), open(t, t.TempDir(), nil, 1, nil)); err != nil {
		t.Fatal(err)
	}
	_, err = byFunc.Call(context.Background(), 1.0, &flow.Context{})
	wantName(t, err, flow.ErrPluginNotFound)
}

func TestLiveReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{"name": "guest"}, built.Module("guest"))
	live := plugins.NewLive(open(t, dir, nil, 2, nil))
	r, err := live.Func("guest", "echo")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if _, err := r.Call(context.Background(), "x", &flow.Context{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 3 {
		if err := live.Replace(context.Background(), open(t, dir, nil, 2, nil)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("a call failed across reloads: %v", err)
		}
	}
}
