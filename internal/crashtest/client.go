package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// client talks to whichever sidecar runs now: the address changes with
// every restart, and a request that finds none, or loses its connection
// to a killed one, is sent again, as a client of a crashing service must.
type client struct {
	addr atomic.Pointer[string]
	http *http.Client
	ctx  context.Context // ends the test's clients
}

// answer is a sidecar's reply.
type answer struct {
	status int
	body   []byte
	obj    map[string]any
}

func (a answer) str(key string) string { s, _ := a.obj[key].(string); return s }

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// retryPause is how long a client waits before sending a request again.
const retryPause = 25 * time.Millisecond

// send makes one request to the current sidecar.
func (c *client) send(method, path string, body []byte) (answer, error) {
	addr := c.addr.Load()
	if addr == nil {
		return answer{}, errors.New("no sidecar yet")
	}
	req, err := http.NewRequestWithContext(c.ctx, method, "http://"+*addr+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, body: b}
	json.Unmarshal(b, &a.obj)
	return a, nil
}

// do sends until the sidecar answers with something other than a refusal
// to work right now (503, 429): a lost connection means the sidecar died,
// and the request goes again to the next one. It gives up only when the
// test ends.
func (c *client) do(method, path string, body []byte) (answer, error) {
	for {
		a, err := c.send(method, path, body)
		if err == nil && a.status != http.StatusServiceUnavailable && a.status != http.StatusTooManyRequests {
			return a, nil
		}
		select {
		case <-c.ctx.Done():
			if err == nil {
				err = fmt.Errorf("%s %s: %s", method, path, a)
			}
			return a, fmt.Errorf("gave up: %w", err)
		case <-time.After(retryPause):
		}
	}
}
