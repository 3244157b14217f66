package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/client"
	"github.com/orbit-sidecar/orbit/internal/apitest"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// fixture is a sidecar serving the workflows the tests use.
type fixture struct {
	sidecar *apitest.Sidecar
	held    *flowtest.Gate // holds the "held" workflow's only step
	failing atomic.Bool    // makes the "flaky" workflow's task fail
}

func newFixture(t *testing.T, opt api.Options) *fixture {
	f := &fixture{held: flowtest.NewGate()}
	f.failing.Store(true)
	t.Cleanup(f.held.Open)
	echo := flow.RoutineFunc(func(_ context.Context, in any, _ *flow.Context) (any, error) { return in, nil })
	b := flowtest.Bundle(
		flowtest.Workflow("echo", "Echo", &flow.State{Name: "Echo", Kind: flow.Task, RoutineName: "echo", Routine: echo}),
		flowtest.Workflow("approval", "Review",
			&flow.State{Name: "Review", Kind: flow.Await, Event: "approved", Result: flow.MustPath("$.answer")}),
		flowtest.Workflow("held", "Hold", &flow.State{Name: "Hold", Kind: flow.Task, Routine: f.held.Routine()}),
		flowtest.Workflow("late", "Hold",
			&flow.State{Name: "Hold", Kind: flow.Task, Next: "Review", Routine: f.held.Routine()},
			&flow.State{Name: "Review", Kind: flow.Await, Event: "approved", Result: flow.MustPath("$.answer")}),
		flowtest.Workflow("flaky", "Try",
			&flow.State{Name: "Try", Kind: flow.Task, Routine: flow.RoutineFunc(func(_ context.Context, in any, _ *flow.Context) (any, error) {
				if f.failing.Load() {
					return nil, flow.Errorf("Boom", "failing on purpose")
				}
				return "fixed", nil
			})}),
	)
	f.sidecar = apitest.Start(t, b, opt, bolt.Options{NoSync: true})
	return f
}

func (f *fixture) client(opts ...client.Option) *client.Client {
	return client.New(f.sidecar.URL, opts...)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must takes a call's value and error; the returned function fails the
// test on the error and returns the value: must(c.Get(ctx, id))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantCode checks that err is the API's error with this code and status.
func wantCode(t *testing.T, err error, code client.Code, status int) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || !errors.Is(err, code) || e.Status != status || e.Message == "" {
		t.Fatalf("error %v (%#v), want %s with status %d and a message", err, e, code, status)
	}
}

func TestStartAwaitSendAndWaitForTheEnd(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	in := must(c.Start(ctx, "approval", map[string]any{"order": 7}, &client.StartOptions{ID: "o-1"}))(t)
	if in.ID != "o-1" || in.Workflow != "approval" || in.Version != "v1" || in.Status == "" {
		t.Fatalf("started %+v", in)
	}
	again := must(c.Start(ctx, "approval", json.RawMessage(`{"order": 7}`), &client.StartOptions{ID: "o-1"}))(t)
	if again.ID != "o-1" || string(again.Input) != `{"order":7}` {
		t.Fatalf("an idempotent repeat answered %+v", again)
	}
	_, err := c.Start(ctx, "approval", map[string]any{"order": 8}, &client.StartOptions{ID: "o-1"})
	wantCode(t, err, client.ErrConflict, 409)

	w := must(c.Wait(ctx, "o-1", 50*time.Millisecond))(t)
	for w.Waiting == nil {
		w = must(c.Wait(ctx, "o-1", 50*time.Millisecond))(t)
	}
	if w.Status != client.Waiting || w.Waiting.Kind != client.WaitEvent || w.Waiting.Event != "approved" {
		t.Fatalf("waiting instance %+v, waiting %+v", w, w.Waiting)
	}
	d := must(c.Send(ctx, "o-1", "approved", "yes"))(t)
	if d.ID != "o-1" || d.Event != "approved" || d.Delivery != client.Consumed {
		t.Fatalf("delivery %+v, want consumed", d)
	}
	end := must(c.Wait(ctx, "o-1", 0))(t)
	if end.Status != client.Succeeded || !end.Status.Ended() || string(end.Output) != `{"answer":"yes","order":7}` || end.EndedAt == nil {
		t.Fatalf("ended %+v", end)
	}
	h := must(c.History(ctx, "o-1", nil))(t)
	var types []string
	for _, e := range h {
		types = append(types, e.Type)
	}
	if len(h) < 4 || h[0].Seq != 1 || h[0].Type != "ExecutionStarted" || !slices.Contains(types, "EventReceived") ||
		types[len(types)-1] != "ExecutionSucceeded" {
		t.Fatalf("history %v", types)
	}
	page := must(c.History(ctx, "o-1", &client.HistoryOptions{After: 1, Limit: 2}))(t)
	if len(page) != 2 || page[0].Seq != 2 {
		t.Fatalf("history after 1, limit 2: %+v", page)
	}
	_, err = c.Send(ctx, "o-1", "approved", nil)
	wantCode(t, err, client.ErrEnded, 409)
}

