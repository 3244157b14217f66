package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Bounds on what a guest may hand the host in one host call, checked
// before the host copies or quotes anything.
const (
	maxKVKey       = 1 << 10  // a config or key-value key
	maxKVValue     = 1 << 20  // a key-value value
	maxHTTPRequest = 16 << 20 // an http_request's JSON
	maxHTTPBody    = 16 << 20 // the body of its response, before it is quoted into JSON
)

const i32 = api.ValueTypeI32

// hostFunc is one function of the orbit import module; the table below is
// both what the host provides and what checkModule holds imports against.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(ctx context.Context, i *instance, stack []uint64)
}

var hostFuncs = []hostFunc{
	{"log", []api.ValueType{i32, i32, i32}, nil, hostLog},
	{"config_get", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostConfigGet},
	{"kv_get", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostKVGet},
	{"kv_put", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostKVPut},
	{"http_request", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostHTTPRequest},
	{"context_get", []api.ValueType{i32, i32}, []api.ValueType{i32}, hostContextGet},
	{"read", []api.ValueType{i32, i32}, []api.ValueType{i32}, hostRead},
}

// instantiateHostModule provides the orbit module to a plugin's runtime.
// The functions find their instance in the call's context, so one module
// serves every instance of the runtime.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(importOrbit)
	for _, hf := range hostFuncs {
		fn := hf.fn
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, caller api.Module, stack []uint64) {
			i := instanceFrom(ctx)
			if i == nil { // a module instantiated outside this package; cannot happen
				return
			}
			// The caller's memory, not i.mod's: a command module calls in
			// from _start, before its instance is known.
			i.mem = caller.Memory()
			fn(ctx, i, stack)
		}), hf.params, hf.results).Export(hf.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// Every parameter of the orbit functions is an i32, which arrives in the
// low half of its stack slot: the high half is not zeroed (a C guest's
// often holds garbage there), so each is read through u32.

// u32 reads an i32 parameter.
func u32(slot uint64) uint32 { return api.DecodeU32(slot) }

// bytesAt is a view of guest memory; ok is false outside it.
func (i *instance) bytesAt(ptr, n uint64) ([]byte, bool) {
	return i.mem.Read(u32(ptr), u32(n))
}

// give hands a value to the guest: written into its buffer when it fits,
// else kept pending for read. Returns the value's length.
func (i *instance) give(stack []uint64, bufPtr, bufCap uint64, v []byte) {
	i.pending = nil
	if uint64(len(v)) <= uint64(u32(bufCap)) {
		if !i.mem.Write(u32(bufPtr), v) {
			i.fail(stack, CodeInvalid, "buffer is outside memory")
			return
		}
	} else {
		i.pending = v
	}
	stack[0] = api.EncodeI32(int32(len(v)))
}

// fail returns an error code and leaves the explanation for read.
func (i *instance) fail(stack []uint64, code int32, format string, args ...any) {
	i.pending = fmt.Appendf(nil, format, args...)
	stack[0] = api.EncodeI32(code)
}

func hostLog(ctx context.Context, i *instance, stack []uint64) {
	msg, ok := i.bytesAt(stack[1], stack[2])
	if !ok || !i.out.take(len(msg)) {
		return
	}
	level := [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[min(u32(stack[0]), 3)]
	i.logger().Log(ctx, level, string(msg))
}

func hostConfigGet(_ context.Context, i *instance, stack []uint64) {
	key, ok := i.bytesAt(stack[0], stack[1])
	switch {
	case !ok:
		i.fail(stack, CodeInvalid, "key is outside memory")
		return
	case len(key) > maxKVKey:
		i.fail(stack, CodeInvalid, "keys are at most %d bytes", maxKVKey)
		return
	}
	v, found := i.p.m.Config[string(key)]
	if !found {
		i.fail(stack, CodeNotFound, "config has no key %q", key)
		return
	}
	i.give(stack, stack[2], stack[3], []byte(v))
}

func hostKVGet(_ context.Context, i *instance, stack []uint64) {
	key, ok := i.bytesAt(stack[0], stack[1])
	switch {
	case !ok:
		i.fail(stack, CodeInvalid, "key is outside memory")
		return
	case len(key) > maxKVKey:
		i.fail(stack, CodeInvalid, "keys are at most %d bytes", maxKVKey)
		return
	case i.p.h.kv == nil:
		i.fail(stack, CodeFailed, "this Orbit has no key-value store")
		return
	}
	v, err := i.p.h.kv.KVGet(i.p.m.Name, string(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		i.fail(stack, CodeNotFound, "no key %q", key)
	case err != nil:
		i.fail(stack, CodeFailed, "kv_get: %v", err)
	default:
		i.give(stack, stack[2], stack[3], v)
	}
}

func hostKVPut(_ context.Context, i *instance, stack []uint64) {
	key, ok1 := i.bytesAt(stack[0], stack[1])
	val, ok2 := i.bytesAt(stack[2], stack[3])
	switch {
	case !ok1 || !ok2:
		i.fail(stack, CodeInvalid, "key or value is outside memory")
	case len(key) == 0 || len(key) > maxKVKey || len(val) > maxKVValue:
		i.fail(stack, CodeInvalid, "keys are 1 to %d bytes and values up to %d bytes", maxKVKey, maxKVValue)
	case i.p.h.kv == nil:
		i.fail(stack, CodeFailed, "this Orbit has no key-value store")
	default:
		// The store may keep the slice; guest memory changes under it.
		err := i.p.kv.put(i.p.h.kv, i.p.m.Name, string(key), bytes.Clone(val))
		var over errOverQuota
		switch {
		case errors.As(err, &over):
			i.fail(stack, CodeQuota, "%v", err)
			return
		case err != nil:
			i.fail(stack, CodeFailed, "kv_put: %v", err)
			return
		}
		i.pending = nil
		stack[0] = 0
	}
}

// httpRequest and httpResponse are http_request's JSON (see abi.go).
type httpRequest struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	TimeoutMS int64             `json:"timeout_ms"`
}

type httpResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func hostHTTPRequest(ctx context.Context, i *instance, stack []uint64) {
	raw, ok := i.bytesAt(stack[0], stack[1])
	switch {
	case !ok:
		i.fail(stack, CodeInvalid, "request is outside memory")
		return
	case len(raw) > maxHTTPRequest:
		i.fail(stack, CodeInvalid, "request is %d bytes; at most %d", len(raw), maxHTTPRequest)
		return
	}
	var req httpRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		i.fail(stack, CodeInvalid, "request is not valid JSON: %v", err)
		return
	}
	if err := allowed(i.p.m.hosts, req.URL); err != nil {
		i.logger().Warn("http_request denied", "url", req.URL, "reason", err)
		i.fail(stack, CodeDenied, "%v", err)
		return
	}
	if i.p.h.http == nil {
		i.fail(stack, CodeFailed, "this Orbit has no HTTP client")
		return
	}
	if req.Method == "" {
		req.Method = "GET"
	}
	// The call's deadline bounds the request; a shorter timeout_ms wins.
	timeout := i.p.m.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if t := time.Duration(req.TimeoutMS) * time.Millisecond; t > 0 && t < timeout {
		timeout = t
	}
	if timeout <= 0 { // the client would take zero for "its default"
		i.fail(stack, CodeFailed, "%s %s: the call's time is up", req.Method, req.URL)
		return
	}
	// With tracing on, the request is a client span under the plugin
	// call's, and its traceparent names that span.
	s, c := i.flow.ChildSpan(req.Method, flow.SpanClient)
	headers := taskHeaders(c, req.Headers, req.Body != "")
	status, respHeaders, body, err := i.p.h.http.Do(ctx, req.Method, req.URL, headers, []byte(req.Body), timeout)
	if s != nil {
		s.SetString(httpcall.AttrMethod, req.Method)
		s.SetString(httpcall.AttrURL, withoutQuery(req.URL))
		if fe := flow.AsError(err, flow.ErrTaskFailed); fe != nil {
			s.Fail(fe.Name, fe.Cause)
		} else {
			s.SetInt(httpcall.AttrStatus, int64(status))
		}
		s.End()
	}
	switch {
	case err != nil:
		i.fail(stack, CodeFailed, "%s %s: %v", req.Method, req.URL, err)
		return
	case len(body) > maxHTTPBody:
		i.fail(stack, CodeFailed, "%s %s: response body of %d bytes is over the %d a plugin may receive", req.Method, req.URL, len(body), maxHTTPBody)
		return
	}
	out, err := json.Marshal(httpResponse{Status: status, Headers: respHeaders, Body: string(body)})
	if err != nil {
		i.fail(stack, CodeFailed, "response: %v", err)
		return
	}
	i.give(stack, stack[2], stack[3], out)
}

// withoutQuery is a URL for a span: its query may carry credentials.
func withoutQuery(url string) string {
	u, _, _ := strings.Cut(url, "?")
	return u
}

// taskHeaders adds what every outgoing call of the task c describes
// carries (SPEC 1.2), so that a plugin's requests are deduplicated and
// traced like an http routine's. The guest's own headers win.
func taskHeaders(c *flow.Context, h map[string]string, hasBody bool) map[string]string {
	out := make(map[string]string, len(h)+7)
	if hasBody {
		out["Content-Type"] = "application/json"
	}
	if c != nil {
		out["Idempotency-Key"] = c.IdempotencyKey
		out["Orbit-Instance"] = c.Instance
		out["Orbit-Workflow"] = c.Workflow
		out["Orbit-State"] = c.State
		out["Orbit-Attempt"] = strconv.Itoa(c.Attempt)
		if c.TraceParent != "" {
			out["traceparent"] = c.TraceParent
		}
	}
	for k, v := range h {
		out[k] = v
	}
	return out
}

// taskContext is context_get's JSON.
type taskContext struct {
	Instance       string `json:"instance"`
	Workflow       string `json:"workflow"`
	Version        string `json:"version"`
	State          string `json:"state"`
	Attempt        int    `json:"attempt"`
	Visit          int    `json:"visit"`
	IdempotencyKey string `json:"idempotency_key"`
	TraceParent    string `json:"traceparent"`
}

func hostContextGet(_ context.Context, i *instance, stack []uint64) {
	var tc taskContext
	if c := i.flow; c != nil {
		tc = taskContext{c.Instance, c.Workflow, c.Version, c.State, c.Attempt, c.Visit, c.IdempotencyKey, c.TraceParent}
	}
	out, _ := json.Marshal(tc) // a struct of strings and ints always encodes
	i.give(stack, stack[0], stack[1], out)
}

func hostRead(_ context.Context, i *instance, stack []uint64) {
	if i.pending == nil {
		stack[0] = api.EncodeI32(CodeNoData)
		return
	}
	v := i.pending
	if uint64(len(v)) > uint64(u32(stack[1])) {
		stack[0] = api.EncodeI32(int32(len(v))) // still too small: keep it
		return
	}
	if !i.mem.Write(u32(stack[0]), v) {
		i.fail(stack, CodeInvalid, "buffer is outside memory")
		return
	}
	i.pending = nil
	stack[0] = api.EncodeI32(int32(len(v)))
}
