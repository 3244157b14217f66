// Package httpcall is Orbit's HTTP routine: one fasthttp client for the
// whole process, with connection reuse, used by `http` routines and by the
// plugins' http_request host function.
package httpcall

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Spec is an `http = {...}` routine as written in a script (SPEC 1.2).
type Spec struct {
	Method       string            // GET when empty
	URL          string            // ${ENV} expanded by New; {field} filled per call
	Headers      map[string]string // ${ENV} expanded by New; sent after Orbit's own, so they may override them
	Env          Env               // what ${ENV} may read; nil: no variable
	Query        map[string]string // values may hold {field}
	Timeout      time.Duration     // per call; 0 means the client's default
	FullResponse bool              // result is {status, headers, body}
	// Pipeline sends the routine's requests over a few shared connections
	// to its host, each written without waiting for the answer before it
	// (HTTP/1.1 pipelining), instead of one connection per call in flight:
	// fewer system calls, but answers come back in order, so one slow call
	// delays the calls behind it. Only for http:// URLs.
	Pipeline bool
}

// methods are those an http routine may use; a typo fails at load time
// instead of on the first call.
var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

// routine is a loaded Spec: everything that does not depend on the input is
// worked out once here.
type routine struct {
	spec     Spec // as written, for tools that print definitions (orbit convert)
	c        *Client
	method   string
	sendBody bool
	uri      uriTemplate
	headers  [][2]string // sorted by name, values expanded
	timeout  time.Duration
	full     bool
	// template is what every request of the routine has whatever the
	// input: method, content type, the routine's headers and, for a URL
	// without placeholders, the parsed URI. A call copies it rather than
	// setting each part and parsing the URI again. It is only read.
	template *fasthttp.Request
	// pipe sends the calls when the spec asks for pipelining; nil: the
	// client's connection pool.
	pipe *fasthttp.PipelineClient
	// own says which of Orbit's headers the routine's own headers replace,
	// so that a call does not set them over the template's.
	own [len(orbitHeaders)]bool
}

// orbitHeaders are the headers Orbit sets per call, in the order of the
// orbitHeader constants.
var orbitHeaders = [...]string{"Idempotency-Key", "Orbit-Instance", "Orbit-Workflow", "Orbit-State", "Orbit-Attempt", "traceparent"}

// The indexes of orbitHeaders.
const (
	hIdempotencyKey = iota
	hInstance
	hWorkflow
	hState
	hAttempt
	hTraceParent
)

// Env reads the environment variable a ${NAME} names, or says why it
// cannot: it is not set, or the operator does not let scripts read it.
// A ${NAME:-fallback} takes its fallback then.
type Env func(name string) (string, error)

