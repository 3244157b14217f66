package httpcall

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/internal/cputime"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
)

// seen is what the test server received.
type seen struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// server is a loopback HTTP server that records requests and counts the
// connections it accepts.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	return startServer(t, h, false)
}

// newTLSServer is newServer speaking https, with a certificate of its own:
// tlsClient trusts it.
func newTLSServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	return startServer(t, h, true)
}

// tlsClient is a client that trusts s's certificate.
func tlsClient(s *server) *Client {
	c := NewClient()
	c.hc.TLSConfig = s.Client().Transport.(*http.Transport).TLSClientConfig
	return c
}

func startServer(t *testing.T, h http.HandlerFunc, tls bool) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.RequestURI, r.Header.Clone(), body})
		s.mu.Unlock()
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) last(t *testing.T) seen {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the server received no request")
	}
	return s.reqs[len(s.reqs)-1]
}

// reply answers every request with a status and a body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var fctx = &flow.Context{
	Instance: "ord-1", Workflow: "place_order", State: "Authorize", Attempt: 2, Visit: 1,
	IdempotencyKey: "ord-1/Authorize/1",
	TraceParent:    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}

func call(t *testing.T, s Spec, input any) (any, error) {
	t.Helper()
	r, err := New(NewClient(), s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r.Call(context.Background(), input, fctx)
}

// Placeholders are escaped, and the escapes reach the server as they are
// (an escaped "/" is not made a path separator again), whether the routine
// pipelines or not.
func TestPlaceholdersAreFilledAndEscaped(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	for _, pipeline := range []bool{false, true} {
		_, err := call(t, Spec{
			URL:      s.URL + "/orders/{id}/lines/{n}?tag={tag}",
			Query:    map[string]string{"q": "{q}", "fixed": "a b&c"},
			Pipeline: pipeline,
		}, map[string]any{"id": "a/b c", "n": 12345678901.0, "tag": "x&y", "q": "ü=1"})
		if err != nil {
			t.Fatal(err)
		}
		want := "/orders/a%2Fb%20c/lines/12345678901?tag=x%26y&fixed=a+b%26c&q=%C3%BC%3D1"
		if got := s.last(t).URI; got != want {
			t.Errorf("pipeline %v: request URI = %s, want %s", pipeline, got, want)
		}
	}
}

// A placeholder may not stand in the scheme or host: the input would choose
// where the request goes.
func TestPlaceholderCannotChooseTheHost(t *testing.T) {
	for _, url := range []string{"http://{host}/orders", "http://api.internal{suffix}/orders",
		"http://api.internal:{port}/orders", "{base}/orders", "https://{host}"} {
		_, err := New(NewClient(), Spec{URL: url})
		if err == nil || !strings.Contains(err.Error(), "host") && !strings.Contains(err.Error(), "must start with") {
			t.Errorf("New(%q) = %v, want a load error about the host", url, err)
		}
	}
	for _, url := range []string{"http://api.internal/{id}", "http://api.internal?x={id}", "http://api.internal"} {
		if _, err := New(NewClient(), Spec{URL: url}); err != nil {
			t.Errorf("New(%q): %v", url, err)
		}
	}
}

// A value that would add a . or .. segment to the path fails the call
// before anything is sent: the server would resolve it and the input would
// reach a path outside the template's.
func TestPlaceholderCannotClimbThePath(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	for _, id := range []string{"..", ".", "../admin", "a/../../admin"} {
		_, err := call(t, Spec{URL: s.URL + "/orders/{id}/lines"}, map[string]any{"id": id})
		if fe := flowtest.WantError(t, err, flow.ErrRuntime); !strings.Contains(fe.Cause, ". or ..") {
			t.Errorf("id %q: cause %q", id, fe.Cause)
		}
	}
	for _, id := range []string{"/", ""} {
		if _, err := call(t, Spec{URL: s.URL + "/orders/.{id}"}, map[string]any{"id": id}); err == nil {
			t.Errorf("%q after a \".\" of the template made a \".\" segment", id)
		}
	}
	s.mu.Lock()
	n := len(s.reqs)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
	for _, id := range []string{"a.b", "...", ".hidden", "v1.2", "..%2Fadmin"} {
		if _, err := call(t, Spec{URL: s.URL + "/orders/{id}/lines?q={id}"}, map[string]any{"id": id}); err != nil {
			t.Errorf("id %q: %v", id, err)
		}
	}
	if _, err := call(t, Spec{URL: s.URL + "/orders?next={id}"}, map[string]any{"id": "../.."}); err != nil {
		t.Errorf("a dotted value in the query: %v", err)
	}
}

func TestMissingFieldIsRuntimeError(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	_, err := call(t, Spec{URL: s.URL + "/orders/{id}"}, map[string]any{"other": 1.0})
	if fe := flowtest.WantError(t, err, flow.ErrRuntime); !strings.Contains(fe.Cause, `"id"`) {
		t.Fatalf("cause %q does not name the field", fe.Cause)
	}
	_, err = call(t, Spec{URL: s.URL + "/orders/{id}"}, map[string]any{"id": map[string]any{}})
	flowtest.WantError(t, err, flow.ErrRuntime)
}

func TestEnvIsExpandedAtLoadTime(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	t.Setenv("ORBIT_TEST_BASE", s.URL)
	t.Setenv("ORBIT_TEST_TOKEN", "s3cret")
	r, err := New(NewClient(), Spec{
		Env:     processEnv,
		Method:  "GET",
		URL:     "${ORBIT_TEST_BASE}/x",
		Headers: map[string]string{"Authorization": "Bearer ${ORBIT_TEST_TOKEN}"},
		Query:   map[string]string{"key": "${ORBIT_TEST_TOKEN}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ORBIT_TEST_TOKEN", "changed later")
	if _, err := r.Call(context.Background(), nil, fctx); err != nil {
		t.Fatal(err)
	}
	got := s.last(t)
	if got.URI != "/x?key=s3cret" || got.Header.Get("Authorization") != "Bearer s3cret" {
		t.Fatalf("got %s with Authorization %q", got.URI, got.Header.Get("Authorization"))
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{URL: "${ORBIT_TEST_UNSET_URL}/authorize", Env: processEnv}, "url: environment variable ORBIT_TEST_UNSET_URL is not set"},
		{Spec{URL: "http://x", Headers: map[string]string{"K": "${ORBIT_TEST_UNSET_H}"}, Env: processEnv}, "headers.K: environment variable ORBIT_TEST_UNSET_H is not set"},
		// Without an Env no variable can be read, set or not.
		{Spec{URL: "${PATH}/x"}, "url: environment variable PATH is not set"},
		// The Env's reason is the load error.
		{Spec{URL: "${HOME}/x", Env: func(name string) (string, error) { return "", fmt.Errorf("%s is hidden", name) }}, "url: HOME is hidden"},
		{Spec{URL: "http://x/{id"}, "without its closing }"},
		{Spec{URL: "ftp://x/"}, "must start with http:// or https://"},
		{Spec{URL: "http://0\x00"}, "space or a control character"},
		{Spec{URL: "http://a b/x"}, "space or a control character"},
		{Spec{URL: "http://a/x#\x15"}, "space or a control character"},
		{Spec{URL: "http://a/x y"}, "space or a control character"},
		{Spec{URL: "http://x/", Method: "FETCH"}, `method "FETCH"`},
	} {
		_, err := New(NewClient(), tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}

func TestBodyByMethod(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	input := map[string]any{"order": map[string]any{"id": "o1", "amount": 12.5}}
	for _, m := range []string{"GET", "DELETE", "POST", "PUT", "PATCH"} {
		if _, err := call(t, Spec{Method: strings.ToLower(m), URL: s.URL + "/x"}, input); err != nil {
			t.Fatal(err)
		}
		got := s.last(t)
		if got.Method != m {
			t.Fatalf("method = %s, want %s", got.Method, m)
		}
		if m == "GET" || m == "DELETE" {
			if len(got.Body) != 0 {
				t.Fatalf("%s sent a body: %s", m, got.Body)
			}
			continue
		}
		var back any
		if err := json.Unmarshal(got.Body, &back); err != nil || !jsonEqual(back, input) {
			t.Fatalf("%s sent %s, want the input as JSON", m, got.Body)
		}
	}
}

func TestOrbitHeaders(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	if _, err := call(t, Spec{Method: "POST", URL: s.URL, Headers: map[string]string{"X-Extra": "yes"}}, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	h := s.last(t).Header
	for k, want := range map[string]string{
		"Content-Type":    "application/json",
		"Idempotency-Key": "ord-1/Authorize/1",
		"Orbit-Instance":  "ord-1",
		"Orbit-Workflow":  "place_order",
		"Orbit-State":     "Authorize",
		"Orbit-Attempt":   "2",
		"Traceparent":     fctx.TraceParent,
		"X-Extra":         "yes",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// Every call of a routine starts from its request template: the
// routine's own headers replace Orbit's of the same name and are sent once,
// and calls in parallel each send their own instance's headers and URI,
// never another call's.
func TestCallsFromTheTemplate(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	c := NewClient()
	own, err := New(c, Spec{Method: "POST", URL: s.URL + "/static", Headers: map[string]string{
		"Idempotency-Key": "mine", "traceparent": "00-11111111111111111111111111111111-2222222222222222-01",
		"Content-Type": "application/vnd.x+json", "X-Extra": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.Call(context.Background(), map[string]any{}, fctx); err != nil {
		t.Fatal(err)
	}
	got := s.last(t)
	for k, want := range map[string]string{"Idempotency-Key": "mine", "Traceparent": "00-11111111111111111111111111111111-2222222222222222-01",
		"Content-Type": "application/vnd.x+json", "X-Extra": "yes", "Orbit-Instance": "ord-1", "Orbit-Attempt": "2"} {
		if v := got.Header.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q once", k, v, want)
		}
	}
	if got.URI != "/static" || got.Method != "POST" {
		t.Errorf("sent %s %s", got.Method, got.URI)
	}
	for _, url := range []string{s.URL + "/static", s.URL + "/orders/{id}"} {
		r, err := New(c, Spec{Method: "POST", URL: url})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				fc := *fctx
				fc.Instance, fc.Attempt = fmt.Sprintf("ord-%d", i), i
				if _, err := r.Call(context.Background(), map[string]any{"id": fc.Instance}, &fc); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) != 33 {
		t.Fatalf("%d requests, want 33", len(s.reqs))
	}
	for _, r := range s.reqs[1:] {
		inst, attempt := r.Header.Get("Orbit-Instance"), r.Header.Get("Orbit-Attempt")
		var body map[string]any
		json.Unmarshal(r.Body, &body)
		if inst != "ord-"+attempt || body["id"] != inst || r.URI != "/static" && r.URI != "/orders/"+inst ||
			len(r.Header.Values("Idempotency-Key")) != 1 || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("a call sent %s %v %s", r.URI, r.Header, r.Body)
		}
	}
}

// A routine that pipelines sends its calls over at most two connections
// to its host, each call getting its own answer even when many are in
// flight at once; routines to the same host share those connections.
func TestPipelinedCalls(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"instance":"`+r.Header.Get("Orbit-Instance")+`","uri":"`+r.RequestURI+`"}`)
	})
	c := NewClient()
	var routines []flow.Routine
	for _, url := range []string{s.URL + "/a/{id}", s.URL + "/b"} {
		r, err := New(c, Spec{Method: "POST", URL: url, Pipeline: true})
		if err != nil {
			t.Fatal(err)
		}
		routines = append(routines, r)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			fc := *fctx
			fc.Instance = fmt.Sprintf("ord-%d", i)
			r, uri := routines[i%2], "/a/"+fc.Instance
			if i%2 == 1 {
				uri = "/b"
			}
			out, err := r.Call(context.Background(), map[string]any{"id": fc.Instance}, &fc)
			if want := map[string]any{"instance": fc.Instance, "uri": uri}; err != nil || !reflect.DeepEqual(out, want) {
				t.Errorf("call %d: %v, %v; want %v", i, out, err, want)
			}
		})
	}
	wg.Wait()
	if n := s.conns.Load(); n > pipelineConns {
		t.Errorf("%d connections, want at most %d", n, pipelineConns)
	}
	if _, err := New(c, Spec{URL: "https://x.example/a", Pipeline: true}); err == nil {
		t.Error("an https URL pipelines")
	}
}

var traceParentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

func TestTraceParentGeneratedWhenAbsent(t *testing.T) {
	s := newServer(t, reply(200, `{}`))
	r, err := New(NewClient(), Spec{URL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	noTrace := *fctx
	noTrace.TraceParent = ""
	if _, err := r.Call(context.Background(), nil, &noTrace); err != nil {
		t.Fatal(err)
	}
	if got := s.last(t).Header.Get("traceparent"); !traceParentRE.MatchString(got) {
		t.Fatalf("generated traceparent %q is not W3C", got)
	}
	if a, b := NewTraceParent(), NewTraceParent(); a == b || !traceParentRE.MatchString(a) {
		t.Fatalf("NewTraceParent gave %q and %q", a, b)
	}
}

func TestResponseBodies(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   any
	}{
		{200, `{"id":"pay_1","risk":0.1,"tags":["a"],"ok":true,"n":null}`,
			map[string]any{"id": "pay_1", "risk": 0.1, "tags": []any{"a"}, "ok": true, "n": nil}},
		{201, `42`, 42.0},
		{200, ``, nil},
		{204, ``, nil},
		{200, "  \n", nil},
		{200, `plain text`, "plain text"},
	} {
		s := newServer(t, reply(tc.status, tc.body))
		got, err := call(t, Spec{URL: s.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(got, tc.want) {
			t.Errorf("%d %q decoded to %#v, want %#v", tc.status, tc.body, got, tc.want)
		}
	}
}

// An HTTP routine sends the numbers of its input and reads those of its
// answer exactly as written, even where a float64 would change them.
func TestNumbersGoAndComeExactly(t *testing.T) {
	const body = `{"entity_id":9007199254740993,"huge":1e400,"price":1.10}`
	s := newServer(t, reply(200, body))
	in, err := flow.DecodeJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := call(t, Spec{Method: "POST", URL: s.URL}, in)
	if err != nil {
		t.Fatal(err)
	}
	if sent := string(s.last(t).Body); sent != body {
		t.Errorf("sent %s, want %s", sent, body)
	}
	if back, err := json.Marshal(got); err != nil || string(back) != body {
		t.Errorf("read the answer as %s (%v), want %s", back, err, body)
	}
}

func TestFullResponse(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Request-Id", "r-9")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		w.WriteHeader(202)
		io.WriteString(w, `{"queued":true}`)
	})
	got, err := call(t, Spec{URL: s.URL, FullResponse: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	h := m["headers"].(map[string]any)
	if m["status"] != 202.0 || h["x-request-id"] != "r-9" || h["content-type"] != "application/json" ||
		h["vary"] != "Accept, Origin" || !jsonEqual(m["body"], map[string]any{"queued": true}) {
		t.Fatalf("full response = %#v", m)
	}
}

func TestFullResponseWithoutContentType(t *testing.T) {
	s := newServer(t, reply(204, ""))
	got, err := call(t, Spec{URL: s.URL, FullResponse: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if _, ok := m["headers"].(map[string]any)["content-type"]; ok || m["body"] != nil || m["status"] != 204.0 {
		t.Fatalf("full response = %#v", m)
	}
}

func TestNamedErrorsFromBody(t *testing.T) {
	for body, cause := range map[string]string{
		`{"error":"Payment.Declined","cause":"card declined"}`:   "card declined",
		`{"error":"Payment.Declined","message":"card declined"}`: "card declined",
	} {
		s := newServer(t, reply(402, body))
		_, err := call(t, Spec{Method: "POST", URL: s.URL + "/pay"}, map[string]any{})
		if fe := flowtest.WantError(t, err, "Payment.Declined"); fe.Cause != cause {
			t.Errorf("cause = %q, want %q", fe.Cause, cause)
		}
	}
}

func TestStatusFallback(t *testing.T) {
	s := newServer(t, reply(503, `{"error":{"code":"busy"}} `+strings.Repeat("x", 500)))
	_, err := call(t, Spec{Method: "POST", URL: s.URL + "/y?secret=1"}, map[string]any{})
	fe := flowtest.WantError(t, err, "Http.503")
	prefix := "POST " + s.URL + "/y answered 503: "
	if !strings.HasPrefix(fe.Cause, prefix) || len(fe.Cause) > len(prefix)+200 || strings.Contains(fe.Cause, "secret") {
		t.Fatalf("cause = %q", fe.Cause)
	}
	if !flow.Matches([]string{"Http.5*"}, fe.Name) {
		t.Fatal("Http.5* does not match")
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = call(t, Spec{Method: "POST", URL: "http://" + addr + "/x"}, map[string]any{})
	flowtest.WantError(t, err, flow.ErrHTTPConnection)
}

// slowServer never answers until the test ends.
func slowServer(t *testing.T) *server {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	return s
}

func TestTimeout(t *testing.T) {
	s := slowServer(t)
	_, err := call(t, Spec{URL: s.URL, Timeout: 50 * time.Millisecond}, nil)
	flowtest.WantError(t, err, flow.ErrTimeout)

	// The task's deadline on ctx bounds the call as well.
	r, _ := New(NewClient(), Spec{URL: s.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = r.Call(ctx, nil, fctx)
	flowtest.WantError(t, err, flow.ErrTimeout)
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "within") {
		t.Fatalf("unexpected timeout error %v", err)
	}
}

// callCancelledOnArrival calls r with a child of ctx that is cancelled as
// soon as arrived says the request reached the server.
func callCancelledOnArrival(ctx context.Context, r flow.Routine, arrived <-chan struct{}) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-arrived
		cancel()
	}()
	_, err := r.Call(cctx, nil, fctx)
	return err
}

// cancelOnceReached cancels as soon as a request has reached s.
func cancelOnceReached(s *server, cancel context.CancelFunc) {
	for {
		s.mu.Lock()
		n := len(s.reqs)
		s.mu.Unlock()
		if n > 0 {
			cancel()
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestContextCancel(t *testing.T) {
	s := slowServer(t)
	r, _ := New(NewClient(), Spec{URL: s.URL})
	ctx, cancel := context.WithCancel(context.Background())
	go cancelOnceReached(s, cancel)
	_, err := r.Call(ctx, nil, fctx)
	flowtest.WantError(t, err, flow.ErrCancelled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not wrap context.Canceled", err)
	}

	// An already cancelled context sends nothing.
	_, err = r.Call(ctx, nil, fctx)
	flowtest.WantError(t, err, flow.ErrCancelled)
}

// A call on a kept-alive connection runs on the caller's goroutine, and a
// cancellation still ends it at once: the connection it was reading is
// closed, and the next call opens a fresh one.
func TestContextCancelInline(t *testing.T) {
	s, arrived := newHangingServer(t)
	c := NewClient()
	fast, _ := New(c, Spec{URL: s.url + "/fast"})
	slow, _ := New(c, Spec{URL: s.url + "/slow"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a step's context
	defer cancel()
	if _, err := fast.Call(ctx, nil, fctx); err != nil { // leaves an idle connection
		t.Fatal(err)
	}
	err := callCancelledOnArrival(ctx, slow, arrived)
	flowtest.WantError(t, err, flow.ErrCancelled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not wrap context.Canceled", err)
	}
	if _, err := fast.Call(ctx, nil, fctx); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the interrupted one closed, then a fresh one", n)
	}
}

// A cancelled call that had to open its connection (none was idle) closes
// it too: the downstream sees the request abandoned at once, not at the
// routine's timeout, and no goroutine waits on for the answer.
func TestContextCancelClosesANewConnection(t *testing.T) {
	abandoned, release := make(chan struct{}), make(chan struct{})
	s := newServer(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the client closed the connection
			close(abandoned)
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	r, _ := New(NewClient(), Spec{URL: s.URL + "/slow", Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go cancelOnceReached(s, cancel)
	_, err := r.Call(ctx, nil, fctx)
	flowtest.WantError(t, err, flow.ErrCancelled)
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still holds the cancelled call's connection")
	}
}

// A call that saw an idle connection, lost it to another call before it
// took it and was cancelled in between ends at once: it neither waits for
// a connection to come free (its host's connections all busy) nor dials
// one (room for more).
func TestCancelledAsItsIdleConnectionIsTaken(t *testing.T) {
	for _, maxConns := range []int{1, DefaultMaxConnsPerHost} {
		t.Run(fmt.Sprint("max conns ", maxConns), func(t *testing.T) {
			s, arrived := newHangingServer(t)
			c := NewClient(WithMaxConnsPerHost(maxConns))
			c.hc.MaxConnWaitTimeout = time.Hour // a wait is bounded by the cancellation alone
			fast, _ := New(c, Spec{URL: s.url + "/fast", Timeout: time.Hour})
			slow, _ := New(c, Spec{URL: s.url + "/slow", Timeout: time.Hour})
			ctx, cancel := context.WithCancel(context.Background()) // a step's context
			defer cancel()
			if _, err := fast.Call(ctx, nil, fctx); err != nil { // leaves an idle connection
				t.Fatal(err)
			}
			var armed atomic.Bool
			armed.Store(true)
			idleSeenHook = func() {
				if !armed.CompareAndSwap(true, false) {
					return
				}
				// Made aside, this call takes the idle connection and holds it.
				go slow.Call(context.Background(), nil, fctx)
				<-arrived
				cancel()
			}
			t.Cleanup(func() { idleSeenHook = nil })
			done := make(chan error, 1)
			go func() {
				_, err := fast.Call(ctx, nil, fctx)
				done <- err
			}()
			select {
			case err := <-done:
				flowtest.WantError(t, err, flow.ErrCancelled)
			case <-time.After(10 * time.Second):
				t.Fatal("the cancelled call still waits for a connection")
			}
			if n := s.conns.Load(); n != 1 {
				t.Errorf("%d connections, want 1: the cancelled call opened one", n)
			}
		})
	}
}

// https calls are made on kept-alive connections as http ones are, and a
// cancellation closes the one it interrupts.
func TestHTTPSCallsAndCancel(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	s := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	c := tlsClient(s)
	fast, _ := New(c, Spec{Method: "POST", URL: s.URL + "/fast", FullResponse: true})
	slow, _ := New(c, Spec{URL: s.URL + "/slow"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a step's context
	defer cancel()
	for range 10 {
		got, err := fast.Call(ctx, map[string]any{"a": 1.0}, fctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := got.(map[string]any); m["status"] != float64(200) || !jsonEqual(m["body"], map[string]any{"ok": true}) {
			t.Fatalf("got %v", got)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("10 sequential calls opened %d connections, want 1", n)
	}
	err := callCancelledOnArrival(ctx, slow, arrived)
	flowtest.WantError(t, err, flow.ErrCancelled)
	if _, err := fast.Call(ctx, map[string]any{}, fctx); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the interrupted one closed, then a fresh one", n)
	}
	if got := s.last(t); string(got.Body) != "{}" || got.Header.Get("Idempotency-Key") != fctx.IdempotencyKey {
		t.Errorf("the server got %q with Idempotency-Key %q", got.Body, got.Header.Get("Idempotency-Key"))
	}
}

// Calls on kept-alive connections start no goroutine of their own, and a
// deadline, the routine's or the context's, still bounds each.
func TestInlineCallsStartNoGoroutine(t *testing.T) {
	s := newFastServer(t, func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		c.SetBodyString(`{"ok":true}`)
	})
	c := NewClient()
	fast, _ := New(c, Spec{Method: "POST", URL: s.url + "/fast"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a step's context
	defer cancel()
	if _, err := fast.Call(ctx, map[string]any{}, fctx); err != nil {
		t.Fatal(err)
	}
	const calls = 50
	created := goroutinesCreated()
	for range calls {
		if _, err := fast.Call(ctx, map[string]any{}, fctx); err != nil {
			t.Fatal(err)
		}
	}
	// A few may start beside the calls (the server's, the runtime's); a
	// call made aside starts one each.
	if n := goroutinesCreated() - created; n > calls/10 {
		t.Errorf("%d calls started %d goroutines", calls, n)
	}
	slow, _ := New(c, Spec{URL: s.url + "/slow", Timeout: 50 * time.Millisecond})
	_, err := slow.Call(ctx, nil, fctx)
	flowtest.WantError(t, err, flow.ErrTimeout)
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	r, _ := New(c, Spec{URL: s.url + "/slow"})
	_, err = r.Call(short, nil, fctx)
	flowtest.WantError(t, err, flow.ErrTimeout)
}

// fastServer is a fasthttp server on loopback, whose workers are reused
// from one request to the next, and the connections it accepted.
type fastServer struct {
	url   string
	conns atomic.Int64
}

// newHangingServer answers /fast at once and holds a call to /slow until
// the test ends, telling arrived when one reaches it.
func newHangingServer(t *testing.T) (*fastServer, chan struct{}) {
	hang, arrived := make(chan struct{}), make(chan struct{}, 1)
	s := newFastServer(t, func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/slow" {
			arrived <- struct{}{}
			<-hang
		}
		c.SetBodyString(`{"ok":true}`)
	})
	t.Cleanup(func() { close(hang) }) // runs before the server shuts down
	return s, arrived
}

func newFastServer(t *testing.T, h fasthttp.RequestHandler) *fastServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fastServer{url: "http://" + l.Addr().String()}
	srv := &fasthttp.Server{Handler: h, ConnState: func(_ net.Conn, st fasthttp.ConnState) {
		if st == fasthttp.StateNew {
			s.conns.Add(1)
		}
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

// goroutinesCreated counts the goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestConnectionReuse(t *testing.T) {
	s := newServer(t, reply(200, `{"ok":true}`))
	r, err := New(NewClient(), Spec{Method: "POST", URL: s.URL + "/step/{n}"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := r.Call(context.Background(), map[string]any{"n": float64(i)}, fctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("50 sequential calls opened %d connections, want 1", n)
	}
}

// A server that closes every kept-alive connection after one answer, as an
// idle timeout does: POSTs on the reused connection must not fail for it,
// and the resent request carries its own body, whether the routine
// pipelines or not.
func TestStaleConnectionIsResent(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	addr := oneAnswerServer(t, func(body string) {
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
	})
	// A step's context can end, so its calls are made inline; one that
	// cannot, aside.
	step, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ctx := range []context.Context{step, context.Background()} {
		for _, pipeline := range []bool{false, true} {
			mu.Lock()
			bodies = nil
			mu.Unlock()
			r, err := New(NewClient(), Spec{Method: "POST", URL: "http://" + addr + "/x", Pipeline: pipeline})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 5 {
				if _, err := r.Call(ctx, map[string]any{"i": float64(i)}, fctx); err != nil {
					t.Fatalf("pipeline %v: call %d: %v", pipeline, i, err)
				}
				want = append(want, fmt.Sprintf(`{"i":%d}`, i))
			}
			mu.Lock()
			if !slices.Equal(bodies, want) {
				t.Errorf("pipeline %v: server answered %q, want %q", pipeline, bodies, want)
			}
			mu.Unlock()
		}
	}
}

// A POST whose connection the server drops after reading it, on every
// connection, is sent twice, as the stale-connection resend allows, and no
// more: a call that starts on a kept-alive connection and goes on aside
// keeps its count of sends.
func TestDroppedCallIsSentTwiceAtMost(t *testing.T) {
	var dropped atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/drop" {
			io.WriteString(w, `{"ok":true}`)
			return
		}
		dropped.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	c := NewClient()
	warm, _ := New(c, Spec{URL: s.URL + "/warm"})
	drop, _ := New(c, Spec{Method: "POST", URL: s.URL + "/drop"})
	step, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ctx := range []context.Context{step, context.Background()} {
		dropped.Store(0)
		if _, err := warm.Call(ctx, nil, fctx); err != nil { // leaves an idle connection
			t.Fatal(err)
		}
		_, err := drop.Call(ctx, map[string]any{}, fctx)
		flowtest.WantError(t, err, flow.ErrHTTPConnection)
		if n := dropped.Load(); n != 2 {
			t.Errorf("inline %v: the server got the call %d times, want 2", ctx.Done() != nil, n)
		}
	}
}

// oneAnswerServer answers one request on each connection, then closes it,
// as a server does whose kept-alive connections time out; it hands each
// request's body to seen. It returns its address.
func oneAnswerServer(t *testing.T, seen func(body string)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				body, _ := io.ReadAll(req.Body)
				seen(string(body))
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
			}()
		}
	}()
	return l.Addr().String()
}

// Calls given up on and calls answered share the pooled exchanges; the race
// detector checks that an abandoned one is never reused while in flight.
func TestConcurrentCallsWithAbandons(t *testing.T) {
	fast := newServer(t, reply(200, `{"ok":true}`))
	slow := slowServer(t)
	c := NewClient()
	rFast, _ := New(c, Spec{Method: "POST", URL: fast.URL + "/{i}"})
	rSlow, _ := New(c, Spec{Method: "POST", URL: slow.URL + "/{i}"})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				in := map[string]any{"i": float64(g*100 + i)}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				if g%2 == 0 {
					_, err := rSlow.Call(ctx, in, fctx)
					flowtest.WantError(t, err, flow.ErrTimeout)
				} else if got, err := rFast.Call(ctx, in, fctx); err == nil && !jsonEqual(got, map[string]any{"ok": true}) {
					t.Errorf("got %v", got)
				}
				cancel()
			}
		})
	}
	wg.Wait()
}

func TestDoForPlugins(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-In"))
		w.WriteHeader(418)
		io.WriteString(w, "teapot")
	})
	c := NewClient()
	status, h, body, err := c.Do(context.Background(), "PUT", s.URL+"/p", map[string]string{"X-In": "v"}, []byte("raw"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status != 418 || h["x-echo"] != "v" || string(body) != "teapot" || string(s.last(t).Body) != "raw" {
		t.Fatalf("Do = %d %v %q; server saw %q", status, h, body, s.last(t).Body)
	}
	_, _, _, err = c.Do(context.Background(), "GET", slowServer(t).URL, nil, nil, 50*time.Millisecond)
	flowtest.WantError(t, err, flow.ErrTimeout)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// BenchmarkHTTPTask is one POST task against a loopback fasthttp server,
// which allocates next to nothing, so allocs/op is mostly the client's.
func BenchmarkHTTPTask(b *testing.B) { benchmarkTask(b, Spec{Method: "POST"}) }

// BenchmarkHTTPTaskFullResponse is BenchmarkHTTPTask with full_response:
// the result carries the status and the response's headers (the server's
// four, one of them repeated) as well.
func BenchmarkHTTPTaskFullResponse(b *testing.B) {
	benchmarkTask(b, Spec{Method: "POST", FullResponse: true})
}

// benchmarkTask calls a task of spec, its URL filled in, in a loop.
func benchmarkTask(b *testing.B, spec Spec) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		c.Response.Header.Set("X-Request-Id", "r-9")
		c.Response.Header.Add("Vary", "Accept")
		c.Response.Header.Add("Vary", "Origin")
		c.SetBodyString(`{"id":"pay_1","risk":0.1}`)
	}}
	go srv.Serve(l)
	defer srv.Shutdown()
	spec.URL = "http://" + l.Addr().String() + "/payments/{id}"
	r, err := New(NewClient(), spec)
	if err != nil {
		b.Fatal(err)
	}
	input := map[string]any{"id": "o-1", "amount": 120.0}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // as the engine calls it
	defer cancel()
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		if _, err := r.Call(ctx, input, fctx); err != nil {
			b.Fatal(err)
		}
	}
	// The CPU time of both sides: on a shared machine, wall time per call
	// says more about the machine's other work.
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}

// processEnv reads the process environment, as an Env that exposes every
// variable does.
func processEnv(name string) (string, error) {
	if v, ok := os.LookupEnv(name); ok {
		return v, nil
	}
	return "", fmt.Errorf("environment variable %s is not set", name)
}

func TestEnvFallback(t *testing.T) {
	t.Setenv("ORBIT_TEST_EMPTY", "")
	for in, want := range map[string]string{
		"${ORBIT_TEST_UNSET_FB:-http://127.0.0.1:1}/x": "http://127.0.0.1:1/x",
		"${ORBIT_TEST_EMPTY:-fallback}":                "fallback",
	} {
		got, err := expandEnv(in, processEnv)
		if err != nil || got != want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// A header name is lowered as bytes.ToLower lowers it, on the stack or
// (long, or not ASCII) not.
func TestLowerName(t *testing.T) {
	for _, name := range []string{"", "X-Request-Id", "content-type", strings.Repeat("Long-Name-", 10), "X-Ünïcode-Ä"} {
		if got, want := lowerName([]byte(name)), string(bytes.ToLower([]byte(name))); got != want {
			t.Errorf("lowerName(%q) = %q, want %q", name, got, want)
		}
	}
}
