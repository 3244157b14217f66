package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/api"
)

// openAPI is the description the server serves, with its schemas compiled
// for validation (by santhosh-tekuri/jsonschema, JSON Schema 2020-12 as
// OpenAPI 3.1 uses it).
type openAPI struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
}

func loadOpenAPI(t *testing.T, s *server) *openAPI {
	t.Helper()
	r := s.get("/v1/openapi.json").want(t, 200, "")
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	if r.json["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v, want 3.1.0", r.json["openapi"])
	}
	return &openAPI{doc: r.json, compiler: c}
}

// pointer escapes a JSON pointer's token.
func pointer(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }

// responses returns the documented answers of one operation.
func (o *openAPI) responses(t *testing.T, template, method string) map[string]any {
	t.Helper()
	p, _ := o.doc["paths"].(map[string]any)[template].(map[string]any)
	op, _ := p[strings.ToLower(method)].(map[string]any)
	if op == nil {
		t.Fatalf("openapi.json has no %s %s", method, template)
	}
	return op["responses"].(map[string]any)
}

// check validates one real answer against the operation's documented
// answer for its status (or the default, an error body), and returns the
// status it matched ("default" for the default).
func (o *openAPI) check(t *testing.T, template, method string, r reply) string {
	t.Helper()
	status := fmt.Sprint(r.status)
	resps := o.responses(t, template, method)
	ptr := "openapi.json#/paths/" + pointer(template) + "/" + strings.ToLower(method) + "/responses/" + status
	doc, ok := resps[status].(map[string]any)
	if !ok {
		if r.status < 400 {
			t.Fatalf("%s %s answered %s, which openapi.json does not document: %s", method, template, status, r.body)
		}
		status, ptr = "default", "openapi.json#/components/responses/Error"
		doc = o.doc["components"].(map[string]any)["responses"].(map[string]any)["Error"].(map[string]any)
	}
	content, _ := doc["content"].(map[string]any)
	ct, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
	if content == nil {
		if len(r.body) > 0 && r.status != 301 {
			t.Fatalf("%s %s answered %s with a body openapi.json does not document: %s", method, template, status, r.body)
		}
		return status
	}
	if _, ok := content[ct]; !ok {
		t.Fatalf("%s %s answered %s as %q; openapi.json documents %v", method, template, status, ct, slices.Collect(mapKeys(content)))
	}
	if ct != "application/json" {
		return status
	}
	sch, err := o.compiler.Compile(ptr + "/content/application~1json/schema")
	if err != nil {
		t.Fatalf("compile the schema of %s %s %s: %v", method, template, status, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s %s answered %s with a body openapi.json does not describe: %s\n%v", method, template, status, r.body, err)
	}
	return status
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOpenAPIDescribesRealAnswers makes a real request for every answer
// openapi.json documents and validates what comes back against it.
func TestOpenAPIDescribesRealAnswers(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{MaxPayload: 4 << 10})
	o := loadOpenAPI(t, s)
	covered := map[string]bool{}
	call := func(method, template, path, body string, want int, header ...string) reply {
		t.Helper()
		r := s.do(method, path, []byte(body), header...)
		if r.status != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
		}
		covered[method+" "+template+" "+o.check(t, template, method, r)] = true
		return r
	}
	const (
		start    = "/v1/workflows/{name}/instances"
		instance = "/v1/instances/{id}"
		event    = "/v1/instances/{id}/events/{event}"
	)
	call("GET", "/healthz", "/healthz", "", 200)
	call("GET", "/readyz", "/readyz", "", 200)
	call("GET", "/metrics", "/metrics", "", 200)
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	call("GET", "/ui", "/ui", "", 301)
	s.client.CheckRedirect = nil
	call("GET", "/ui/{path}", "/ui/index.html", "", 200)
	call("GET", "/ui/{path}", "/ui/nothing.txt", "", 404)
	call("GET", "/v1/openapi.json", "/v1/openapi.json", "", 200)
	call("GET", "/v1/plugins", "/v1/plugins", "", 200)
	call("GET", "/v1/backup", "/v1/backup", "", 200)
	call("GET", "/v1/workflows", "/v1/workflows", "", 200)
	call("GET", "/v1/workflows/{name}", "/v1/workflows/parent", "", 200)
	call("GET", "/v1/workflows/{name}", "/v1/workflows/nope", "", 404)
	call("GET", "/v1/workflows/{name}/graph", "/v1/workflows/echo/graph", "", 200)
	call("GET", "/v1/workflows/{name}/graph", "/v1/workflows/echo/graph?format=svg", "", 200)
	call("GET", "/v1/workflows/{name}/graph", "/v1/workflows/echo/graph?format=png", "", 400)
	call("GET", "/v1/workflows/{name}/graph", "/v1/workflows/nope/graph", "", 404)
	call("POST", "/v1/workflows/{name}/states/{state}/test", "/v1/workflows/echo/states/Echo/test", `{"input":{"a":1}}`, 200)
	call("POST", "/v1/workflows/{name}/states/{state}/test", "/v1/workflows/echo/states/Echo/test", `{"bogus":1}`, 400)
	call("POST", "/v1/workflows/{name}/states/{state}/test", "/v1/workflows/nope/states/Echo/test", `{}`, 404)

	call("POST", start, "/v1/workflows/echo/instances", `{"a":1}`, 201)
	ended := call("POST", start, "/v1/workflows/echo/instances?wait=10s", `{"a":1}`, 200)
	call("POST", start, "/v1/workflows/await/instances?id=w-1&wait=1ms", `{"n":1}`, 201)
	call("POST", start, "/v1/workflows/await/instances?id=w-1", `{"n":1}`, 200)
	call("POST", start, "/v1/workflows/await/instances?id=w-1", `{"n":2}`, 409)
	call("POST", start, "/v1/workflows/await/instances", `{"n":`, 400)
	call("POST", start, "/v1/workflows/nope/instances", `{}`, 404)
	call("POST", start, "/v1/workflows/echo/instances", `"`+strings.Repeat("x", 8<<10)+`"`, 413)
	s.waitsFor("w-1", "event")

	keyed := call("POST", start, "/v1/workflows/await/instances", `{}`, 201, "Idempotency-Key", "magento/quote/1")
	call("GET", instance, "/v1/instances/"+keyed.str("id"), "", 200)
	call("GET", "/v1/instances", "/v1/instances?idempotency_key=magento%2Fquote%2F1", "", 200)
	call("GET", "/v1/instances", "/v1/instances?limit=1", "", 200)
	call("GET", "/v1/instances", "/v1/instances?status=nope", "", 400)
	call("GET", "/v1/counts", "/v1/counts?workflow=await", "", 200)
	call("GET", "/v1/counts", "/v1/counts?status=nope", "", 400)
	call("GET", instance, "/v1/instances/w-1", "", 200)
	call("GET", instance, "/v1/instances/"+ended.str("id")+"?wait=1s", "", 200)
	call("GET", instance, "/v1/instances/nobody", "", 404)
	// The receipt, which the schema describes, is in a real answer.
	if h := call("GET", "/v1/instances/{id}/history", "/v1/instances/w-1/history?limit=1", "", 200); h.json["chain_head"] == nil {
		t.Errorf("the history of w-1 has no chain_head: %s", h.body)
	}
	call("GET", "/v1/instances/{id}/history", "/v1/instances/nobody/history", "", 404)
	call("GET", "/v1/instances/{id}/graph", "/v1/instances/w-1/graph?format=mermaid", "", 200)
	call("GET", "/v1/instances/{id}/graph", "/v1/instances/nobody/graph", "", 404)

	call("POST", "/v1/instances/{id}/pause", "/v1/instances/w-1/pause", "", 202)
	call("POST", "/v1/instances/{id}/resume", "/v1/instances/w-1/resume", "", 202)
	call("POST", "/v1/instances/{id}/resume", "/v1/instances/w-1/resume", "", 409)
	s.waitsFor("w-1", "event")
	call("POST", event, "/v1/instances/w-1/events/nope", `{}`, 422)
	call("POST", event, "/v1/instances/w-1/events/go", `{"ok":true}`, 202)
	call("POST", event, "/v1/instances/nobody/events/go", `{}`, 404)
	s.status("w-1", "SUCCEEDED")
	call("POST", event, "/v1/instances/w-1/events/go", `{}`, 409)
	call("POST", start, "/v1/workflows/await/instances?id=w-2", `{}`, 201)
	s.waitsFor("w-2", "event")
	call("POST", event, "/v1/instances/w-2/events/go?wait=10s", `1`, 200)
	call("POST", start, "/v1/workflows/await/instances?id=w-3", `{}`, 201)
	call("POST", "/v1/instances/{id}/cancel", "/v1/instances/w-3/cancel", "", 202)
	call("POST", "/v1/instances/{id}/cancel", "/v1/instances/w-3/cancel", "", 409)
	call("POST", "/v1/instances/{id}/cancel", "/v1/instances/nobody/cancel", "", 404)
	call("POST", "/v1/instances/{id}/pause", "/v1/instances/w-3/pause", "", 409)
	call("POST", "/v1/instances/{id}/pause", "/v1/instances/nobody/pause", "", 404)
	call("POST", "/v1/instances/{id}/resume", "/v1/instances/nobody/resume", "", 404)
	failed := call("POST", start, "/v1/workflows/flaky/instances?wait=10s", `{}`, 200)
	call("POST", "/v1/instances/{id}/redrive", "/v1/instances/"+failed.str("id")+"/redrive", "", 202)
	call("POST", "/v1/instances/{id}/redrive", "/v1/instances/w-2/redrive", "", 409)
	call("POST", "/v1/instances/{id}/redrive", "/v1/instances/nobody/redrive", "", 404)

	// Migrations need a second version: the order workflow of migrate_test.go.
	v1, v2 := orderVersions()
	m := newServer(t, v1, api.Options{})
	m.post("/v1/workflows/order/instances?id=a", `{"n":1}`).want(t, 201, "")
	m.waitsFor("a", "event")
	if err := m.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	s = m // call sends to the sidecar in s
	call("POST", "/v1/instances/{id}/migrate", "/v1/instances/a/migrate?version=v2&dry_run=true", "", 200)
	call("POST", "/v1/instances/{id}/migrate", "/v1/instances/a/migrate?version=v1", "", 409)
	call("POST", "/v1/instances/{id}/migrate", "/v1/instances/a/migrate", "", 400)
	call("POST", "/v1/instances/{id}/migrate", "/v1/instances/nobody/migrate?version=v2", "", 404)
	call("POST", "/v1/workflows/{name}/migrate", "/v1/workflows/order/migrate?version=v2&dry_run=true", "", 200)
	call("POST", "/v1/workflows/{name}/migrate", "/v1/workflows/nope/migrate?version=v2", "", 404)
	// Not ready: a store that cannot write.
	m.faults.FailWrites(fmt.Errorf("disk full"))
	m.post("/v1/workflows/order/instances", `{}`).want(t, 503, api.CodeUnavailable)
	call("GET", "/readyz", "/readyz", "", 503)
	m.faults.Heal()

	for template, p := range o.doc["paths"].(map[string]any) {
		for method, op := range p.(map[string]any) {
			for status := range op.(map[string]any)["responses"].(map[string]any) {
				if k := strings.ToUpper(method) + " " + template + " " + status; status != "default" && !covered[k] {
					t.Errorf("openapi.json documents %s, which no request of this test checked", k)
				}
			}
		}
	}
}

// TestOpenAPIErrorCodesAreTheDocumentedOnes compares the error codes of
// openapi.json with the table of docs/api.md.
func TestOpenAPIErrorCodesAreTheDocumentedOnes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := orbittest.ErrorCodes(t, "../../docs/api.md")
	codes := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	slices.Sort(codes)
	if !slices.Equal(codes, documented) {
		t.Fatalf("openapi.json's error codes %v, docs/api.md's %v", codes, documented)
	}
}
