package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// StartOptions are the optional parts of a start.
type StartOptions struct {
	// ID makes the start idempotent: a repeat with the same input answers
	// the instance already started; with another input, ErrConflict. Any
	// printable text the sidecar accepts as a key (docs/api.md).
	ID string
	// Version runs the newest kept bundle whose workflow carries it.
	Version string
	// Wait answers when the instance ends or Wait passes, with the whole
	// instance either way (its Status says which); 0 answers at once with
	// ID, Workflow, Version and Status.
	Wait time.Duration
	// TraceParent is a W3C trace context the instance's calls carry on.
	TraceParent string
}

// Start starts an instance of workflow with input: a value to marshal, or
// JSON text as json.RawMessage or []byte (nil: null).
func (c *Client) Start(ctx context.Context, workflow string, input any, opts *StartOptions) (*Instance, error) {
	if opts == nil {
		opts = &StartOptions{}
	}
	b, err := body(input)
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: "/v1/workflows/" + seg(workflow) + "/instances",
		query: url.Values{}, body: b, wait: opts.Wait}
	if opts.ID != "" {
		r.header = http.Header{"Idempotency-Key": {opts.ID}}
	}
	if opts.Version != "" {
		r.query.Set("version", opts.Version)
	}
	if opts.Wait > 0 {
		r.query.Set("wait", durationArg(opts.Wait))
	}
	if opts.TraceParent != "" {
		if r.header == nil {
			r.header = http.Header{}
		}
		r.header.Set("traceparent", opts.TraceParent)
	}
	return call[Instance](ctx, c, r)
}

// Get reads an instance.
func (c *Client) Get(ctx context.Context, id string) (*Instance, error) {
	return call[Instance](ctx, c, request{method: http.MethodGet, path: "/v1/instances/" + seg(id)})
}

// serverWait is the longest wait one request asks for; the sidecar caps
// its own at 5 minutes, and a longer wait is several requests.
const serverWait = time.Minute

// Wait waits until the instance ends, d passes (d <= 0: until ctx ends)
// or ctx ends, and returns the instance as it is then: its Status says
// whether it ended. The sidecar holds each request until then (long
// polling), so nothing is polled in a loop.
func (c *Client) Wait(ctx context.Context, id string, d time.Duration) (*Instance, error) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	for {
		step := serverWait
		if dl, ok := ctx.Deadline(); ok {
			step = min(step, time.Until(dl))
		}
		if !deadline.IsZero() {
			step = min(step, time.Until(deadline))
		}
		if step <= 0 {
			return c.Get(ctx, id)
		}
		asked := time.Now()
		r := request{method: http.MethodGet, path: "/v1/instances/" + seg(id),
			query: url.Values{"wait": {durationArg(step)}}, wait: step}
		inst, err := call[Instance](ctx, c, r)
		if err != nil || inst.Status.Ended() || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return inst, err
		}
		// An answer before the wait elapsed for an instance that has not
		// ended comes from a sidecar shutting down: let it go first.
		if time.Since(asked) < step/2 {
			if err := sleep(ctx, time.Second); err != nil {
				return nil, err
			}
		}
	}
}

// sleep pauses for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// HistoryOptions page through a long history.
type HistoryOptions struct {
	// After skips the events up to this seq.
	After uint64
	// Limit answers at most this many events (0: all).
	Limit int
}

// History reads an instance's history, oldest first.
func (c *Client) History(ctx context.Context, id string, opts *HistoryOptions) ([]Event, error) {
	q := url.Values{}
	if opts != nil && opts.After > 0 {
		q.Set("after", strconv.FormatUint(opts.After, 10))
	}
	if opts != nil && opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	h, err := call[struct {
		Events []Event `json:"events"`
	}](ctx, c, request{method: http.MethodGet, path: "/v1/instances/" + seg(id) + "/history", query: q})
	if err != nil {
		return nil, err
	}
	return h.Events, nil
}

// Receipt reads the head of an instance's history chain, to keep as a
// receipt of its history; nil while none of its events is hashed.
func (c *Client) Receipt(ctx context.Context, id string) (*ChainHead, error) {
	h, err := call[struct {
		ChainHead *ChainHead `json:"chain_head"`
	}](ctx, c, request{method: http.MethodGet, path: "/v1/instances/" + seg(id) + "/history",
		query: url.Values{"limit": {"1"}}})
	if err != nil {
		return nil, err
	}
	return h.ChainHead, nil
}

// Backup writes a consistent copy of the sidecar's data file, taken while
// it serves (GET /v1/backup), to w and returns its length. The copy is
// whole only when the error is nil; `orbit verify` checks it.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/backup"})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("received %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		return n, fmt.Errorf("read the backup: %w", err)
	}
	return n, nil
}

// Send delivers an event with a payload (as Start's input). The answer
// says whether the instance took it at once (Consumed) or it is kept
// until the instance awaits it (Kept). An event the instance's workflow can
// never await is ErrUnknownEvent.
func (c *Client) Send(ctx context.Context, id, event string, payload any) (*Delivery, error) {
	b, err := body(payload)
	if err != nil {
		return nil, err
	}
	return call[Delivery](ctx, c, request{method: http.MethodPost, path: eventPath(id, event), body: b})
}

