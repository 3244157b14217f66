package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	// IdempotencyKey is the key the start came with, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// start creates an instance: POST /v1/workflows/{name}/instances.
func (s *Server) start(ctx *fasthttp.RequestCtx, p []string) {
	body, ok := s.payload(ctx)
	if !ok {
		return
	}
	q := ctx.QueryArgs()
	wait, ok := s.waitArg(ctx)
	if !ok {
		return
	}
	// The commit runs to its end even when a shutdown ends the request's
	// context: a start half refused after it was written helps nobody.
	inst, existing, err := s.engine.Start(context.Background(), p[0], engine.StartOptions{
		ID: string(q.Peek("id")), IdempotencyKey: string(ctx.Request.Header.Peek("Idempotency-Key")),
		Version: string(q.Peek("version")), Input: body,
		TraceParent: string(ctx.Request.Header.Peek("traceparent")), Wait: wait > 0,
	})
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	var loc [64]byte // most locations fit: no allocation
	ctx.Response.Header.SetBytesV("Location", append(append(loc[:0], "/v1/instances/"...), inst.ID...))
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
		writeView(ctx, status, inst)
		return
	}
	if existing {
		writeView(ctx, fasthttp.StatusOK, inst)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, Started{ID: inst.ID, Workflow: inst.Workflow, Version: inst.Version, Status: inst.Status,
		IdempotencyKey: inst.IdempotencyKey})
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
			s.overLimit(fmt.Sprintf("body of %d bytes is", len(body))))
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
	writeView(ctx, fasthttp.StatusOK, inst)
}

// History is the answer of GET /v1/instances/{id}/history.
type History struct {
	Events []store.EventView `json:"events"`
	// ChainHead is the hash of the instance's last event and its seq, a
	// receipt of the whole history up to there (docs/api.md); absent
	// while no event of the instance is hashed.
	ChainHead *store.ChainHead `json:"chain_head,omitempty"`
}

// historyPage is how many events the history answer reads from the store
// at once. A history has no bound of its own (an instance that loops
// writes events for as long as it runs, each with data of up to
// --max-payload), so the answer is written a page at a time instead of
// read whole: 32 events of two 256 KiB payloads each hold 16 MiB at most.
const historyPage = 32

// history answers GET /v1/instances/{id}/history; after and limit page
// through long histories. A history longer than a page is streamed.
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
	id := p[0]
	// The record is read first, so that its head is an event the history
	// read after it holds.
	inst, err := s.engine.Get(id)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	head := inst.Head()
	page := func(after uint64, left int) ([]store.Event, error) {
		n := historyPage
		if left > 0 {
			n = min(n, left)
		}
		return s.engine.History(id, after, n)
	}
	// The first page is read here, so that a missing or damaged instance
	// is answered with its status.
	evs, err := page(uint64(after), limit)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if len(evs) < historyPage || len(evs) == limit {
		writeAppended(ctx, fasthttp.StatusOK, &History{Events: store.EventViews(evs), ChainHead: head})
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		sent := 0
		var b []byte // one event's JSON, reused
		w.WriteString(`{"events":[`)
		for {
			for i := range evs {
				if sent > 0 {
					w.WriteByte(',')
				}
				var err error
				if b, err = (*store.EventView)(&evs[i]).AppendJSON(b[:0]); err != nil {
					// The status is sent: cutting the answer short is what
					// is left to tell the client.
					s.opt.Log.Error("history answer cut short", "instance", id, "seq", evs[i].Seq, "err", err)
					return
				}
				w.Write(b)
				sent++
			}
			if len(evs) < historyPage || limit > 0 && sent >= limit {
				break
			}
			if err := w.Flush(); err != nil {
				return // the client went away
			}
			if evs, err = page(evs[len(evs)-1].Seq, limit-sent); err != nil {
				s.opt.Log.Error("history answer cut short", "instance", id, "err", err)
				return
			}
		}
		w.WriteByte(']')
		if head != nil {
			w.WriteString(`,"chain_head":`)
			w.Write(appendChainHead(b[:0], head))
		}
		w.WriteString("}\n")
	})
}

// List is the answer of GET /v1/instances.
type List struct {
	Instances  []store.View `json:"instances"`
	NextCursor string       `json:"next_cursor"`
}