func TestPauseResumeCancelRedrive(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	must(c.Start(ctx, "approval", nil, &client.StartOptions{ID: "p-1"}))(t)
	if r := must(c.Pause(ctx, "p-1"))(t); r.ID != "p-1" || r.Status != client.Paused {
		t.Fatalf("pause answered %+v", r)
	}
	if r := must(c.Resume(ctx, "p-1"))(t); r.Status == client.Paused {
		t.Fatalf("resume answered %+v", r)
	}
	_, err := c.Resume(ctx, "p-1")
	wantCode(t, err, client.ErrConflict, 409)
	if r := must(c.Cancel(ctx, "p-1"))(t); r.Status != client.Cancelled {
		t.Fatalf("cancel answered %+v", r)
	}
	_, err = c.Cancel(ctx, "p-1")
	wantCode(t, err, client.ErrEnded, 409)

	failed := must(c.Start(ctx, "flaky", nil, &client.StartOptions{Wait: 10 * time.Second}))(t)
	if failed.Status != client.Failed || failed.Error != "Boom" {
		t.Fatalf("flaky ended %+v", failed)
	}
	f.failing.Store(false)
	must(c.Redrive(ctx, failed.ID))(t)
	if end := must(c.Wait(ctx, failed.ID, 0))(t); end.Status != client.Succeeded || string(end.Output) != `"fixed"` {
		t.Fatalf("redriven instance ended %+v", end)
	}
}

func TestListIteratesOverEveryPage(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	var ids []string
	for i := range 5 {
		in := must(c.Start(ctx, "echo", i, &client.StartOptions{Wait: 10 * time.Second}))(t)
		ids = append([]string{in.ID}, ids...) // newest first
	}
	must(c.Start(ctx, "approval", nil, nil))(t)
	var got []string
	for in, err := range c.List(ctx, &client.ListOptions{Workflow: "echo", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v newest first", got, ids)
	}
	n := 0
	for range c.List(ctx, &client.ListOptions{Status: "succeeded", Limit: 2}) {
		if n++; n == 3 {
			break
		}
	}
	p := must(c.ListPage(ctx, &client.ListOptions{Workflow: "echo", Limit: 4}))(t)
	if len(p.Instances) != 4 || p.NextCursor == "" {
		t.Fatalf("first page %+v", p)
	}
	for _, err := range c.List(ctx, &client.ListOptions{Status: "nope"}) {
		wantCode(t, err, client.ErrBadRequest, 400)
	}
}

func TestErrorsHaveTheirCodes(t *testing.T) {
	f := newFixture(t, api.Options{Token: "tk", MaxPayload: 1 << 10})
	c, ctx := f.client(client.WithToken("tk")), ctxFor(t)
	_, err := c.Get(ctx, "nobody")
	wantCode(t, err, client.ErrNotFound, 404)
	_, err = c.Start(ctx, "nothing", nil, nil)
	wantCode(t, err, client.ErrUnknownWorkflow, 404)
	_, err = c.Start(ctx, "echo", strings.Repeat("x", 2<<10), nil)
	wantCode(t, err, client.ErrPayloadTooLarge, 413)
	_, err = c.Start(ctx, "echo", []byte(`{"a":`), nil)
	wantCode(t, err, client.ErrBadRequest, 400)
	_, err = f.client(client.WithToken("wrong")).Get(ctx, "nobody")
	wantCode(t, err, client.ErrUnauthorized, 401)
	if err.Error() != "unauthorized: missing or wrong bearer token" {
		t.Fatalf("error reads %q", err)
	}
	_, err = client.New("127.0.0.1:1").Get(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "cannot reach the sidecar at http://127.0.0.1:1") {
		t.Fatalf("unreachable sidecar: %v", err)
	}
}

// recorder is a transport that notes every answer's status and calls
// onStatus with it.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	onStatus func(int)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.statuses = append(r.statuses, resp.StatusCode)
		r.mu.Unlock()
		if r.onStatus != nil {
			r.onStatus(resp.StatusCode)
		}
	}
	return resp, err
}

func (r *recorder) seen() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.statuses)
}

