package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/api"
)

// browser sends a request as a browser would: h holds Host (which the
// browser takes from the page's URL, also after DNS rebinding) and the
// other headers.
func (s *server) browser(method, path, body string, h map[string]string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return s.send(req)
}

func (s *server) hostPort() string { return strings.TrimPrefix(s.url, "http://") }

func (s *server) instances(t *testing.T) int {
	t.Helper()
	list, _ := s.get("/v1/instances").want(t, 200, "").json["instances"].([]any)
	return len(list)
}

// TestCrossSiteRequestsRefused sends what a web page on the operator's
// machine can send to the loopback API. Each used to pass: the issue's
// text/plain POST started an instance (201), a cancel without a body went
// through, and a rebinding page read the listing.
func TestCrossSiteRequestsRefused(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	waiting := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.waitsFor(waiting, "event")
	start := "/v1/workflows/echo/instances"
	cases := []struct {
		name, method, path, body string
		h                        map[string]string
		status                   int
		code                     string
	}{
		{"the issue's request: simple POST, foreign Origin and Host", "POST", start, `{"a":1}`,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "evil.example:7077"}, 403, api.CodeForbidden},
		{"simple POST from a foreign page", "POST", start, `{"a":1}`,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403, api.CodeForbidden},
		{"form POST from a foreign page", "POST", start, `a=1`,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, api.CodeForbidden},
		{"cancel without a body from a foreign page", "POST", "/v1/instances/" + waiting + "/cancel", "",
			map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, api.CodeForbidden},
		{"cancel that says only Sec-Fetch-Site", "POST", "/v1/instances/" + waiting + "/cancel", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, api.CodeForbidden},
		{"a page on another port of this machine", "POST", "/v1/instances/" + waiting + "/pause", "",
			map[string]string{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}, 403, api.CodeForbidden},
		{"a sandboxed page", "POST", "/v1/instances/" + waiting + "/cancel", "",
			map[string]string{"Origin": "null"}, 403, api.CodeForbidden},
		{"DNS rebinding: same-origin for the browser, a foreign Host", "GET", "/v1/instances", "",
			map[string]string{"Host": "evil.example:" + strings.Split(s.hostPort(), ":")[1], "Sec-Fetch-Site": "same-origin"}, 403, api.CodeForbidden},
		{"DNS rebinding of the metrics", "GET", "/metrics", "",
			map[string]string{"Host": "evil.example"}, 403, api.CodeForbidden},
		{"a body without Content-Type", "POST", start, `{"a":1}`, nil, 415, api.CodeUnsupportedMediaType},
		{"curl's default for -d", "POST", start, `{"a":1}`,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, api.CodeUnsupportedMediaType},
		{"an event as text/plain", "POST", "/v1/instances/" + waiting + "/events/go", `1`,
			map[string]string{"Content-Type": "text/plain"}, 415, api.CodeUnsupportedMediaType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.browser(c.method, c.path, c.body, c.h).want(t, c.status, c.code)
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("a refusal grants CORS: %v", r.header)
			}
		})
	}
	if n := s.instances(t); n != 1 {
		t.Errorf("%d instances, want only the one the test started", n)
	}
	s.waitsFor(waiting, "event") // neither cancelled nor paused
}

// TestSameOriginAndProgramsPass: the console the sidecar serves at /ui/
// calls the API from its own origin; programs send no Origin at all; a
// request typed in the address bar says Sec-Fetch-Site: none.
func TestSameOriginAndProgramsPass(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	port := strings.Split(s.hostPort(), ":")[1]
	for _, host := range []string{s.hostPort(), "localhost:" + port, "[::1]:" + port, "console.localhost:" + port} {
		console := map[string]string{"Host": host, "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin",
			"Content-Type": "application/json; charset=utf-8"}
		r := s.browser("POST", "/v1/workflows/await/instances", `{"from":"console"}`, console).want(t, 201, "")
		s.browser("POST", "/v1/instances/"+r.str("id")+"/cancel", "", console).want(t, 202, "")
		delete(console, "Origin") // browsers leave it out of same-origin GETs
		s.browser("GET", "/v1/instances/"+r.str("id"), "", console).want(t, 200, "")
	}
	s.browser("GET", "/v1/instances", "", map[string]string{"Sec-Fetch-Site": "none"}).want(t, 200, "")
	s.browser("POST", "/v1/workflows/echo/instances?wait=5s", `{"a":1}`,
		map[string]string{"Content-Type": "APPLICATION/JSON"}).want(t, 200, "")
	s.browser("POST", "/v1/workflows/echo/instances?wait=5s", "", nil).want(t, 200, "") // no body, no type
	// A foreign page may still navigate to a probe that is not /v1.
	s.browser("GET", "/healthz", "", map[string]string{"Sec-Fetch-Site": "cross-site"}).want(t, 200, "")
}

