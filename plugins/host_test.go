package plugins_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
	"github.com/orbit-sidecar/orbit/store"
)

func TestOpenMissingDir(t *testing.T) {
	h, err := plugins.Open(filepath.Join(t.TempDir(), "absent"), plugins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Info(nil)) != 0 || len(h.Routines()) != 0 || len(h.Hooks()) != 0 {
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
	// The Go command module and the C test guest built as a command.
	for _, module := range []string{"command", "cguest-command"} {
		t.Run(module, func(t *testing.T) {
			dir := t.TempDir()
			// A Go command starts its runtime on every call: slow under the
			// race detector on a loaded machine.
			addPlugin(t, dir, map[string]any{"name": "cmd", "routines": map[string]string{"cmd.echo": "echo"}, "timeout": "10s"}, built.Module(module))
			h := open(t, dir, nil, 0, nil)
			if info := h.Info(nil); len(info) != 1 || info[0].Kind != plugins.KindCommand {
				t.Fatalf("info = %+v, want one command plugin", info)
			}
			in := map[string]any{"x": []any{1.0, "two"}}
			out, err := h.Routines()["cmd.echo"].Call(context.Background(), in, &flow.Context{})
			if err != nil || !sameValue(out, in) {
				t.Fatalf("echo = %v, %v", out, err)
			}
			r, _ := h.Func("cmd", "fail")
			_, err = r.Call(context.Background(), map[string]any{"Name": "Tax.Unknown", "Cause": "no rate"}, &flow.Context{})
			flowtest.WantError(t, err, "Tax.Unknown")
			r, _ = h.Func("cmd", "nope")
			_, err = r.Call(context.Background(), nil, &flow.Context{})
			flowtest.WantError(t, err, flow.ErrPluginNotFound)
		})
	}
}

func TestInfo(t *testing.T) {
	dir := t.TempDir()
	addPlugin(t, dir, map[string]any{
		"name":     "guest",
		"routines": map[string]string{"guest.echo": "echo"},
		"hooks": []map[string]string{{"workflow": "*", "on": "ExecutionFailed", "func": "echo"},
			{"workflow": "place_order", "on": "ExecutionSucceeded", "func": "echo"}},
		"allowed_hosts": []string{"risk.internal:8443"},
		"timeout":       "250ms",
	}, built.Module("guest"))
	h := open(t, dir, nil, 1, nil)
	want := []plugins.PluginInfo{{
		Name:     "guest",
		Module:   "guest.wasm",
		Routines: map[string]string{"guest.echo": "echo"},
		Hooks: []plugins.HookInfo{{Hook: plugins.Hook{Workflow: "*", On: "ExecutionFailed", Func: "echo"}, Active: true},
			{Hook: plugins.Hook{Workflow: "place_order", On: "ExecutionSucceeded", Func: "echo"}, Active: true}},
		AllowedHosts: []string{"risk.internal:8443"},
		MemoryLimit:  plugins.DefaultMemoryLimit,
		Timeout:      "250ms",
		KVQuota:      plugins.DefaultKVQuota,
		Kind:         plugins.KindReactor,
	}}
	if got := h.Info(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("info = %+v\nwant %+v", got, want)
	}
	// A hook of a workflow the scripts lack waits for it; "*" never does.
	want[0].Hooks[1].Active = false
	if got := h.Info(func(string) bool { return false }); !reflect.DeepEqual(got, want) {
		t.Fatalf("info without the workflow = %+v\nwant %+v", got, want)
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
	flowtest.WantError(t, err, flow.ErrPluginNotFound)
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
		m, err := plugins.LoadManifest(dir, plugins.Limits{})
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
		{"huge memory", `{"name": "p", "module": "guest.wasm", "memory_limit": "8GiB"}`, []string{"over the ceiling"}},
		{"text after the object", `{"name": "p", "module": "guest.wasm"} {"memory_limit": "4GiB"}`, []string{"text after the JSON object"}},
		{"garbage after the object", `{"name": "p", "module": "guest.wasm"}]`, []string{"not a valid manifest"}},
		{"key given twice", `{"name": "p", "module": "guest.wasm", "timeout": "1s", "timeout": "1h"}`, []string{"timeout: is given twice"}},
		{"hook key given twice", `{"name": "p", "module": "guest.wasm", "hooks": [{"workflow": "w", "on": "StateExited", "func": "f", "func": "g"}]}`,
			[]string{"hooks[0].func: is given twice"}},
		{"config key given twice", `{"name": "p", "module": "guest.wasm", "config": {"k": "a", "k": "b"}}`, []string{"config.k: is given twice"}},
		{"field in another case", `{"name": "p", "module": "guest.wasm", "Memory_Limit": "4GiB"}`,
			[]string{`unknown field "Memory_Limit" (field names are case-sensitive: "memory_limit")`}},
		{"not a number", `{"name": "p", "module": "guest.wasm", "memory_limit": "NaN", "kv_quota": "InfMiB"}`,
			[]string{`memory_limit: "NaN" is not a size: want a number of bytes`, `kv_quota: "InfMiB" is not a size`}},
		{"exponent and hex", `{"name": "p", "module": "guest.wasm", "memory_limit": "1e9", "kv_quota": "0x10"}`,
			[]string{`memory_limit: "1e9" is not a size`, `kv_quota: "0x10" is not a size`}},
		{"zero sizes", `{"name": "p", "module": "guest.wasm", "memory_limit": "0MiB", "kv_quota": "0.0"}`,
			[]string{`memory_limit: "0MiB" is zero`, `kv_quota: "0.0" is zero`}},
		{"over the ceilings", `{"name": "p", "module": "guest.wasm", "memory_limit": "4GiB", "timeout": "2562047h", "kv_quota": "1GiB"}`,
			[]string{`memory_limit: "4GiB" is over the ceiling of 256MiB set by --plugin-max-memory`,
				`timeout: "2562047h" is over the ceiling of 30s set by --plugin-max-timeout`,
				`kv_quota: "1GiB" is over the ceiling of 64MiB set by --plugin-max-kv`}},
		{"long name", `{"name": "` + strings.Repeat("n", 200) + `", "module": "guest.wasm"}`, []string{"name: is 200 bytes long; at most 128"}},
		{"bad hook", `{"name": "p", "module": "guest.wasm", "hooks": [{"workflow": "w", "on": "Exited", "func": ""}]}`,
			[]string{`hooks[0].on: "Exited" is not a history event type`, `hooks[0].func: "" is not an export name`}},
		{"bad host", `{"name": "p", "module": "guest.wasm", "allowed_hosts": ["https://x.com/a", "h:99999", "a.*.com"]}`,
			[]string{"allowed_hosts[0]", "allowed_hosts[1]", "allowed_hosts[2]"}},
		{"bad routine", `{"name": "p", "module": "guest.wasm", "routines": {"p.x": "1bad"}}`, []string{`routines.p.x: "1bad" is not an export name`}},
		{"config not strings", `{"name": "p", "module": "guest.wasm", "config": {"n": 1}}`, []string{"not a valid manifest"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, folder := manifestDir(t, c.manifest)
			wantRefused(t, dir, plugins.Options{}, append(c.want, filepath.Join(folder, plugins.ManifestFile))...)
		})
	}
}

// manifestDir makes a plugins directory with one folder, myplugin, holding
// the manifest text and guest.wasm, an empty module.
func manifestDir(t *testing.T, manifest string) (dir, folder string) {
	t.Helper()
	dir = t.TempDir()
	folder = filepath.Join(dir, "myplugin")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	orbittest.WriteFile(t, filepath.Join(folder, "guest.wasm"), "\x00asm\x01\x00\x00\x00")
	orbittest.WriteFile(t, filepath.Join(folder, plugins.ManifestFile), manifest)
	return dir, folder
}

// wantRefused checks that opening dir fails with an error that mentions
// every piece of want.
func wantRefused(t *testing.T, dir string, opt plugins.Options, want ...string) {
	t.Helper()
	h, err := plugins.Open(dir, opt)
	if err == nil {
		_ = h.Close(context.Background())
		t.Fatalf("Open accepted it; want an error mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestModuleMustStayInsideItsFolder(t *testing.T) {
	t.Run("symlink out of the folder", func(t *testing.T) {
		dir, folder := manifestDir(t, `{"name": "p", "module": "linked.wasm"}`)
		outside := filepath.Join(t.TempDir(), "elsewhere.wasm")
		orbittest.WriteFile(t, outside, "\x00asm\x01\x00\x00\x00")
		if err := os.Symlink(outside, filepath.Join(folder, "linked.wasm")); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, plugins.Options{}, `module: "linked.wasm" resolves to `+outside+`, outside the plugin folder`)
	})
	t.Run("symlinked directory out of the folder", func(t *testing.T) {
		dir, folder := manifestDir(t, `{"name": "p", "module": "build/guest.wasm"}`)
		if err := os.Symlink(t.TempDir(), filepath.Join(folder, "build")); err != nil {
			t.Fatal(err)
		}
		orbittest.WriteFile(t, filepath.Join(folder, "build", "guest.wasm"), "\x00asm\x01\x00\x00\x00")
		wantRefused(t, dir, plugins.Options{}, `module: "build/guest.wasm" resolves to `, "outside the plugin folder")
	})
	t.Run("symlinks inside the folder", func(t *testing.T) {
		// The plugin folder itself and its module may be links, as mounted
		// configuration often is, as long as the module stays inside.
		real := t.TempDir()
		addPlugin(t, real, map[string]any{"name": "guest", "module": "current.wasm"}, built.Module("guest"))
		if err := os.Symlink("guest.wasm", filepath.Join(real, "guest", "current.wasm")); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(real, "guest"), filepath.Join(dir, "guest")); err != nil {
			t.Fatal(err)
		}
		h := open(t, dir, nil, 1, nil)
		if info := h.Info(nil); len(info) != 1 || info[0].Name != "guest" {
			t.Fatalf("info = %+v, want the linked plugin", info)
		}
	})
}

func TestOperatorCeilings(t *testing.T) {
	t.Run("module size", func(t *testing.T) {
		dir, _ := manifestDir(t, `{"name": "p", "module": "guest.wasm"}`)
		wantRefused(t, dir, plugins.Options{Limits: plugins.Limits{MaxModule: 4}},
			`module: "guest.wasm" is 8B, over the ceiling of 4B (--plugin-max-module)`)
	})
	t.Run("manifest size", func(t *testing.T) {
		dir, _ := manifestDir(t, `{"name": "p", "module": "guest.wasm", "config": {"pad": "`+strings.Repeat("x", 1<<20)+`"}}`)
		wantRefused(t, dir, plugins.Options{}, "plugin.json: is over 1MiB")
	})
	t.Run("lowered ceilings", func(t *testing.T) {
		dir, _ := manifestDir(t, `{"name": "p", "module": "guest.wasm", "memory_limit": "64MiB", "timeout": "2s", "kv_quota": "2MiB"}`)
		wantRefused(t, dir, plugins.Options{Limits: plugins.Limits{MaxMemory: 32 << 20, MaxTimeout: time.Second, MaxKV: 1536 << 10}},
			`memory_limit: "64MiB" is over the ceiling of 32MiB set by --plugin-max-memory`,
			`timeout: "2s" is over the ceiling of 1s set by --plugin-max-timeout`,
			`kv_quota: "2MiB" is over the ceiling of 1536KiB set by --plugin-max-kv`)
	})
	t.Run("defaults follow lower ceilings", func(t *testing.T) {
		dir := t.TempDir()
		addPlugin(t, dir, map[string]any{"name": "guest"}, built.Module("guest"))
		h, err := plugins.Open(dir, plugins.Options{CacheDir: built.CacheDir, PoolSize: 1,
			Limits: plugins.Limits{MaxMemory: 32 << 20, MaxTimeout: 500 * time.Millisecond, MaxKV: 4096}})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		if info := h.Info(nil)[0]; info.MemoryLimit != "32MiB" || info.Timeout != "500ms" || info.KVQuota != "4KiB" {
			t.Fatalf("info = %+v, want the defaults lowered to the ceilings", info)
		}
	})
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
	flowtest.WantError(t, err, flow.ErrPluginNotFound)

	// A reload that drops the plugin leaves its routines failing by name.
	if err := live.Replace(context.Background(), open(t, t.TempDir(), nil, 1, nil)); err != nil {
		t.Fatal(err)
	}
	_, err = byFunc.Call(context.Background(), 1.0, &flow.Context{})
	flowtest.WantError(t, err, flow.ErrPluginNotFound)
}

func TestLiveReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	// A timeout far above a call's cost: on a loaded machine under the race
	// detector, a call that waits for a fresh instance can take a second,
	// and this test is about reloads, not speed.
	addPlugin(t, dir, map[string]any{"name": "guest", "timeout": "30s"}, built.Module("guest"))
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

// TestParkedPluginRunsOnlyTheModuleItsLoadChecked loads a plugin, which
// parks it (its compiled code freed until its first call), then changes its
// module file: the first call refuses to compile the new module, which no
// load checked, and names the file; a plugin left alone answers.
func TestParkedPluginRunsOnlyTheModuleItsLoadChecked(t *testing.T) {
	dir := t.TempDir()
	// Two modules: loading the same one twice at once races inside wazero.
	addPlugin(t, dir, map[string]any{"name": "kept"}, built.Module("cguest"))
	addPlugin(t, dir, map[string]any{"name": "changed", "timeout": "10s"}, built.Module("cguest-command"))
	h := open(t, dir, nil, 1, nil)
	module := filepath.Join(dir, "changed", "cguest-command.wasm")
	wasm, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	// A custom section (id 0, size 1, an empty name) at the end: the same
	// code in another file.
	if err := os.WriteFile(module, append(wasm, 0, 1, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"x": 1.0}
	r, _ := h.Func("changed", "echo")
	_, err = r.Call(context.Background(), in, &flow.Context{})
	if fe := flowtest.WantError(t, err, flow.ErrPluginNotFound); !strings.Contains(fe.Cause, module+" changed since the plugins were loaded") {
		t.Errorf("cause %q does not name the changed module", fe.Cause)
	}
	r, _ = h.Func("kept", "echo")
	if out, err := r.Call(context.Background(), in, &flow.Context{}); err != nil || !sameValue(out, in) {
		t.Errorf("echo of the unchanged plugin = %v, %v", out, err)
	}
}
