package main

import (
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/plugins"
)

// pluginFlags are orbit serve's plugin flags: the directory, the pool, and
// the operator's ceilings on what a manifest may ask for.
type pluginFlags struct {
	dir        *string
	pool       *int
	maxTimeout *time.Duration
	maxMemory  byteSize
	maxKV      byteSize
	maxModule  byteSize
}

func addPluginFlags(fs *flag.FlagSet) *pluginFlags {
	f := &pluginFlags{
		maxMemory: plugins.DefaultMaxMemory,
		maxKV:     plugins.DefaultMaxKV,
		maxModule: plugins.DefaultMaxModule,
	}
	f.dir = fs.String("plugins", "./plugins.d", "plugins directory (one folder per plugin: plugin.json and its module); an absent one loads none")
	f.pool = fs.Int("plugin-pool", 0, "instances per plugin, which bounds its concurrent calls and its memory at this × memory_limit (0: one per CPU)")
	f.maxTimeout = fs.Duration("plugin-max-timeout", plugins.DefaultMaxTimeout, "the longest timeout a plugin manifest may ask for")
	fs.Var(&f.maxMemory, "plugin-max-memory", "the largest memory_limit a plugin manifest may ask for, a `size` up to 4GiB")
	fs.Var(&f.maxKV, "plugin-max-kv", "the largest kv_quota a plugin manifest may ask for, a `size`")
	fs.Var(&f.maxModule, "plugin-max-module", "the largest plugin module file, a `size`")
	return f
}

// check refuses values the plugin host cannot honour.
func (f *pluginFlags) check() error {
	switch {
	case *f.pool < 0:
		return fmt.Errorf("--plugin-pool must not be negative")
	case *f.maxTimeout <= 0:
		return fmt.Errorf("--plugin-max-timeout must be positive")
	case f.maxMemory > 4<<30:
		return fmt.Errorf("--plugin-max-memory %s is over the 4GiB a WebAssembly memory can address", &f.maxMemory)
	}
	return nil
}

// options are the plugin host's options; the compilation cache lives next
// to the data file so that a restart does not compile again.
func (f *pluginFlags) options(data string, http *httpcall.Client, kv plugins.KV, log *slog.Logger) plugins.Options {
	cache := ""
	if data != "" {
		cache = filepath.Join(filepath.Dir(data), "wasm-cache")
	}
	return plugins.Options{
		CacheDir: cache, HTTP: http, KV: kv, Logger: log, PoolSize: *f.pool,
		Limits: plugins.Limits{
			MaxMemory:  uint64(f.maxMemory),
			MaxTimeout: *f.maxTimeout,
			MaxKV:      uint64(f.maxKV),
			MaxModule:  uint64(f.maxModule),
		},
	}
}

// openPlugins loads a plugins directory. Every line of a refusal names
// --plugins and the directory: a sidecar started from a checkout picks up
// ./plugins.d by default, and its problems must not pass for the scripts'.
func openPlugins(dir string, opt plugins.Options) (*plugins.Live, error) {
	h, err := plugins.Open(dir, opt)
	if err != nil {
		prefix := fmt.Sprintf("--plugins %s: ", dir)
		return nil, fmt.Errorf("%s%s", prefix, strings.ReplaceAll(err.Error(), "\n", "\n"+prefix))
	}
	return plugins.NewLive(h), nil
}
