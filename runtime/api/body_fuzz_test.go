package api_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

const fuzzMaxPayload = 4 << 10

// fuzzServer is the API over a real engine and bbolt file, shared by every
// input of one fuzz run; each input reports through its own t.
func fuzzServer(f *testing.F) *server {
	b := newFixture().bundle
	keyed := workflow("keyed", "Wait", &flow.State{Name: "Wait", Kind: flow.Await, Event: "go", Result: flow.MustPath("$.ev")})
	keyed.Concurrency = &flow.Concurrency{Key: flow.MustPath("$.key"), Limit: 1}
	keyed.Index()
	b.Workflows["keyed"] = keyed
	return newServer(f, b, api.Options{MaxPayload: fuzzMaxPayload})
}

func (s *server) as(t *testing.T) *server {
	c := *s
	c.t = t
	return &c
}

// errorCodes are the codes a request body or an instance id may earn.
var bodyErrorCodes = map[int]string{400: api.CodeBadRequest, 404: api.CodeNotFound, 409: api.CodeConflict,
	413: api.CodePayloadTooLarge, 422: api.CodeUnknownEvent}

// checkAnswer fails on a server error or an error answer that is not the
// documented JSON error for its status.
func checkAnswer(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status < 300 {
		return
	}
	code, ok := bodyErrorCodes[r.status]
	e, _ := r.json["error"].(map[string]any)
	if !ok || e == nil || e["code"] != code && !(r.status == 409 && e["code"] == api.CodeEnded) || e["message"] == "" {
		t.Fatalf("%s answered %d %s", what, r.status, r.body)
	}
}

// sameJSON reports whether two JSON texts hold the same value, numbers
// spelt the same (Orbit passes them along exactly as written); an empty
// body is null.
func sameJSON(a, b []byte) bool {
	var x, y any
	if len(bytes.TrimSpace(a)) == 0 {
		a = []byte("null")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("null")
	}
	if flow.UnmarshalJSON(a, &x) != nil || flow.UnmarshalJSON(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// FuzzStartBody starts workflows with arbitrary bodies and ids. Nothing a
// client sends may earn a 500; valid JSON within the limit starts an
// instance whose output (the echo workflow's) is that JSON; a repeated start
// with the same id and body is answered with the same instance.
func FuzzStartBody(f *testing.F) {
	s := fuzzServer(f)
	f.Add([]byte(`{"order":{"id":"o-1","amount":12.5,"items":[1,2]}}`), "order-1")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		s := s.as(t)
		q := url.Values{"wait": {"10s"}}
		if id != "" {
			q.Set("id", id)
		}
		path := "/v1/workflows/echo/instances?" + q.Encode()
		r := s.do("POST", path, body)
		checkAnswer(t, "start", r)
		valid := len(bytes.TrimSpace(body)) == 0 || json.Valid(body)
		if r.status < 300 {
			if !valid || len(body) > fuzzMaxPayload {
				t.Fatalf("start with body %q answered %d", body, r.status)
			}
			want := body
			var compact bytes.Buffer
			if json.Compact(&compact, body) == nil && compact.String() == "[]" {
				want = []byte("{}") // an empty array is an empty object
			}
			if r.str("status") != "SUCCEEDED" || !sameJSON(r.raw("output"), want) {
				t.Fatalf("echo of %q answered %s", body, r.body)
			}
			if id != "" {
				again := s.do("POST", path, body)
				if again.status != 200 || again.str("id") != id {
					t.Fatalf("repeated start of %q answered %d %s", id, again.status, again.body)
				}
			}
		}
		// The keyed workflow also reads its concurrency key from the body.
		k := s.do("POST", "/v1/workflows/keyed/instances", body)
		checkAnswer(t, "keyed start", k)
		if k.status < 300 {
			s.do("POST", "/v1/instances/"+k.str("id")+"/cancel", nil)
		}
	})
}

// FuzzEventBody delivers events with arbitrary names and payloads to a
// waiting instance. Nothing may earn a 500; an accepted "go" event ends the
// instance with its payload as the output.
func FuzzEventBody(f *testing.F) {
	s := fuzzServer(f)
	f.Add([]byte(`{"approved":true,"by":"ada"}`), "go")
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		s := s.as(t)
		id := s.do("POST", "/v1/workflows/await/instances", []byte(`{}`)).want(t, 201, "").str("id")
		r := s.do("POST", "/v1/instances/"+id+"/events/"+url.PathEscape(name), body)
		if r.status == 404 || r.status == 405 {
			// A name that is not one path segment does not reach the route.
			if e, _ := r.json["error"].(map[string]any); e == nil {
				t.Fatalf("event %q answered %d %s", name, r.status, r.body)
			}
			return
		}
		checkAnswer(t, "event", r)
		if r.status != 202 || name != "go" {
			s.do("POST", "/v1/instances/"+id+"/cancel", nil)
			return
		}
		got := s.status(id, "SUCCEEDED")
		if wrapped := got.raw("output"); !sameJSON(wrapped, append(append([]byte(`{"ev":`), orNull(body)...), '}')) {
			t.Fatalf("event payload %q ended the instance with %s", body, wrapped)
		}
	})
}

func orNull(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("null")
	}
	return b
}
