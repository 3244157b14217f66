package plugins

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// FuzzManifest loads arbitrary plugin.json files. A manifest that loads has
// every limit in range and every name in its allowed form, and written back
// as JSON it loads to the same manifest.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"name": "fraud", "module": "guest.wasm", "routines": {"fraud.score": "score"},
  "hooks": [{"workflow": "place_order", "on": "StateExited", "state": "Save", "func": "on_saved"}],
  "allowed_hosts": ["risk.internal:8443", "*.svc.local"], "memory_limit": "16MiB", "timeout": "250ms",
  "config": {"threshold": "0.8"}}`), uint32(0), uint32(0))
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "guest.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		f.Fatal(err)
	}
	load := func(t *testing.T, raw []byte, lim Limits) (*Manifest, error) {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return LoadManifest(dir, lim)
	}
	f.Fuzz(func(t *testing.T, raw []byte, maxMemory uint32, maxTimeoutMS uint32) {
		lim := Limits{MaxMemory: uint64(maxMemory), MaxTimeout: time.Duration(maxTimeoutMS) * time.Millisecond}
		m, err := load(t, raw, lim)
		if err != nil {
			if m != nil {
				t.Fatal("a manifest came back with its error")
			}
			return
		}
		switch {
		case !namePattern.MatchString(m.Name):
			t.Fatalf("name %q loaded", m.Name)
		case !filepath.IsLocal(m.Module):
			t.Fatalf("module %q outside the plugin folder loaded", m.Module)
		case m.memoryBytes == 0 || m.memoryBytes > roundToPages(lim.withDefaults().MaxMemory) || m.memoryBytes%pageSize != 0:
			t.Fatalf("memory_limit %q loaded as %d bytes under a ceiling of %d", m.MemoryLimit, m.memoryBytes, lim.withDefaults().MaxMemory)
		case m.timeout <= 0 || m.timeout > lim.withDefaults().MaxTimeout:
			t.Fatalf("timeout %q loaded as %s under a ceiling of %s", m.Timeout, m.timeout, lim.withDefaults().MaxTimeout)
		case m.kvQuota == 0 || m.kvQuota > lim.withDefaults().MaxKV:
			t.Fatalf("kv_quota %q loaded as %d", m.KVQuota, m.kvQuota)
		case len(m.hosts) != len(m.AllowedHosts):
			t.Fatalf("%d allowed_hosts loaded as %d rules", len(m.AllowedHosts), len(m.hosts))
		}
		for name, fn := range m.Routines {
			if name == "" || !exportPattern.MatchString(fn) {
				t.Fatalf("routine %q -> %q loaded", name, fn)
			}
		}
		for _, h := range m.Hooks {
			if h.Workflow == "" || !h.On.Valid() || !exportPattern.MatchString(h.Func) {
				t.Fatalf("hook %+v loaded", h)
			}
		}
		back, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := load(t, back, lim)
		if err != nil {
			t.Fatalf("a loaded manifest written back does not load: %v\n%s", err, back)
		}
		if !reflect.DeepEqual(withoutEmpty(again), withoutEmpty(m)) {
			t.Fatalf("written back and loaded again\n%+v\nfirst\n%+v", again, m)
		}
	})
}

// FuzzAllowedHosts checks an allowed_hosts rule against arbitrary URLs. The
// check parses with net/url, the request goes out through fasthttp: any URL
// the check lets through must reach a host and port the rule names as
// fasthttp reads it, or a plugin could slip past its allow-list.
func FuzzAllowedHosts(f *testing.F) {
	f.Add("api.example.com", "https://api.example.com/v1")
	f.Fuzz(func(t *testing.T, rule, rawURL string) {
		r, err := parseHostRule(rule)
		if err != nil || allowed([]hostRule{r}, rawURL) != nil {
			return
		}
		var req fasthttp.Request
		req.SetRequestURI(rawURL)
		u := req.URI()
		scheme := string(u.Scheme())
		host, port := string(u.Host()), ""
		if h, p, err := net.SplitHostPort(host); err == nil {
			host, port = h, p
		}
		host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if port == "" {
			port = defaultPorts[scheme]
		}
		want := r.port
		if want == "" {
			want = defaultPorts[scheme]
		}
		hostOK := host == r.host || r.wildcard && strings.HasSuffix(host, "."+r.host)
		if !hostOK || port != want || defaultPorts[scheme] == "" {
			t.Fatalf("rule %q let %q through, but fasthttp sends it to %s://%s:%s", rule, rawURL, scheme, host, port)
		}
	})
}

// withoutEmpty forgets empty collections, which JSON writes back as
// absent.
func withoutEmpty(m *Manifest) Manifest {
	c := *m
	if len(c.Routines) == 0 {
		c.Routines = nil
	}
	if len(c.Hooks) == 0 {
		c.Hooks = nil
	}
	if len(c.AllowedHosts) == 0 {
		c.AllowedHosts = nil
	}
	if len(c.Config) == 0 {
		c.Config = nil
	}
	if len(c.hosts) == 0 {
		c.hosts = nil
	}
	return c
}