func (env Env) read(name string) (string, error) {
	if env == nil {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return env(name)
}

// New builds a routine from a spec, expanding ${ENV} now (load time).
func New(c *Client, s Spec) (flow.Routine, error) {
	if c == nil {
		return nil, fmt.Errorf("httpcall: nil client")
	}
	r := &routine{spec: s, c: c, method: strings.ToUpper(s.Method), timeout: s.Timeout, full: s.FullResponse}
	if r.method == "" {
		r.method = "GET"
	}
	if !methods[r.method] {
		return nil, fmt.Errorf("method %q: use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS", s.Method)
	}
	if s.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must not be negative", s.Timeout)
	}
	r.sendBody = r.method == "POST" || r.method == "PUT" || r.method == "PATCH"
	var err error
	if r.uri, err = parseURI(s.URL, s.Query, s.Env); err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		v, err := expandEnv(s.Headers[k], s.Env)
		if err != nil {
			return nil, fmt.Errorf("headers.%s: %w", k, err)
		}
		r.headers = append(r.headers, [2]string{k, v})
	}
	r.template = r.newTemplate()
	if s.Pipeline {
		if r.pipe, err = c.pipeline(r.template.URI()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// newTemplate builds the routine's request template. The routine's headers
// are sent after Orbit's own in effect: where a name is the same (as
// written: names go out as they are), the routine's value is the one sent.
func (r *routine) newTemplate() *fasthttp.Request {
	t := &fasthttp.Request{}
	t.Header.DisableNormalizing() // names go out as written (W3C spells traceparent in lower case)
	t.Header.SetMethod(r.method)
	t.Header.SetContentType("application/json")
	for _, h := range r.headers {
		t.Header.Set(h[0], h[1])
		for i, name := range orbitHeaders {
			if h[0] == name {
				r.own[i] = true
			}
		}
	}
	t.SetRequestURI(r.uri.literalPrefix())
	t.URI() // parsed once here, so that calls copy it parsed
	return t
}

// setHeader sets one of Orbit's per-call headers unless the routine's own
// headers replace it.
func (r *routine) setHeader(req *fasthttp.Request, h int, v string) {
	if !r.own[h] {
		req.Header.Set(orbitHeaders[h], v)
	}
}

// Spec returns the routine as it was written, before ${ENV} expansion.
func (r *routine) Spec() Spec { return r.spec }

// SpecOf returns the spec of an http routine; ok is false for any other
// routine.
func SpecOf(r flow.Routine) (s Spec, ok bool) {
	hr, ok := r.(*routine)
	if !ok {
		return Spec{}, false
	}
	return hr.spec, true
}

// RoutineKind is flow.RoutineHTTP.
func (r *routine) RoutineKind() string { return flow.RoutineHTTP }

// Call sends the request for one task attempt and returns its result.
// With tracing on, the request is a client span under the step's, and
// its traceparent names that span.
func (r *routine) Call(ctx context.Context, input any, fc *flow.Context) (any, error) {
	s, fc := fc.ChildSpan(r.method, flow.SpanClient)
	if s == nil {
		return r.call(ctx, input, fc, nil)
	}
	s.SetString(AttrMethod, r.method)
	out, err := r.call(ctx, input, fc, s)
	if fe := flow.AsError(err, flow.ErrTaskFailed); fe != nil {
		s.Fail(fe.Name, fe.Cause)
	}
	s.End()
	return out, err
}

func (r *routine) call(ctx context.Context, input any, fc *flow.Context, s flow.Span) (any, error) {
	x := r.c.acquire()
	kept := true
	defer func() {
		if kept {
			r.c.free(x)
		}
	}()
	req := x.req
	r.template.CopyTo(req)

	if !r.uri.static {
		uri, err := r.uri.appendTo(x.scratch[:0], input)
		x.scratch = uri
		if err != nil {
			return nil, err
		}
		req.SetRequestURIBytes(uri)
	}
	if s != nil {
		s.SetString(AttrURL, spanURL(req))
	}
	if r.sendBody {
		// Encoded straight into the request's pooled body buffer.
		body, err := jsonenc.AppendValue(req.SwapBody(nil)[:0], input)
		req.SwapBody(body)
		if err != nil {
			return nil, flow.Errorf(flow.ErrRuntime, "the task input is not JSON: %v", err)
		}
	}
	if fc != nil {
		r.setHeader(req, hIdempotencyKey, fc.IdempotencyKey)
		r.setHeader(req, hInstance, fc.Instance)
		r.setHeader(req, hWorkflow, fc.Workflow)
		r.setHeader(req, hState, fc.State)
		if !r.own[hAttempt] {
			x.scratch = strconv.AppendInt(x.scratch[:0], int64(fc.Attempt), 10)
			req.Header.SetBytesV(orbitHeaders[hAttempt], x.scratch)
		}
	}
	switch {
	case r.own[hTraceParent]:
	case fc != nil && fc.TraceParent != "":
		req.Header.Set(orbitHeaders[hTraceParent], fc.TraceParent)
	default:
		req.Header.Set(orbitHeaders[hTraceParent], NewTraceParent())
	}

	var err error
	if kept, err = r.c.roundTrip(ctx, x, r.timeout, r.pipe); err != nil {
		return nil, err
	}
	status := x.resp.StatusCode()
	if s != nil {
		s.SetInt(AttrStatus, int64(status))
	}
	if status < 200 || status > 299 {
		return nil, statusError(req, status, x.resp.Body())
	}
	result := decode(x.resp.Body())
	if !r.full {
		return result, nil
	}
	return map[string]any{"status": float64(status), "headers": headerMap(&x.resp.Header, headerAny), "body": result}, nil
}

// decode is a 2xx body as a result: JSON values as Orbit holds them
// (numbers as written), an empty body null, anything else a string.
func decode(body []byte) any {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if v, err := flow.DecodeJSON(body); err == nil {
		return v
	}
	return string(body)
}
