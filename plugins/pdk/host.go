package pdk

import (
	"encoding/json"
	"fmt"
	"time"
	"unsafe"
)

// ABIVersion is the Orbit plugin ABI this kit implements.
const ABIVersion = 1

// Result codes of the host functions (plugins/abi.go).
const (
	codeNotFound    = -1
	codeDenied      = -2
	codeInvalid     = -3
	codeFailed      = -4
	codeNoData      = -5
	codeQuota       = -6
	codeUnavailable = -100 // outside a wasm guest; never sent by a host
)

// HostError is a refusal or failure of a host function, with the host's
// explanation. Compare with errors.Is against ErrNotFound and friends.
type HostError struct {
	Code    int32
	Message string
}

// Error is the host's explanation.
func (e *HostError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("orbit host error %d", e.Code)
	}
	return e.Message
}

// Is matches the sentinel errors by code.
func (e *HostError) Is(target error) bool {
	t, ok := target.(*HostError)
	return ok && t.Code == e.Code
}

// The host's refusals, for errors.Is.
var (
	ErrNotFound    = &HostError{Code: codeNotFound, Message: "not found"}
	ErrDenied      = &HostError{Code: codeDenied, Message: "denied: host not in allowed_hosts"}
	ErrInvalid     = &HostError{Code: codeInvalid, Message: "invalid request"}
	ErrFailed      = &HostError{Code: codeFailed, Message: "failed"}
	ErrQuota       = &HostError{Code: codeQuota, Message: "over the plugin's kv_quota"}
	ErrUnavailable = &HostError{Code: codeUnavailable, Message: "not running inside Orbit"}
)

// scratch is the first buffer every host call offers; most values fit, so
// most calls need one round trip.
const scratch = 512

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func strPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// fetch runs a host call that yields a value into a buffer, fetching the
// value with read when it did not fit.
func fetch(call func(buf unsafe.Pointer, bufCap uint32) int32) ([]byte, error) {
	buf := make([]byte, scratch)
	n := call(ptr(buf), uint32(len(buf)))
	if n < 0 {
		return nil, hostError(n)
	}
	if int(n) <= len(buf) {
		return buf[:n], nil
	}
	buf = make([]byte, n)
	if m := rawRead(ptr(buf), uint32(n)); m != n {
		return nil, hostError(m)
	}
	return buf, nil
}

// hostError picks up the explanation the host left for a failed call.
func hostError(code int32) error {
	e := &HostError{Code: code}
	if code == codeUnavailable {
		return ErrUnavailable
	}
	buf := make([]byte, scratch)
	if n := rawRead(ptr(buf), uint32(len(buf))); n >= 0 {
		e.Message = string(buf[:min(int(n), len(buf))])
	}
	return e
}

// Level is a log level.
type Level int32

// The log levels.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelWarn
	LevelError
)

// Log writes a line to Orbit's log, tagged with the plugin and the task.
func Log(level Level, msg string) { rawLog(int32(level), strPtr(msg), uint32(len(msg))) }

// Config returns the manifest's config value for key.
func Config(key string) (string, bool) {
	v, err := fetch(func(buf unsafe.Pointer, n uint32) int32 {
		return rawConfigGet(strPtr(key), uint32(len(key)), buf, n)
	})
	return string(v), err == nil
}

// KVGet reads a key of the plugin's own key-value store; a missing key is
// ErrNotFound.
func KVGet(key string) ([]byte, error) {
	return fetch(func(buf unsafe.Pointer, n uint32) int32 {
		return rawKVGet(strPtr(key), uint32(len(key)), buf, n)
	})
}

// KVPut writes a key of the plugin's own key-value store (keys up to 1 KiB,
// values up to 1 MiB); an empty value deletes the key. A write that would
// take the plugin's keys and values over the manifest's kv_quota is
// ErrQuota.
func KVPut(key string, value []byte) error {
	if n := rawKVPut(strPtr(key), uint32(len(key)), ptr(value), uint32(len(value))); n < 0 {
		return hostError(n)
	}
	return nil
}

// KVDelete deletes a key of the plugin's own key-value store, freeing its
// bytes of the kv_quota; a missing key is no error.
func KVDelete(key string) error { return KVPut(key, nil) }

// Request is an HTTP request made through the host. Only the manifest's
// allowed_hosts are reachable; the host adds the task's Idempotency-Key,
// Orbit-* and traceparent headers unless set here.
type Request struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Timeout time.Duration     `json:"-"` // 0: the rest of the call's time
}

// Response is the host's answer; any status is a response, not an error.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"` // names in lower case
	Body    string            `json:"body"`
}

// HTTPRequest sends req through the host; a host outside allowed_hosts is
// ErrDenied, a connection failure ErrFailed.
func HTTPRequest(req Request) (*Response, error) {
	wire, err := json.Marshal(struct {
		Request
		TimeoutMS int64 `json:"timeout_ms,omitempty"`
	}{req, req.Timeout.Milliseconds()})
	if err != nil {
		return nil, err
	}
	out, err := fetch(func(buf unsafe.Pointer, n uint32) int32 {
		return rawHTTPRequest(ptr(wire), uint32(len(wire)), buf, n)
	})
	if err != nil {
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("http response: %w", err)
	}
	return &resp, nil
}

// TaskContext is the task a call runs for.
type TaskContext struct {
	Instance       string `json:"instance"`
	Workflow       string `json:"workflow"`
	Version        string `json:"version"`
	State          string `json:"state"`
	Attempt        int    `json:"attempt"`
	Visit          int    `json:"visit"`
	IdempotencyKey string `json:"idempotency_key"`
	TraceParent    string `json:"traceparent"`
}

// Context returns the task the current call runs for.
func Context() (TaskContext, error) {
	var tc TaskContext
	out, err := fetch(rawContextGet)
	if err != nil {
		return tc, err
	}
	return tc, json.Unmarshal(out, &tc)
}
