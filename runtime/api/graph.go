package api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/diagram"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// maxTrailRuns bounds the child runs (parallel branches, map items) whose
// histories an instance's diagram reads: a map over ten thousand items
// draws the path of its first runs rather than reading every history.
const maxTrailRuns = 256

// graphFormat reads format: dot (the default), mermaid or svg.
func graphFormat(ctx *fasthttp.RequestCtx) (string, bool) {
	switch f := string(ctx.QueryArgs().Peek("format")); f {
	case "", "dot":
		return "dot", true
	case "mermaid", "svg":
		return f, true
	default:
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "format must be dot, mermaid or svg, not "+f)
		return "", false
	}
}

// writeGraph answers with the diagram in the format asked for.
func writeGraph(ctx *fasthttp.RequestCtx, d *diagram.Diagram, format string) {
	switch format {
	case "svg":
		ctx.SetContentType("image/svg+xml")
		ctx.SetBody(diagram.SVG(d))
	case "mermaid":
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(diagram.Mermaid(d))
	default:
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(diagram.DOT(d))
	}
}

// graph answers GET /v1/workflows/{name}/graph: the current version's
// state diagram.
func (s *Server) graph(ctx *fasthttp.RequestCtx, p []string) {
	format, ok := graphFormat(ctx)
	if !ok {
		return
	}
	wf := s.workflow(ctx, p[0])
	if wf == nil {
		return
	}
	var observers []*flow.Observer
	if b := s.engine.Bundle(); b != nil && b.Workflows[wf.Name] == wf {
		observers = b.Observers
	}
	writeGraph(ctx, diagram.New(wf, observers...), format)
}

// instanceGraph answers GET /v1/instances/{id}/graph: the diagram of the
// version the instance runs, with the path it took, where it is and where
// it failed, read from its history and its branches' and items'.
func (s *Server) instanceGraph(ctx *fasthttp.RequestCtx, p []string) {
	format, ok := graphFormat(ctx)
	if !ok {
		return
	}
	inst, err := s.engine.Get(p[0])
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	wf, observers, err := s.engine.WorkflowOf(inst)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	t, err := s.trail(inst)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	d := diagram.New(wf, observers...)
	d.Mark(t)
	writeGraph(ctx, d, format)
}

// trail reads what an instance did: its history, and that of every child
// that runs one of its parallel branches or map items, down the nesting,
// up to maxTrailRuns children. Called workflows are instances of their
// own, with diagrams of their own.
func (s *Server) trail(inst *store.Instance) (*diagram.Trail, error) {
	t := &diagram.Trail{}
	budget := maxTrailRuns
	var add func(in *store.Instance) error
	add = func(in *store.Instance) error {
		evs, err := s.steps(in.ID)
		if err != nil {
			return err
		}
		t.Add(in.Machine, evs, in.Status, in.State)
		for _, ev := range evs {
			if ev.Type != store.EventChildStarted || ev.Child == "" || budget == 0 {
				continue
			}
			budget--
			child, err := s.engine.Get(ev.Child)
			if errors.Is(err, store.ErrNotFound) {
				continue // purged, or an express run not yet stored
			}
			if err != nil {
				return err
			}
			if child.Machine == "" || child.Workflow != inst.Workflow {
				continue
			}
			if err := add(child); err != nil {
				return err
			}
		}
		return nil
	}
	return t, add(inst)
}

// steps reads a run's history a page at a time for its trail, keeping of
// each event only what the trail reads: a history has no bound of its
// own, and its data would be held whole for nothing.
func (s *Server) steps(id string) ([]store.Event, error) {
	var out []store.Event
	for after := uint64(0); ; {
		evs, err := s.engine.History(id, after, historyPage)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			out = append(out, store.Event{Seq: ev.Seq, Type: ev.Type, State: ev.State, Child: ev.Child})
		}
		if len(evs) < historyPage {
			return out, nil
		}
		after = evs[len(evs)-1].Seq
	}
}
