package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Started is the answer of an asynchronous start (201): the first fields
// of the instance, whose shape every other answer about an instance has.
type Started struct {
	ID       string       `json:"id"`
	Workflow string       `json:"workflow"`
	Version  string       `json:"version"`
	Status   store.Status `json:"status"`
}

// start creates an instance: POST /v1/workflows/{name}/instances.
func (s *Server) start(ctx *fasthttp.RequestCtx, p []string) {
	body, ok := s.payload(ctx)
	if !ok {
		return
	}
	q := ctx.QueryArgs()
	id := string(q.Peek("id"))
	if key := string(ctx.Request.Header.Peek("Idempotency-Key")); key != "" {
		if id != "" && id != key {
			writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "query id and Idempotency-Key header differ")
			return
		}
		id = key
	}
	wait, ok := s.waitArg(ctx)
	if !ok {
		return
	}
	// The commit runs to its end even when a shutdown ends the request's
	// context: a start half refused after it was written helps nobody.
	inst, existing, err := s.engine.Start(context.Background(), p[0], engine.StartOptions{
		ID: id, Version: string(q.Peek("version")), Input: body,
		TraceParent: string(ctx.Request.Header.Peek("traceparent")), Wait: wait > 0,
	})
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	ctx.Response.Header.Set("Location", "/v1/instances/"+inst.ID)
	if wait > 0 {
		if inst, err = s.waitForEnd(inst, wait); err != nil {
			s.writeEngineError(ctx, err)
			return
		}
		// A waited start answers the whole instance whether it ended or
		// not; its status says which. 201 still tells a new one from a
		// repeat or an end.
		status := fasthttp.StatusCreated
		if existing || inst.Status.Terminal() {
			status = fasthttp.StatusOK
		}
		writeJSON(ctx, status, inst.Public)
		return
	}
	if existing {
		writeJSON(ctx, fasthttp.StatusOK, inst.Public)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, Started{ID: inst.ID, Workflow: inst.Workflow, Version: inst.Version, Status: inst.Status})
}

// waitArg reads the query's wait, a duration capped at MaxWait (0: none),
// answering 400 when it is not one.
func (s *Server) waitArg(ctx *fasthttp.RequestCtx) (time.Duration, bool) {
	w := ctx.QueryArgs().Peek("wait")
	if len(w) == 0 {
		return 0, true
	}
	d, err := time.ParseDuration(string(w))
	if err != nil || d < 0 {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("wait %q is not a duration like 30s", w))
		return 0, false
	}
	return min(d, s.opt.MaxWait), true
}

// waitForEnd waits up to wait for inst to end and returns it as it is
// then. A shutdown ends the wait, so that a waiting client is answered at
// once instead of holding the server up.
func (s *Server) waitForEnd(inst *store.Instance, wait time.Duration) (*store.Instance, error) {
	if inst.Status.Terminal() || wait <= 0 {
		return inst, nil
	}
	wctx, cancel := context.WithTimeout(s.closing, wait)
	defer cancel()
	return s.engine.Wait(wctx, inst.ID)
}

// payload checks a request body: at most MaxPayload bytes of JSON; empty
// means null. It answers the error itself when the body is not fit.
func (s *Server) payload(ctx *fasthttp.RequestCtx) (json.RawMessage, bool) {
	body := ctx.PostBody()
	if len(body) > s.opt.MaxPayload {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("body of %d bytes exceeds the limit of %d", len(body), s.opt.MaxPayload))
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true
	}
	if !json.Valid(body) {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "body is not valid JSON")
		return nil, false
	}
	return body, true
}

// get answers GET /v1/instances/{id}; with wait, once the instance ends
// or the wait elapses, whichever comes first (long polling).
func (s *Server) get(ctx *fasthttp.RequestCtx, p []string) {
	wait, ok := s.waitArg(ctx)
	if !ok {
		return
	}
	inst, err := s.engine.Get(p[0])
	if err == nil {
		inst, err = s.waitForEnd(inst, wait)
	}
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, inst.Public)
}

// History is the answer of GET /v1/instances/{id}/history.
type History struct {
	Events []store.Event `json:"events"`
}

// history answers GET /v1/instances/{id}/history; after and limit page
// through long histories.
func (s *Server) history(ctx *fasthttp.RequestCtx, p []string) {
	q := ctx.QueryArgs()
	after, ok := intArg(ctx, q, "after", 0)
	if !ok {
		return
	}
	limit, ok := intArg(ctx, q, "limit", 0)
	if !ok {
		return
	}
	evs, err := s.engine.History(p[0], uint64(after), limit)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if evs == nil {
		evs = []store.Event{}
	}
	writeJSON(ctx, fasthttp.StatusOK, History{Events: evs})
}

// List is the answer of GET /v1/instances.
type List struct {
	Instances  []store.Public `json:"instances"`
	NextCursor string         `json:"next_cursor"`
}

const maxListLimit = 1000