func TestTooManyRequestsIsRetriedAfterRetryAfter(t *testing.T) {
	f := newFixture(t, api.Options{MaxInFlight: 1})
	ctx := ctxFor(t)
	// A waited start holds the only request slot until the gate opens.
	started := make(chan error, 1)
	go func() {
		_, err := f.client().Start(ctx, "held", nil, &client.StartOptions{ID: "h-1", Wait: 20 * time.Second})
		started <- err
	}()
	c := f.client(client.WithRetries(0))
	var err error
	for {
		if _, err = c.Get(ctx, "h-1"); errors.Is(err, client.ErrTooManyRequests) {
			break
		}
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 429 || e.RetryAfter != time.Second {
		t.Fatalf("refusal %#v, want 429 with Retry-After 1s", e)
	}
	// With retries, the first refusal opens the gate; the retry, a second
	// later, finds the slot free.
	rec := &recorder{onStatus: func(status int) {
		if status == 429 {
			f.held.Open()
		}
	}}
	retrying := f.client(client.WithHTTPClient(&http.Client{Transport: rec}))
	begin := time.Now()
	in, err := retrying.Get(ctx, "h-1")
	if err != nil || in.ID != "h-1" {
		t.Fatalf("retried get: %+v, %v", in, err)
	}
	if s := rec.seen(); len(s) < 2 || s[0] != 429 || s[len(s)-1] != 200 || time.Since(begin) < time.Second {
		t.Fatalf("answers %v in %s, want 429 then 200 after Retry-After", s, time.Since(begin))
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
}

func TestUnavailableIsRetriedWithBackoff(t *testing.T) {
	f := newFixture(t, api.Options{})
	// While the store cannot write, a start is refused with 503; the
	// refusal asks for a 5s pause, which a short context cannot give, so
	// the client answers the refusal at once.
	f.sidecar.Faults.FailWrites(errors.New("disk full"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rec := &recorder{}
	_, err := f.client(client.WithHTTPClient(&http.Client{Transport: rec})).Start(ctx, "echo", 1, nil)
	wantCode(t, err, client.ErrUnavailable, 503)
	var e *client.Error
	if errors.As(err, &e); e.RetryAfter != 5*time.Second || len(rec.seen()) != 1 {
		t.Fatalf("refusal %#v after answers %v, want one 503 with Retry-After 5s", e, rec.seen())
	}
	// With time enough, the retry after the pause goes through once the
	// store heals.
	rec.onStatus = func(status int) {
		if status == 503 {
			f.sidecar.Faults.Heal()
		}
	}
	in, err := f.client(client.WithHTTPClient(&http.Client{Transport: rec})).Start(ctxFor(t), "echo", 2, &client.StartOptions{Wait: 10 * time.Second})
	if err != nil || in.Status != client.Succeeded {
		t.Fatalf("start after the store healed: %+v, %v", in, err)
	}
}

// TestClientKnowsEveryField decodes the API's answers strictly into the
// client's types, so that a field the API adds fails here until the
// client carries it.
func TestClientKnowsEveryField(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	must(c.Start(ctx, "approval", json.RawMessage(`{"n":1}`), &client.StartOptions{ID: "k-1"}))(t)
	w := must(c.Wait(ctx, "k-1", 50*time.Millisecond))(t)
	for w.Waiting == nil {
		w = must(c.Wait(ctx, "k-1", 50*time.Millisecond))(t)
	}
	must(c.Send(ctx, "k-1", "approved", nil))(t)
	must(c.Wait(ctx, "k-1", 0))(t)
	strict := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(f.sidecar.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("GET %s: the client's %T lacks a field: %v", path, v, err)
		}
	}
	strict("/v1/instances/k-1", &client.Instance{})
	strict("/v1/instances/k-1/history", &struct {
		Events    []client.Event    `json:"events"`
		ChainHead *client.ChainHead `json:"chain_head"`
	}{})
	strict("/v1/instances", &client.Page{})
	var waiting bytes.Buffer
	json.NewEncoder(&waiting).Encode(w)
	dec := json.NewDecoder(&waiting)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&client.Instance{}); err != nil {
		t.Fatal(err)
	}
}

func TestEarlyEventIsKeptThenTaken(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	must(c.Start(ctx, "late", nil, &client.StartOptions{ID: "l-1"}))(t)
	d := must(c.Send(ctx, "l-1", "approved", json.RawMessage(`1`)))(t)
	if d.Delivery != client.Kept {
		t.Fatalf("delivery %+v before the instance awaits, want kept", d)
	}
	f.held.Open()
	if end := must(c.Wait(ctx, "l-1", 0))(t); end.Status != client.Succeeded || string(end.Output) != `{"answer":1}` {
		t.Fatalf("ended %+v", end)
	}
}

func TestSendAndWaitAnswersTheEndedInstance(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	must(c.Start(ctx, "approval", nil, &client.StartOptions{ID: "a-1"}))(t)
	// Sent before the instance awaits it, the event would be kept, not
	// consumed, and the wait would still end the same.
	orbittest.Until(t, 10*time.Second, "a-1 awaits its event", func() (*client.Instance, error) { return c.Get(ctx, "a-1") },
		func(in *client.Instance) bool { return in.Waiting != nil })
	in, kind, err := c.SendAndWait(ctx, "a-1", "approved", "ok", 10*time.Second)
	if err != nil || in.Status != client.Succeeded || string(in.Output) != `{"answer":"ok"}` || kind != client.Consumed {
		t.Fatalf("send and wait: %+v, %q, %v", in, kind, err)
	}
	must(c.Start(ctx, "approval", nil, &client.StartOptions{ID: "a-2"}))(t)
	_, err = c.Send(ctx, "a-2", "aproved", nil)
	wantCode(t, err, client.ErrUnknownEvent, 422)
}

// TestCodesAreTheDocumentedOnes compares the client's error codes with the
// table of docs/api.md, the list users read.
func TestCodesAreTheDocumentedOnes(t *testing.T) {
	var have []string
	for _, c := range client.Codes {
		have = append(have, string(c))
	}
	slices.Sort(have)
	if documented := orbittest.ErrorCodes(t, "../docs/api.md"); !slices.Equal(have, documented) {
		t.Fatalf("client codes %v, docs/api.md documents %v", have, documented)
	}
}

// TestReceiptAndBackup keeps an instance's receipt, backs the store up
// while it serves, and finds the receipt's event in the verified copy.
func TestReceiptAndBackup(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	must(c.Start(ctx, "echo", json.RawMessage(`{"n":1}`), &client.StartOptions{ID: "r-1", Wait: 10 * time.Second}))(t)
	head := must(c.Receipt(ctx, "r-1"))(t)
	evs := must(c.History(ctx, "r-1", nil))(t)
	if last := evs[len(evs)-1]; head == nil || head.Seq != last.Seq || head.Hash != last.Hash || len(head.Hash) != 64 {
		t.Fatalf("receipt %+v, last event %+v", head, last)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n := must(c.Backup(ctx, out))(t)
	out.Close()
	rep, err := bolt.Verify(path)
	if err != nil || rep.File.Size != n || rep.Chains != 1 {
		t.Fatalf("the backup of %d bytes: %+v, %v", n, rep, err)
	}
	copied, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	kept, err := copied.Instance("r-1")
	if err != nil || kept.Head().Hash.String() != head.Hash {
		t.Fatalf("the backup's head %v, %v; the receipt %s", kept.Head(), err, head.Hash)
	}
	_, err = f.client(client.WithToken("wrong")).Backup(ctx, io.Discard)
	if err != nil {
		t.Fatalf("a sidecar without a token refused the backup: %v", err)
	}
	locked := newFixture(t, api.Options{Token: "s3cret"})
	_, err = locked.client().Backup(ctx, io.Discard)
	wantCode(t, err, client.ErrUnauthorized, 401)
}

// TestBackupWhileStarting backs the store up over HTTP while starts keep
// coming: the copy verifies, and every instance whose start was answered
// (ended) before the backup was asked for is in it, ended.
func TestBackupWhileStarting(t *testing.T) {
	f := newFixture(t, api.Options{})
	c, ctx := f.client(), ctxFor(t)
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		errs     = make(chan error, 4)
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := "b-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if _, err := c.Start(ctx, "echo", json.RawMessage(`{"n":1}`), &client.StartOptions{ID: id, Wait: 10 * time.Second}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				answered = append(answered, id)
				mu.Unlock()
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(answered) }
	for deadline := time.Now().Add(20 * time.Second); count() < 40; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d starts answered in 20s", count())
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	before := slices.Clone(answered)
	mu.Unlock()
	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Backup(ctx, out)
	out.Close()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a start beside the backup: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bolt.Verify(path)
	if err != nil {
		t.Fatalf("the backup taken while starting: %v", err)
	}
	copied, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	for _, id := range before {
		if kept, err := copied.Instance(id); err != nil || kept.Status != store.Succeeded {
			t.Fatalf("%s, answered as ended before the backup, is in it as %v, %v", id, kept, err)
		}
	}
	t.Logf("%d starts answered before the backup, %d instances in it, %d answered by the end", len(before), rep.Instances, count())
}
