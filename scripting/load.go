package scripting

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// PluginSet is what the loaded WebAssembly plugins offer to scripts.
type PluginSet interface {
	// Func resolves a wasm = { plugin, func } routine.
	Func(plugin, fn string) (flow.Routine, error)
	// Routines are the manifests' routines, usable by name.
	Routines() map[string]flow.Routine
	// Hooks are the manifests' hooks, registered as observers.
	Hooks() []*flow.Observer
}

// Options configures a load.
type Options struct {
	HTTP       *httpcall.Client // for http routines; nil: a client of its own
	Plugins    PluginSet        // nil: no plugins
	LuaTimeout time.Duration    // per Lua call; 0: 100ms (SPEC 1.6)
	Logger     *slog.Logger     // for log.* and print; nil: slog.Default()
	// Env is what env(name) and ${NAME} in http routines may read; the
	// zero Env exposes no variable (docs/scripts.md, "Security").
	Env Env
	// OnLuaCall, when set, is told how long each call of a Lua function
	// ran and what it was for (metrics time them with it). It must be
	// quick. Nil costs nothing.
	OnLuaCall func(use LuaUse, took time.Duration)
}

// DefaultLuaTimeout is the per-call limit when Options.LuaTimeout is 0.
const DefaultLuaTimeout = 100 * time.Millisecond

// Load reads every *.lua file under dir, and every file of a declarative
// format (*.asl.json, ...), subfolders included and hidden entries skipped
// (or the single file dir names), and loads them as one bundle. Problems in the scripts come back as
// flow.Problems, with paths relative to dir; I/O failures as plain errors.
func Load(dir string, opt Options) (*flow.Bundle, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load scripts: %w", err)
	}
	if !info.IsDir() {
		body, err := os.ReadFile(dir)
		if err != nil {
			return nil, fmt.Errorf("load scripts: %w", err)
		}
		return LoadSources([]flow.Source{{Path: filepath.Base(dir), Body: body}}, opt)
	}
	var files []flow.Source
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if _, ok := formatOf(path); d.IsDir() || !ok {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, flow.Source{Path: filepath.ToSlash(rel), Body: body})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load scripts from %s: %w", dir, err)
	}
	return LoadSources(files, opt)
}

// LoadSources loads files as one bundle, in lexical order of their paths;
// it is how a kept bundle is recompiled. On any problem it returns
// flow.Problems and no bundle.
func LoadSources(files []flow.Source, opt Options) (*flow.Bundle, error) {
	srcs := slices.Clone(files)
	slices.SortFunc(srcs, func(a, b flow.Source) int { return strings.Compare(a.Path, b.Path) })
	cfg := &config{http: opt.HTTP, plugins: opt.Plugins, timeout: opt.LuaTimeout, logger: opt.Logger, env: opt.Env,
		onCall: opt.OnLuaCall}
	if cfg.http == nil {
		cfg.http = httpcall.NewClient()
	}
	if cfg.timeout <= 0 {
		cfg.timeout = DefaultLuaTimeout
	}
	if probs := duplicates(srcs); len(probs) > 0 {
		return nil, probs
	}
	luaSrcs, byFormat := partition(srcs)
	protos, syntax := compile(luaSrcs)
	p := &pool{cfg: cfg, protos: protos, formatSrcs: byFormat}
	v := newVM(cfg)
	l := newLoader(cfg, v, p, false)
	hash := hashSources(srcs)
	l.b.Hash, l.b.Sources = hash, srcs
	l.run(protos, byFormat)
	l.finish(hash)
	// Validate judges the model; the loader what only the source shows.
	// The model is complete enough to judge even when the source had
	// problems, and both lists together save the user a round trip.
	probs := append(l.probs, flow.Validate(l.b)...)
	if len(syntax) > 0 {
		// The other files are still judged, so that one syntax error hides
		// none of their problems; a name they miss may be in a file that
		// did not parse, so that is no problem of theirs yet.
		probs = slices.DeleteFunc(probs, func(p flow.Problem) bool { return p.Unresolved })
		probs = append(syntax, probs...)
	}
	if len(probs) > 0 {
		v.L.Close()
		probs.Sort()
		return nil, slices.CompactFunc(probs, func(a, b flow.Problem) bool { return a == b })
	}
	p.nfuncs = len(v.funcs)
	p.keep(v)
	return l.b, nil
}

// compile parses every source once; the pool builds its states from the
// compiled form instead of parsing again.
func compile(srcs []flow.Source) ([]*lua.FunctionProto, flow.Problems) {
	var probs flow.Problems
	protos := make([]*lua.FunctionProto, 0, len(srcs))
	for _, src := range srcs {
		chunk, err := parse.Parse(bytes.NewReader(src.Body), src.Path)
		if err == nil {
			var proto *lua.FunctionProto
			if proto, err = lua.Compile(wrapChunk(chunk), src.Path); err == nil {
				protos = append(protos, proto)
				continue
			}
		}
		probs = append(probs, syntaxProblem(err, src))
	}
	return protos, probs
}

// duplicates reports files given twice (srcs is sorted by path).
func duplicates(srcs []flow.Source) flow.Problems {
	var probs flow.Problems
	for i := 1; i < len(srcs); i++ {
		if srcs[i-1].Path == srcs[i].Path {
			probs = append(probs, flow.Problem{Pos: flow.Pos{File: srcs[i].Path, Line: 1}, Message: "the file is given twice"})
		}
	}
	return probs
}

// hashSources is the bundle's identity: sha256 over each path and body,
// length-prefixed so that no two different bundles hash alike.
func hashSources(srcs []flow.Source) string {
	h := sha256.New()
	for _, s := range srcs {
		h.Write([]byte(s.Path))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(s.Body))))
		h.Write([]byte{0})
		h.Write(s.Body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hidden reports whether a directory entry is an editor's or a tool's (lock
// files, swap files, .git) rather than part of the bundle.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }
