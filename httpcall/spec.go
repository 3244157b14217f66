// Package httpcall is Orbit's HTTP routine: one fasthttp client for the
// whole process, with connection reuse, used by `http` routines and by the
// plugins' http_request host function.
package httpcall

import (
	"errors"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Spec is an `http = {...}` routine as written in a script (SPEC 1.2).
type Spec struct {
	Method       string            // GET when empty
	URL          string            // ${ENV} expanded by New; {field} filled per call
	Headers      map[string]string // sent as given
	Query        map[string]string // values may hold {field}
	Timeout      time.Duration     // per call; 0 means the client's default
	FullResponse bool              // result is {status, headers, body}
}

// Client is the process-wide HTTP client.
type Client struct{}

// NewClient returns a client; a process needs only one.
func NewClient() *Client { return &Client{} }

// New builds a routine from a spec, expanding ${ENV} now (load time).
func New(c *Client, s Spec) (flow.Routine, error) {
	return nil, errors.New("httpcall: not implemented")
}
