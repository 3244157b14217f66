package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one sidecar's API. It is safe for concurrent use.
type Client struct {
	base    string // scheme and host, no trailing slash
	token   string
	http    *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends the sidecar's --token as a bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithTimeout bounds each request (default 30s). A request that waits for
// an instance's end is given its wait on top.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a request refused with 429 or 503 is
// sent again (default 3; 0: never).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the first pause before a retry whose answer named no
// Retry-After (default 200ms); each further retry pauses twice as long.
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithHTTPClient sends requests through hc (its transport, proxies, TLS);
// the client's own timeouts still apply.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// maxBackoff caps a pause the client chooses itself.
const maxBackoff = 10 * time.Second

// New makes a client of the sidecar at addr: "127.0.0.1:7077" or a URL
// ("http://orbit.internal:7077").
func New(addr string, opts ...Option) *Client {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{base: base, http: http.DefaultClient, timeout: 30 * time.Second, retries: 3,
		backoff: 200 * time.Millisecond}
	for _, o := range opts {
		o(c)
	}
	return c
}

// request is one call: where, what, and how long the server may take.
type request struct {
	method string
	path   string
	query  url.Values
	body   []byte // nil: none
	header http.Header
	wait   time.Duration // added to the timeout: the server may hold the answer this long
}

// answer is a 2xx answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends r, again after 429 and 503 as Retry-After or the backoff says,
// and returns the 2xx answer; any other answer is an *Error.
func (c *Client) do(ctx context.Context, r request) (*answer, error) {
	pause := c.backoff
	for attempt := 0; ; attempt++ {
		a, err := c.once(ctx, r)
		var ae *Error
		if err == nil || !errors.As(err, &ae) || !retryable(ae.Status) || attempt >= c.retries {
			return a, err
		}
		wait := ae.RetryAfter
		if wait <= 0 {
			// Jitter spreads the retries of many clients refused together.
			wait = pause/2 + rand.N(pause/2+1)
			pause = min(pause*2, maxBackoff)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, err // the retry could not come in time: the refusal is the answer
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// retryable says whether an answer refused the request unchanged, so that
// sending it again is safe whatever it does.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// once sends r one time.
func (c *Client) once(ctx context.Context, r request) (*answer, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+r.wait)
		defer cancel()
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %w", r.method, r.path, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: out}, nil
}

// send sends r and returns a 2xx answer with its body unread; any other
// answer is an *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sidecar at %s: %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %w", r.method, r.path, err)
	}
	return nil, answerError(resp, out)
}

// errorBody is the API's error answer.
type errorBody struct {
	Error struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// answerError reads a non-2xx answer into an *Error.
func answerError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After")), body: body}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// decode reads an answer's JSON.
func decode[T any](body []byte, r request) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("the answer of %s %s is not what the API answers: %w", r.method, r.path, err)
	}
	return v, nil
}

// call sends r and decodes its answer.
func call[T any](ctx context.Context, c *Client, r request) (*T, error) {
	a, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decode[T](a.body, r)
}

// seg escapes one path segment: an id, a workflow or an event name.
func seg(s string) string { return url.PathEscape(s) }

// body turns a value into a request body: JSON text as it is (json.RawMessage
// or []byte), anything else marshalled; nil is no body (the API reads null).
func body(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the body as JSON: %w", err)
	}
	return out, nil
}

// durationArg writes a duration as the API reads it.
func durationArg(d time.Duration) string { return d.String() }
