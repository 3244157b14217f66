package httpcall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds a call whose routine sets no timeout (WithTimeout changes it).
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConnsPerHost is enough for a sidecar under load (WithMaxConnsPerHost changes it).
	DefaultMaxConnsPerHost = 512
	// DefaultMaxResponseSize guards memory against a runaway downstream.
	DefaultMaxResponseSize = 64 << 20
)

// Client is the process-wide HTTP client: every routine and plugin shares
// its connection pools, so a process needs only one.
type Client struct {
	hc      *fasthttp.Client
	timeout time.Duration
	pool    sync.Pool // of *exchange

	pipesMu sync.Mutex
	pipes   map[string]*fasthttp.PipelineClient // by host:port, for routines that pipeline
}

// Option changes a Client's defaults.
type Option func(*Client)

// WithTimeout sets the timeout of calls that have none of their own.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithMaxConnsPerHost caps the open connections to one host.
func WithMaxConnsPerHost(n int) Option { return func(c *Client) { c.hc.MaxConnsPerHost = n } }

// NewClient returns a client; a process needs only one.
func NewClient(opts ...Option) *Client {
	c := &Client{
		timeout: DefaultTimeout,
		hc: &fasthttp.Client{
			Name:                "orbit",
			MaxConnsPerHost:     DefaultMaxConnsPerHost,
			MaxIdleConnDuration: 60 * time.Second,
			// Every call has a deadline (its timeout), which bounds reads, so
			// a routine may wait as long as its timeout says; only writing a
			// request gets a tighter bound, since a stuck write is never useful.
			WriteTimeout:        30 * time.Second,
			MaxConnWaitTimeout:  5 * time.Second,
			MaxResponseBodySize: DefaultMaxResponseSize,
			RetryIfErr:          retryStale,
			// Placeholders are escaped already; normalizing would turn an
			// escaped "/" in a field back into a path separator.
			DisablePathNormalizing: true,
			// Calls run on their callers' goroutines, interruptible.
			Transport:   transport{},
			DialTimeout: dial,
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// pipelineConns is how many connections the routines that pipeline share
// per host: two measured best on the bench (one serialises every call of
// the host behind one connection's reads).
const pipelineConns = 2

// pipeline returns the pipelining client of the host of uri, made on first
// use and shared by every routine that pipelines to it.
func (c *Client) pipeline(uri *fasthttp.URI) (*fasthttp.PipelineClient, error) {
	if string(uri.Scheme()) != "http" {
		return nil, fmt.Errorf("pipeline: works with http:// URLs only, not %s://", uri.Scheme())
	}
	addr := string(uri.Host())
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "80")
	}
	c.pipesMu.Lock()
	defer c.pipesMu.Unlock()
	if p := c.pipes[addr]; p != nil {
		return p, nil
	}
	if c.pipes == nil {
		c.pipes = map[string]*fasthttp.PipelineClient{}
	}
	p := &fasthttp.PipelineClient{
		Addr:                addr,
		Name:                c.hc.Name,
		MaxConns:            pipelineConns,
		MaxPendingRequests:  c.hc.MaxConnsPerHost,
		MaxIdleConnDuration: c.hc.MaxIdleConnDuration,
		WriteTimeout:        c.hc.WriteTimeout,
		MaxResponseBodySize: c.hc.MaxResponseBodySize,
		// As the pool's: placeholders are escaped already.
		DisablePathNormalizing: c.hc.DisablePathNormalizing,
		Logger:                 quiet{},
	}
	c.pipes[addr] = p
	return p, nil
}

// quiet drops the pipeline client's own log lines, which it would print to
// the process's stderr past Orbit's log: each error it logs also fails the
// calls it concerns, and the tasks report those.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// retryStale resends a request, whatever its method, when the server
// closed a kept-alive connection before answering: that is the race of
// connection reuse, not a failure of the downstream, and every Orbit call
// carries an Idempotency-Key, so a resend is safe. One resend is enough
// for that race, so a call is written maxStaleSends times at most.
func retryStale(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if x := exchangeOf(req); x != nil {
		// A call begun inline and made aside when it found no idle
		// connection goes through two rounds of fasthttp's attempts:
		// its sends count across both.
		attempts = max(attempts, x.sent)
	}
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return false, stale && attempts < maxStaleSends
}

// maxStaleSends bounds the writes of a call that meets stale connections:
// the first, and one resend.
const maxStaleSends = 2

// maxScratch bounds the scratch buffer an exchange keeps in the pool.
const maxScratch = 4 << 10

// exchange is one request/response pair in flight, pooled with the channel
// that reports its end.
type exchange struct {
	req     *fasthttp.Request
	resp    *fasthttp.Response
	done    chan error
	scratch []byte // the URI and header values being built, reused

	// The call's deadline, for the transport; inline says the call runs
	// on its caller's goroutine, interrupted by its context.
	deadline time.Time
	inline   bool
	sent     int // times the request was written, for retryStale
	interruptible
	interruptFunc func() // interrupt, made once, for context.AfterFunc
}

func (c *Client) acquire() *exchange {
	x, _ := c.pool.Get().(*exchange)
	if x == nil {
		x = &exchange{done: make(chan error, 1)}
		x.stopped = make(chan struct{}, 1)
		x.interruptFunc = func() {
			x.interrupt()
			x.stopped <- struct{}{}
		}
	}
	x.req, x.resp = fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	// Header names go out as written (W3C spells traceparent in lower case).
	x.req.Header.DisableNormalizing()
	// A response without Content-Type must not show fasthttp's default in
	// a full_response.
	x.resp.Header.SetNoDefaultContentType(true)
	return x
}

// free returns x to the pools.
func (c *Client) free(x *exchange) {
	fasthttp.ReleaseRequest(x.req)
	fasthttp.ReleaseResponse(x.resp)
	x.req, x.resp = nil, nil
	if cap(x.scratch) > maxScratch {
		x.scratch = nil // a rare huge URI is not kept in the pool
	}
	c.pool.Put(x)
}

// roundTrip sends x.req and fills x.resp, giving up at the earlier of the
// timeout (the client's when 0) and ctx's deadline, or when ctx is cancelled.
// Errors are named: States.Timeout, States.Cancelled, Http.ConnectionError.
// When it gives up on a call still in flight, x passes to the goroutine that
// runs it and kept is false: the caller must then neither read nor free x.
//
// pipe, when not nil, sends the request instead of the client's pool.
func (c *Client) roundTrip(ctx context.Context, x *exchange, timeout time.Duration, pipe *fasthttp.PipelineClient) (kept bool, err error) {
	if timeout <= 0 {
		timeout = c.timeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		// Report the time the call really had, not the routine's timeout.
		timeout, deadline = time.Until(d).Round(time.Millisecond), d
	}
	if ctx.Err() != nil {
		return true, contextError(ctx)
	}
	x.deadline, x.interrupted, x.sent = deadline, false, 0
	x.req.SetUserValue(exchangeKey{}, x)
	if pipe == nil && ctx.Done() != nil {
		// The call runs here, on a connection the transport takes from the
		// pool's idle ones, and ctx's end interrupts it there.
		x.inline = true
		stop := context.AfterFunc(ctx, x.interruptFunc)
		err := c.hc.DoDeadline(x.req, x.resp, deadline)
		if !stop() {
			<-x.stopped // interrupt ran, or runs: x is reused after it
		}
		x.inline = false
		switch {
		case err == nil:
			return true, nil
		case x.interrupted:
			return true, contextError(ctx)
		case !errors.Is(err, errNoIdleConn):
			return true, describe(err, x.req, timeout)
		}
		// No idle connection: made aside, where dialing or waiting for one
		// does not hold up ctx's end.
		if ctx.Err() != nil {
			return true, contextError(ctx)
		}
	}
	if ctx.Done() == nil {
		return true, describe(c.send(pipe, x, deadline), x.req, timeout)
	}
	// fasthttp cannot be interrupted while it dials, nor a pipelined call,
	// so the call runs aside while this goroutine also watches ctx. ctx's
	// end still interrupts a call of the pool once it holds a connection,
	// as it does inline: the connection is closed, and the call does not
	// run on to its deadline on it (a pipelined call's is shared).
	stop := noStop
	if pipe == nil {
		stop = context.AfterFunc(ctx, x.interruptFunc)
	}
	go func() { x.done <- c.send(pipe, x, deadline) }()
	select {
	case err := <-x.done:
		if !stop() {
			<-x.stopped
		}
		if err != nil && x.interrupted {
			return true, contextError(ctx)
		}
		return true, describe(err, x.req, timeout)
	case <-ctx.Done():
		// x.req belongs to the sender until it ends, so the error cannot
		// quote the URL.
		go func() {
			<-x.done
			if !stop() {
				<-x.stopped
			}
			c.free(x)
		}()
		return false, contextError(ctx)
	}
}

// noStop stands for the stop of a context.AfterFunc never registered.
func noStop() bool { return true }

// send makes the call on pipe, or on the client's pool when pipe is nil.
// A pipelined call is resent as the pool resends one (retryStale): the
// pipeline client has no retry of its own.
func (c *Client) send(pipe *fasthttp.PipelineClient, x *exchange, deadline time.Time) error {
	if pipe == nil {
		return c.hc.DoDeadline(x.req, x.resp, deadline)
	}
	// The pipeline client copies a body the request keeps, and takes away
	// one it does not: a resend needs it still.
	x.req.KeepBodyBuffer = true
	defer func() { x.req.KeepBodyBuffer = false }()
	for attempts := 1; ; attempts++ {
		err := pipe.DoDeadline(x.req, x.resp, deadline)
		if attempts >= maxPipelinedAttempts || !pipelineStale(err) {
			return err
		}
	}
}

// maxPipelinedAttempts bounds a pipelined call's sends: one on the stale
// connection, one that may still meet it as it is torn down, one on a new
// connection.
const maxPipelinedAttempts = 3

// pipelineStopped is the message of the error fasthttp's pipeline client
// gives the calls queued behind one whose connection died; it is not
// exported.
const pipelineStopped = "pipeline connection has been stopped"

// pipelineStale reports whether a pipelined call failed for its shared
// connection's sake, as retryStale does for the pool's: the connection
// was stale, closed under the call, or stopped with the call queued on it.
func pipelineStale(err error) bool {
	if err == nil {
		return false
	}
	_, stale := retryStale(nil, 1, err)
	return stale || errors.Is(err, net.ErrClosed) || err.Error() == pipelineStopped
}

// ctxError is a named error that still answers errors.Is for the context
// error behind it, so a caller can tell a cancellation from a failure.
type ctxError struct {
	named *flow.Error
	cause error
}

func (e *ctxError) Error() string   { return e.named.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.named, e.cause} }

