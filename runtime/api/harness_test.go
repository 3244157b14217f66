package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/apitest"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// server is the API over a real engine on a real bbolt file, listening on
// an OS-chosen loopback port.
type server struct {
	t      testing.TB
	url    string
	engine *engine.Engine
	faults *storetest.Faulty // the engine writes through it; it passes all on until told otherwise
	api    *api.Server
	client *http.Client
	token  string
}

func newServer(t testing.TB, b *flow.Bundle, opt api.Options) *server {
	t.Helper()
	return newServerOn(t, b, opt, bolt.Options{NoSync: true})
}

// newServerOn is newServer with the store's options: benchmarks keep fsync.
func newServerOn(t testing.TB, b *flow.Bundle, opt api.Options, bopt bolt.Options) *server {
	t.Helper()
	sc := apitest.Start(t, b, opt, bopt)
	return &server{t: t, url: sc.URL, engine: sc.Engine, faults: sc.Faults, api: sc.API,
		client: &http.Client{Timeout: 30 * time.Second}, token: opt.Token}
}

// reply is an answer with its body decoded as JSON when it is JSON.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (s *server) do(method, path string, body []byte, header ...string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json") // as every client must; header may say otherwise
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.send(req)
}

// send sends a request as it is and reads the answer.
func (s *server) send(req *http.Request) reply {
	s.t.Helper()
	method, path := req.Method, req.URL.Path
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return s.read(method, path, resp)
}

// read reads an answer to method on path, its body decoded as JSON when it
// says it is JSON.
func (s *server) read(method, path string, resp *http.Response) reply {
	s.t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(b, &r.json); err != nil {
			// A number beyond a float64: read it as written.
			err = flow.UnmarshalJSON(b, &r.json)
		}
		if err != nil {
			s.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, b)
		}
	}
	return r
}

func (s *server) get(path string) reply { return s.do("GET", path, nil) }

func (s *server) post(path, body string, header ...string) reply {
	return s.do("POST", path, []byte(body), header...)
}

// want checks the status, and the error code for error answers.
func (r reply) want(t *testing.T, status int, code string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		e, _ := r.json["error"].(map[string]any)
		if e == nil || e["code"] != code || e["message"] == "" {
			t.Fatalf("error body %s, want code %q with a message", r.body, code)
		}
	}
	return r
}

func (r reply) str(key string) string { s, _ := r.json[key].(string); return s }

// raw is a member of the answer's object as the server wrote it.
func (r reply) raw(key string) json.RawMessage {
	var m map[string]json.RawMessage
	json.Unmarshal(r.body, &m)
	return m[key]
}

// String shows the answer in failure messages.
func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// until polls GET /v1/instances/{id} until it answers 200 and cond holds.
func (s *server) until(id, what string, cond func(reply) bool) reply {
	s.t.Helper()
	return orbittest.Until(s.t, orbittest.Timeout, "instance "+id+" "+what, func() (reply, error) {
		r := s.get("/v1/instances/" + id)
		if r.status != 200 {
			return r, errors.New(r.String())
		}
		return r, nil
	}, cond)
}

func (s *server) status(id, status string) reply {
	s.t.Helper()
	return s.until(id, status, func(r reply) bool { return r.str("status") == status })
}

func (s *server) waitsFor(id, kind string) reply {
	s.t.Helper()
	return s.until(id, "waiting for "+kind, func(r reply) bool {
		w, _ := r.json["waiting"].(map[string]any)
		return w != nil && w["kind"] == kind
	})
}

// Builders keep test workflows short.

var (
	bundle   = flowtest.Bundle
	workflow = flowtest.Workflow
)

func fn(f func(ctx context.Context, in any, c *flow.Context) (any, error)) flow.Routine {
	return flow.RoutineFunc(f)
}