// TestAllowedOriginsAndHosts: what the operator allows passes, with CORS
// for the allowed origin's page.
func TestAllowedOriginsAndHosts(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{
		AllowOrigins: []string{"https://ops.example:8443"}, AllowHosts: []string{"orbit.internal"}})
	port := strings.Split(s.hostPort(), ":")[1]
	ops := map[string]string{"Origin": "https://ops.example:8443", "Sec-Fetch-Site": "cross-site",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	pre := s.browser("OPTIONS", "/v1/workflows/echo/instances", "", ops).want(t, 204, "")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://ops.example:8443" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight answer headers %v", pre.header)
	}
	ops["Content-Type"] = "application/json"
	r := s.browser("POST", "/v1/workflows/echo/instances", `{"a":1}`, ops).want(t, 201, "")
	if r.header.Get("Access-Control-Allow-Origin") != "https://ops.example:8443" || r.header.Get("Vary") != "Origin" {
		t.Errorf("answer headers %v", r.header)
	}
	s.browser("GET", "/v1/instances", "", map[string]string{"Host": "orbit.internal:" + port}).want(t, 200, "")
	s.browser("GET", "/v1/instances", "", map[string]string{"Host": "ORBIT.internal."}).want(t, 200, "")
	s.browser("GET", "/v1/instances", "", map[string]string{"Host": "other.internal:" + port}).want(t, 403, api.CodeForbidden)
	s.browser("POST", "/v1/workflows/echo/instances", `{"a":1}`, map[string]string{"Content-Type": "application/json",
		"Origin": "https://ops.example:9999"}).want(t, 403, api.CodeForbidden)

	any := newServer(t, newFixture().bundle, api.Options{AllowHosts: []string{"*"}})
	any.browser("GET", "/v1/instances", "", map[string]string{"Host": "anything.example"}).want(t, 200, "")
}

func TestCheckFlags(t *testing.T) {
	for _, o := range []string{"https://ops.example.com", "http://localhost:3000", "http://[::1]:8080/"} {
		if err := api.CheckOrigin(o); err != nil {
			t.Errorf("origin %s: %v", o, err)
		}
	}
	for _, o := range []string{"ops.example.com", "ftp://x", "https://x/path", "https://x?q", "*", "null"} {
		if api.CheckOrigin(o) == nil {
			t.Errorf("origin %s accepted", o)
		}
	}
	for _, h := range []string{"orbit.internal", "orbit.internal:7077", "*", "[::1]:1"} {
		if err := api.CheckAllowedHost(h); err != nil {
			t.Errorf("host %s: %v", h, err)
		}
	}
	for _, h := range []string{"", "http://x", "a b"} {
		if api.CheckAllowedHost(h) == nil {
			t.Errorf("host %q accepted", h)
		}
	}
}

// Allowed Host headers are remembered, so that checking one costs a map
// lookup; the memory is bounded and never lets a foreign name in: past
// it, IP addresses still pass and a rebinding name is still refused.
func TestHostCheckRemembersOnlyAllowedHosts(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	port := strings.Split(s.hostPort(), ":")[1]
	foreign := map[string]string{"Host": "evil.example:" + port}
	s.browser("GET", "/v1/counts", "", foreign).want(t, 403, api.CodeForbidden)
	for i := range 100 {
		s.browser("GET", "/v1/counts", "", map[string]string{"Host": fmt.Sprintf("127.0.0.%d:%s", i, port)}).want(t, 200, "")
		s.browser("GET", "/v1/counts", "", map[string]string{"Host": "localhost:" + port}).want(t, 200, "")
	}
	s.browser("GET", "/v1/counts", "", foreign).want(t, 403, api.CodeForbidden)
}