func contextError(ctx context.Context) error {
	name, why := flow.ErrCancelled, "the call was cancelled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		name, why = flow.ErrTimeout, "the task's deadline passed"
	}
	return &ctxError{
		named: flow.Errorf(name, "%s before an answer came: %v", why, context.Cause(ctx)),
		cause: ctx.Err(),
	}
}

// describe names a transport error.
func describe(err error, req *fasthttp.Request, timeout time.Duration) error {
	switch {
	case err == nil:
		return nil
	case isTimeout(err):
		return flow.Errorf(flow.ErrTimeout, "%s: no answer within %s", target(req), timeout)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return flow.Errorf(flow.ErrPayloadTooLarge, "%s: response body over %d bytes", target(req), DefaultMaxResponseSize)
	}
	return flow.Errorf(flow.ErrHTTPConnection, "%s: %v", target(req), err)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.As(err, &te) && te.Timeout()
}

// target is "METHOD scheme://host/path" for error causes. The query is left
// out because it may carry credentials expanded from the environment.
func target(req *fasthttp.Request) string {
	return string(req.Header.Method()) + " " + spanURL(req)
}

// spanURL is "scheme://host/path", without the query, for a span's url.full.
func spanURL(req *fasthttp.Request) string {
	u := req.URI()
	return string(u.Scheme()) + "://" + string(u.Host()) + string(u.Path())
}

