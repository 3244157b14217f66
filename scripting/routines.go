package scripting

import (
	"fmt"
	"maps"
	"slices"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

func (l *loader) defineRoutine(name string, t *lua.LTable, pos flow.Pos) {
	if old, dup := l.routinePos[name]; dup {
		l.problem(pos, fmt.Sprintf("routine %q is already defined at %s", name, old))
		return
	}
	l.routinePos[name] = pos
	what := fmt.Sprintf("routine %q", name)
	f := l.fields(t, pos, what)
	present := 0
	for _, k := range []string{"lua", "http", "wasm"} {
		if f.has(k) {
			present++
		}
	}
	if present != 1 {
		f.problem("a routine needs exactly one of lua, http, wasm")
	}
	var r flow.Routine
	switch fn := f.get("lua").(type) {
	case *lua.LNilType:
	case *lua.LFunction:
		r = luaRoutine{fnRef: l.register(fn), span: "lua " + name}
	default:
		f.wrongType("lua", "a function(input, ctx)", fn)
	}
	if ht := f.table("http"); ht != nil {
		r = l.httpRoutine(ht, pos, what)
	}
	if wt := f.table("wasm"); wt != nil {
		r = l.wasmRoutine(wt, pos, what)
	}
	f.done(false)
	if r != nil {
		l.b.Routines[name] = r
	}
}

func (l *loader) httpRoutine(t *lua.LTable, pos flow.Pos, what string) flow.Routine {
	f := l.fields(t, pos, what+", http")
	s := httpcall.Spec{Method: f.str("method"), URL: f.str("url"), Headers: f.stringMap("headers"),
		Query: f.stringMap("query"), Timeout: f.duration("timeout"), FullResponse: f.boolean("full_response"),
		Pipeline: f.boolean("pipeline"), Env: l.cfg.readEnv}
	f.done(false)
	if s.URL == "" {
		f.problem("needs a url")
		return nil
	}
	if l.replay {
		return nil
	}
	r, err := httpcall.New(l.cfg.http, s)
	if err != nil {
		f.problem("%s", err)
		return nil
	}
	return r
}

func (l *loader) wasmRoutine(t *lua.LTable, pos flow.Pos, what string) flow.Routine {
	f := l.fields(t, pos, what+", wasm")
	plugin, fn := f.str("plugin"), f.str("func")
	f.done(false)
	if plugin == "" || fn == "" {
		f.problem("needs plugin and func")
		return nil
	}
	if l.replay {
		return nil
	}
	if l.cfg.plugins == nil {
		f.problem("plugin %q is not loaded", plugin)
		return nil
	}
	r, err := l.cfg.plugins.Func(plugin, fn)
	if err != nil {
		f.problem("%s", err)
		return nil
	}
	return r
}

func (l *loader) defineObserver(t *lua.LTable, pos flow.Pos) {
	f := l.fields(t, pos, "observe")
	o := &flow.Observer{Pos: pos, Workflow: f.str("workflow"), On: store.EventType(f.str("on")), State: f.str("state"),
		RoutineName: f.str("routine"), Input: f.expr("input"), Before: f.boolean("before"), Name: f.str("name")}
	for i, rt := range f.tables("retry") {
		o.Retry = append(o.Retry, l.retrier(rt, pos, fmt.Sprintf("observe, retry %d", i+1)))
	}
	f.done(false)
	l.observers = append(l.observers, o)
}

// finish links names once every file and extension has run: routines of
// tasks and observers, workflows of calls and observers, plugin routines
// and hooks, versions.
func (l *loader) finish(hash string) {
	if p := l.cfg.plugins; p != nil {
		routines := p.Routines()
		for _, name := range slices.Sorted(maps.Keys(routines)) {
			if pos, dup := l.routinePos[name]; dup {
				l.problem(pos, fmt.Sprintf("routine %q is also defined by a plugin", name))
				continue
			}
			l.b.Routines[name] = routines[name]
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.b.Workflows)) {
		w := l.b.Workflows[name]
		if w.Version == "" {
			w.Version = hash
		}
		w.Index()
		for _, k := range machineKeys(w) {
			m := w.Machines[k]
			for _, sn := range m.Order {
				l.link(w, m.States[sn])
			}
		}
	}
	// Declarative formats added their observers already; the scripts'
	// follow, and all of them name their routine.
	l.b.Observers = append(l.b.Observers, l.observers...)
	for _, o := range l.b.Observers {
		if o.RoutineName == "" {
			continue
		}
		if o.Routine = l.routine(o.RoutineName); o.Routine == nil && !l.known(o.RoutineName) {
			l.unresolved(o.Pos, fmt.Sprintf("observe: unknown routine %q", o.RoutineName))
		}
	}
	if p := l.cfg.plugins; p != nil {
		for _, hk := range p.Hooks() {
			if hk.Workflow != "*" && l.b.Workflows[hk.Workflow] == nil {
				// A drop-in hook for a workflow these scripts lack waits for
				// it rather than stopping the sidecar; a load that brings the
				// workflow applies it.
				l.cfg.log().Warn(fmt.Sprintf("--plugins: %s: hook of workflow %q waits: the scripts define no such workflow; it applies once they do",
					hk.Pos.File, hk.Workflow), "workflow", hk.Workflow, "on", string(hk.On))
				continue
			}
			l.b.Observers = append(l.b.Observers, hk)
		}
	}
}

func (l *loader) link(w *flow.Workflow, s *flow.State) {
	if s.Kind != flow.Task || s.RoutineName == "" {
		return
	}
	if s.Routine = l.routine(s.RoutineName); s.Routine == nil && !l.known(s.RoutineName) {
		l.unresolved(s.Pos, fmt.Sprintf("workflow %q, state %q: unknown routine %q", w.Name, s.Name, s.RoutineName))
	}
}

func (l *loader) routine(name string) flow.Routine { return l.b.Routines[name] }

// known reports whether a routine name is defined, even if defining it
// failed (which was reported already).
func (l *loader) known(name string) bool {
	_, ok := l.routinePos[name]
	return ok || l.b.Routines[name] != nil
}
