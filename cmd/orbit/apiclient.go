package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/api"
)

// apiClient talks to a running sidecar's HTTP API.
type apiClient struct {
	base  string // scheme and host, no trailing slash
	token string
	http  *http.Client
}

// apiError is a non-2xx answer, with the API's error code and message.
type apiError struct {
	Status  int
	Code    string
	Message string
	Body    []byte // the answer as it came, for answers that carry more than the error
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newAPIClient(addr, token string, timeout time.Duration) *apiClient {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &apiClient{base: base, token: token, http: &http.Client{Timeout: timeout}}
}

// call sends a request and returns the body of a 2xx answer; other answers
// become *apiError.
func (c *apiClient) call(method, path string, query url.Values, body []byte) ([]byte, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sidecar at %s (is orbit serve running? see --addr): %w", c.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var eb api.ErrorBody
		if json.Unmarshal(out, &eb) != nil || eb.Error.Code == "" {
			return nil, &apiError{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(out)), Body: out}
		}
		return nil, &apiError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Body: out}
	}
	return out, nil
}

// seg escapes one path segment (an id, workflow or event name).
func seg(s string) string { return url.PathEscape(s) }