// statusError names a non-2xx answer: the body's "error" field when it is a
// JSON object with a string one, else Http.<status>.
func statusError(req *fasthttp.Request, status int, body []byte) error {
	answered := target(req) + " answered " + strconv.Itoa(status)
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		if name, ok := obj["error"].(string); ok && name != "" {
			cause := answered
			for _, k := range [...]string{"cause", "message"} {
				if v, ok := obj[k]; ok && v != nil {
					cause = text(v)
					break
				}
			}
			return &flow.Error{Name: name, Cause: cause}
		}
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return &flow.Error{Name: "Http." + strconv.Itoa(status), Cause: answered + ": " + string(bytes.TrimSpace(body))}
}

// text is a JSON value as a cause string: strings as they are, the rest as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// headerMap is a response's headers with lower-case names, so scripts and
// plugins look them up one way whatever the server's spelling; repeated
// headers are joined with ", " as RFC 9110 allows. Its values are strings
// made V by value: string for the plugins' host, any for a task's
// full_response, whose result is built in one pass either way.
func headerMap[V any](h *fasthttp.ResponseHeader, value func(string) V) map[string]V {
	m := make(map[string]V, h.Len())
	for k, v := range h.All() {
		name := lowerName(k)
		if prev, ok := m[name]; ok {
			m[name] = value(any(prev).(string) + ", " + string(v)) // V holds strings
		} else {
			m[name] = value(string(v))
		}
	}
	return m
}

// lowerName is a header name in lower case, lowered on the stack when it
// is ASCII (as a header name should be) and not long.
func lowerName(k []byte) string {
	var buf [64]byte
	if len(k) > len(buf) {
		return string(bytes.ToLower(k))
	}
	for i, c := range k {
		if c >= utf8.RuneSelf {
			return string(bytes.ToLower(k))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return string(buf[:len(k)])
}

// headerString and headerAny make a header's value a map's value.
func headerString(s string) string { return s }
func headerAny(s string) any       { return s }

// Do is a raw call on the shared client, for the plugins' HTTP host
// function: the body and headers are sent as given, and any status is an
// answer rather than an error. Transport failures are named as for routines.
func (c *Client) Do(ctx context.Context, method, url string, headers map[string]string, body []byte, timeout time.Duration) (status int, respHeaders map[string]string, respBody []byte, err error) {
	x := c.acquire()
	kept := true
	defer func() {
		if kept {
			c.free(x)
		}
	}()
	x.req.Header.SetMethod(method)
	x.req.SetRequestURI(url)
	for k, v := range headers {
		x.req.Header.Set(k, v)
	}
	if len(body) > 0 {
		x.req.SetBody(body)
	}
	if kept, err = c.roundTrip(ctx, x, timeout, nil); err != nil {
		return 0, nil, nil, err
	}
	return x.resp.StatusCode(), headerMap(&x.resp.Header, headerString), bytes.Clone(x.resp.Body()), nil
}
