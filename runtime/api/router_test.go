package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/metrics"
)

// The router matches paths segment by segment without allocating: its
// wildcards, its 404 and 405 (with Allow), HEAD as GET, slashes at either
// end, and paths longer than any route.
func TestDispatch(t *testing.T) {
	var got []string
	record := func(name string) handler {
		return func(ctx *fasthttp.RequestCtx, params []string) {
			got = append([]string{name}, params...)
		}
	}
	s := &Server{routes: []route{
		newRoute("GET", "/v1/instances/{}", record("get")),
		newRoute("POST", "/v1/instances/{}/events/{}", record("send")),
		newRoute("POST", "/v1/workflows/{}/states/{}/test", record("test")),
		newRoute("GET", "/healthz", record("health")),
	}}
	cases := []struct {
		method, path string
		status       int
		want         []string
		pattern      string
	}{
		{"GET", "/v1/instances/o-1", 200, []string{"get", "o-1"}, "/v1/instances/{}"},
		{"HEAD", "/v1/instances/o-1/", 200, []string{"get", "o-1"}, "/v1/instances/{}"},
		{"POST", "/v1/instances/o-1/events/go", 200, []string{"send", "o-1", "go"}, "/v1/instances/{}/events/{}"},
		{"POST", "/v1/workflows/wf/states/A/test", 200, []string{"test", "wf", "A"}, "/v1/workflows/{}/states/{}/test"},
		{"GET", "/healthz", 200, []string{"health"}, "/healthz"},
		{"DELETE", "/v1/instances/o-1", 405, nil, "/v1/instances/{}"},
		{"GET", "/v1/instances/", 404, nil, metrics.UnmatchedRoute},
		{"GET", "/v1/instances//events/go", 404, nil, metrics.UnmatchedRoute},
		{"POST", "/v1/workflows/wf/states/A/test/more/and/more", 404, nil, metrics.UnmatchedRoute},
		{"GET", "/", 404, nil, metrics.UnmatchedRoute},
	}
	for _, c := range cases {
		got = nil
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(c.method)
		ctx.Request.SetRequestURI(c.path)
		pattern := s.dispatch(&ctx, ctx.Path())
		if status := ctx.Response.StatusCode(); status != c.status || !slices.Equal(got, c.want) || pattern != c.pattern {
			t.Errorf("%s %s: %d %q %s, want %d %q %s", c.method, c.path, status, got, pattern, c.status, c.want, c.pattern)
		}
		if c.status == 405 && !strings.Contains(string(ctx.Response.Header.Peek("Allow")), "GET") {
			t.Errorf("%s %s: Allow %q", c.method, c.path, ctx.Response.Header.Peek("Allow"))
		}
		if p := s.patternOf(ctx.Path()); p != c.pattern {
			t.Errorf("%s %s: patternOf %s, want %s", c.method, c.path, p, c.pattern)
		}
	}
	quiet := &Server{routes: []route{newRoute("GET", "/v1/instances/{}", func(*fasthttp.RequestCtx, []string) {}),
		newRoute("GET", "/healthz", func(*fasthttp.RequestCtx, []string) {})}}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/healthz")
	if n := testing.AllocsPerRun(100, func() { quiet.dispatch(&ctx, ctx.Path()) }); n != 0 {
		t.Errorf("routing a path without wildcards allocates %v times", n)
	}
}