// SendAndWait delivers an event, then waits as Wait does for at most wait
// (the sidecar caps it at 5 minutes), and returns the instance as it is
// then, with what became of the event.
func (c *Client) SendAndWait(ctx context.Context, id, event string, payload any, wait time.Duration) (*Instance, DeliveryKind, error) {
	b, err := body(payload)
	if err != nil {
		return nil, "", err
	}
	r := request{method: http.MethodPost, path: eventPath(id, event), body: b,
		query: url.Values{"wait": {durationArg(wait)}}, wait: wait}
	a, err := c.do(ctx, r)
	if err != nil {
		return nil, "", err
	}
	inst, err := decode[Instance](a.body, r)
	if err != nil {
		return nil, "", err
	}
	return inst, DeliveryKind(a.header.Get("Orbit-Delivery")), nil
}

func eventPath(id, event string) string {
	return "/v1/instances/" + seg(id) + "/events/" + seg(event)
}

// Cancel ends an instance CANCELLED, with its child instances; ErrEnded
// when it had ended.
func (c *Client) Cancel(ctx context.Context, id string) (*Control, error) {
	return c.control(ctx, id, "cancel")
}

// Pause stops an instance after its running step checkpoints.
func (c *Client) Pause(ctx context.Context, id string) (*Control, error) {
	return c.control(ctx, id, "pause")
}

// Resume undoes a pause; ErrConflict when the instance is not paused.
func (c *Client) Resume(ctx context.Context, id string) (*Control, error) {
	return c.control(ctx, id, "resume")
}

// Redrive runs a FAILED or TIMED_OUT instance again from the state that
// failed; ErrConflict for any other status.
func (c *Client) Redrive(ctx context.Context, id string) (*Control, error) {
	return c.control(ctx, id, "redrive")
}

func (c *Client) control(ctx context.Context, id, verb string) (*Control, error) {
	return call[Control](ctx, c, request{method: http.MethodPost, path: "/v1/instances/" + seg(id) + "/" + verb})
}

// ListOptions select and page instances; every field is optional.
type ListOptions struct {
	Workflow string
	Version  string
	// Status selects one status, in any letter case.
	Status Status
	// IDContains selects instances whose id holds this text.
	IDContains string
	// IdempotencyKey selects the instance started with this key (a page
	// of one or none).
	IdempotencyKey string
	// Limit is the page size (the sidecar's default is 100, at most 1000).
	Limit int
	// Cursor is the NextCursor of the page before.
	Cursor string
}

// ListPage reads one page of instances, newest first.
func (c *Client) ListPage(ctx context.Context, opts *ListOptions) (*Page, error) {
	q := url.Values{}
	if opts != nil {
		for k, v := range map[string]string{"workflow": opts.Workflow, "version": opts.Version,
			"status": string(opts.Status), "id_contains": opts.IDContains, "cursor": opts.Cursor,
			"idempotency_key": opts.IdempotencyKey} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
	}
	return call[Page](ctx, c, request{method: http.MethodGet, path: "/v1/instances", query: q})
}

// List iterates over every instance the options select, newest first,
// reading page after page as the loop goes on. An error ends the
// iteration as its last pair.
func (c *Client) List(ctx context.Context, opts *ListOptions) iter.Seq2[*Instance, error] {
	return func(yield func(*Instance, error) bool) {
		o := ListOptions{}
		if opts != nil {
			o = *opts
		}
		for {
			p, err := c.ListPage(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range p.Instances {
				if !yield(&p.Instances[i], nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			o.Cursor = p.NextCursor
		}
	}
}

// MigrateOptions are the optional parts of a migration.
type MigrateOptions struct {
	// DryRun changes nothing and answers what would happen.
	DryRun bool
}

// Migrate moves one waiting instance to the newest kept bundle whose
// workflow carries version. An instance that cannot move is no error:
// the Migration says so (Moved false) and why (Reason).
func (c *Client) Migrate(ctx context.Context, id, version string, opts *MigrateOptions) (*Migration, error) {
	r := request{method: http.MethodPost, path: "/v1/instances/" + seg(id) + "/migrate", query: migrateQuery(version, opts)}
	a, err := c.do(ctx, r)
	var e *Error
	if errors.As(err, &e) && e.Code == ErrConflict {
		// The refusal carries the migration beside the error.
		if m, derr := decode[Migration](e.body, r); derr == nil && m.Instance != "" {
			return m, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return decode[Migration](a.body, r)
}

// MigrateWorkflow moves every unfinished top-level instance of workflow,
// one after another, and says for each whether it moved.
func (c *Client) MigrateWorkflow(ctx context.Context, workflow, version string, opts *MigrateOptions) ([]Migration, error) {
	l, err := call[struct {
		Migrations []Migration `json:"migrations"`
	}](ctx, c, request{method: http.MethodPost, path: "/v1/workflows/" + seg(workflow) + "/migrate",
		query: migrateQuery(version, opts)})
	if err != nil {
		return nil, err
	}
	return l.Migrations, nil
}

func migrateQuery(version string, opts *MigrateOptions) url.Values {
	q := url.Values{"version": {version}}
	if opts != nil && opts.DryRun {
		q.Set("dry_run", "true")
	}
	return q
}