// list answers GET /v1/instances, newest first.
func (s *Server) list(ctx *fasthttp.RequestCtx, _ []string) {
	q, ok := query(ctx)
	if !ok {
		return
	}
	limit, ok := intArg(ctx, ctx.QueryArgs(), "limit", 100)
	if !ok {
		return
	}
	if limit <= 0 || limit > maxListLimit {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("limit must be 1 to %d", maxListLimit))
		return
	}
	q.Limit, q.Cursor = limit, string(ctx.QueryArgs().Peek("cursor"))
	insts, next, err := s.engine.List(q)
	if errors.Is(err, store.ErrBadCursor) {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	out := List{Instances: make([]store.Public, len(insts)), NextCursor: next}
	for i, in := range insts {
		out.Instances[i] = in.Public
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// Counts is the answer of GET /v1/counts.
type Counts struct {
	// Total is how many instances the filters select.
	Total int `json:"total"`
	// ByStatus has every status, those without instances at 0.
	ByStatus map[store.Status]int `json:"by_status"`
	// Groups tallies the instances by workflow, version and status.
	Groups []store.Tally `json:"groups"`
}

// count answers GET /v1/counts: the instances the list's filters select,
// counted by status and by workflow, version and status.
func (s *Server) count(ctx *fasthttp.RequestCtx, _ []string) {
	q, ok := query(ctx)
	if !ok {
		return
	}
	groups, err := s.engine.Count(q)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	out := Counts{ByStatus: make(map[store.Status]int, len(store.Statuses)), Groups: groups}
	if out.Groups == nil {
		out.Groups = []store.Tally{}
	}
	for _, st := range store.Statuses {
		out.ByStatus[st] = 0
	}
	for _, g := range groups {
		out.ByStatus[g.Status] += g.Count
		out.Total += g.Count
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// query reads the filters that GET /v1/instances and GET /v1/counts share:
// workflow, version, status (in any letter case) and id_contains.
func query(ctx *fasthttp.RequestCtx) (store.Query, bool) {
	args := ctx.QueryArgs()
	q := store.Query{Workflow: string(args.Peek("workflow")), Version: string(args.Peek("version")),
		IDContains: string(args.Peek("id_contains"))}
	if st := args.Peek("status"); len(st) > 0 {
		q.Status = store.Status(bytes.ToUpper(st))
		if !slices.Contains(store.Statuses, q.Status) {
			writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown status %q", st))
			return q, false
		}
	}
	return q, true
}

// intArg reads a non-negative integer query argument, answering 400 when
// it is not one.
func intArg(ctx *fasthttp.RequestCtx, q *fasthttp.Args, name string, def int) (int, bool) {
	v := q.Peek(name)
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s %q is not a non-negative integer", name, v))
		return 0, false
	}
	return n, true
}

// Accepted is the answer of the control endpoints (202).
type Accepted struct {
	ID     string       `json:"id"`
	Status store.Status `json:"status,omitempty"`
}

// Delivered is the answer of the event endpoint without wait (202).
type Delivered struct {
	ID    string `json:"id"`
	Event string `json:"event"`
	// Delivery is "consumed" when the instance (or one running inside it)
	// waits for the event and takes it at once, "kept" when the event is
	// kept until an await takes it.
	Delivery engine.Delivery `json:"delivery"`
}

// send delivers an event: POST /v1/instances/{id}/events/{event}. With
// wait, it then answers as GET with wait does: the instance once it ends
// or the wait elapses.
func (s *Server) send(ctx *fasthttp.RequestCtx, p []string) {
	body, ok := s.payload(ctx)
	if !ok {
		return
	}
	wait, ok := s.waitArg(ctx)
	if !ok {
		return
	}
	delivery, err := s.engine.Deliver(context.Background(), p[0], p[1], body)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if wait == 0 {
		writeJSON(ctx, fasthttp.StatusAccepted, Delivered{ID: p[0], Event: p[1], Delivery: delivery})
		return
	}
	inst, err := s.engine.Get(p[0])
	if err == nil {
		inst, err = s.waitForEnd(inst, wait)
	}
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	ctx.Response.Header.Set(DeliveryHeader, string(delivery))
	writeJSON(ctx, fasthttp.StatusOK, inst.Public)
}

// DeliveryHeader carries the Delivery of an event delivered with wait,
// whose body is the instance.
const DeliveryHeader = "Orbit-Delivery"

func (s *Server) cancel(ctx *fasthttp.RequestCtx, p []string) { s.control(ctx, p[0], s.engine.Cancel) }
func (s *Server) pause(ctx *fasthttp.RequestCtx, p []string)  { s.control(ctx, p[0], s.engine.Pause) }
func (s *Server) resume(ctx *fasthttp.RequestCtx, p []string) { s.control(ctx, p[0], s.engine.Resume) }
func (s *Server) redrive(ctx *fasthttp.RequestCtx, p []string) {
	s.control(ctx, p[0], s.engine.Redrive)
}

// control runs one of the engine's instance controls. The engine answers
// once the change is checkpointed, so the status reported is the new one;
// but a pause waits for the running step, which may be a long call, so
// past ControlWait the request is answered as accepted and the change
// lands when the step ends.
func (s *Server) control(ctx *fasthttp.RequestCtx, id string, do func(string) error) {
	done := make(chan error, 1)
	go func() { done <- do(id) }()
	timer := time.NewTimer(s.opt.ControlWait)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			s.writeEngineError(ctx, err)
			return
		}
	case <-timer.C:
		go func() {
			if err := <-done; err != nil {
				args := []any{flow.LogInstance, id, "err", err}
				if in, gerr := s.engine.Get(id); gerr == nil {
					args = flow.InstanceLog(in.ID, in.Workflow, in.Version, in.State, in.TraceParent, "err", err)
				}
				s.opt.Log.Warn("instance control failed after its request was answered", args...)
			}
		}()
	}
	out := Accepted{ID: id}
	if inst, err := s.engine.Get(id); err == nil {
		out.Status = inst.Status
	}
	writeJSON(ctx, fasthttp.StatusAccepted, out)
}