const (
	maxListLimit     = 1000
	defaultListLimit = 100
)

// listCursor is what next_cursor carries: the listing's filters and page
// size beside the store's cursor, so that a cursor alone continues the
// listing it came from rather than listing everything after that point.
type listCursor struct {
	Workflow   string       `json:"w,omitempty"`
	Version    string       `json:"v,omitempty"`
	Status     store.Status `json:"s,omitempty"`
	IDContains string       `json:"i,omitempty"`
	Limit      int          `json:"l"`
	After      string       `json:"a"` // the store's cursor
}

// cursorPrefix marks a listCursor; a cursor without it is the store's own
// (handed out before cursors carried their listing).
const cursorPrefix = "L1."

// pageCursorOf is the next_cursor of a page of listing q whose store
// cursor is next ("" on the last page).
func pageCursorOf(q store.Query, next string) string {
	if next == "" {
		return ""
	}
	b, _ := json.Marshal(listCursor{Workflow: q.Workflow, Version: q.Version, Status: q.Status,
		IDContains: q.IDContains, Limit: q.Limit, After: next})
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// continueListing makes q the listing that cursor continues: its filters
// fill those q leaves out, and one that q gives otherwise is an error,
// since the cursor's place means nothing in another listing.
func continueListing(q *store.Query, cursor string) error {
	raw, ok := strings.CutPrefix(cursor, cursorPrefix)
	if !ok {
		q.Cursor = cursor
		return nil
	}
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.After == "" {
		return fmt.Errorf("%w %q: take next_cursor from a previous page", store.ErrBadCursor, cursor)
	}
	for _, f := range []struct {
		name      string
		req, from *string
	}{{"workflow", &q.Workflow, &c.Workflow}, {"version", &q.Version, &c.Version},
		{"status", (*string)(&q.Status), (*string)(&c.Status)}, {"id_contains", &q.IDContains, &c.IDContains}} {
		switch {
		case *f.req == "":
			*f.req = *f.from
		case *f.req != *f.from:
			return fmt.Errorf("the cursor continues a listing with %s=%q, not %q: leave the filter out or give the same", f.name, *f.from, *f.req)
		}
	}
	if q.Limit == 0 {
		q.Limit = c.Limit
	}
	q.Cursor = c.After
	return nil
}

// list answers GET /v1/instances, newest first.
func (s *Server) list(ctx *fasthttp.RequestCtx, _ []string) {
	q, ok := query(ctx)
	if !ok {
		return
	}
	limit, ok := intArg(ctx, ctx.QueryArgs(), "limit", 0)
	if !ok {
		return
	}
	if limit > maxListLimit || limit == 0 && len(ctx.QueryArgs().Peek("limit")) > 0 {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("limit must be 1 to %d", maxListLimit))
		return
	}
	q.Limit = limit
	if c := ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		if err := continueListing(&q, string(c)); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, err.Error())
			return
		}
	}
	if q.Limit == 0 {
		q.Limit = defaultListLimit
	}
	var insts []*store.Instance
	var next string
	var err error
	if key := ctx.QueryArgs().Peek("idempotency_key"); len(key) > 0 {
		insts, err = s.engine.ByKey(string(key), q)
	} else {
		insts, next, err = s.engine.List(q)
	}
	if errors.Is(err, store.ErrBadCursor) {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	writeAppended(ctx, fasthttp.StatusOK, &List{Instances: store.Views(insts), NextCursor: pageCursorOf(q, next)})
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
	var groups []store.Tally
	var err error
	if key := ctx.QueryArgs().Peek("idempotency_key"); len(key) > 0 {
		var insts []*store.Instance
		if insts, err = s.engine.ByKey(string(key), q); len(insts) > 0 {
			in := insts[0]
			groups = []store.Tally{{Workflow: in.Workflow, Version: in.Version, Status: in.Status, Count: 1}}
		}
	} else {
		groups, err = s.engine.Count(q)
	}
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
			writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown status %q: want one of %s (in any letter case)", st, statusNames))
			return q, false
		}
	}
	return q, true
}

// statusNames lists the statuses for the error of an unknown one.
var statusNames = func() string {
	names := make([]string, len(store.Statuses))
	for i, st := range store.Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}()

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
	writeView(ctx, fasthttp.StatusOK, inst)
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
