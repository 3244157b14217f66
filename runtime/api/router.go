package api

import (
	"bytes"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/metrics"
)

// handler serves one route; params are the path's {wildcard} segments in
// order.
type handler func(ctx *fasthttp.RequestCtx, params []string)

// route is one method and path pattern. Segments written "{}" match any
// one non-empty segment.
type route struct {
	method  string
	pattern string // as written in the table: the metrics' route label
	parts   []string
	h       handler
}

// table lists every endpoint of SPEC 3.
func (s *Server) table() []route {
	r := func(method, pattern string, h handler) route {
		return route{method: method, pattern: pattern, parts: strings.Split(strings.Trim(pattern, "/"), "/"), h: h}
	}
	return []route{
		r("GET", "/healthz", s.healthz),
		r("GET", "/readyz", s.readyz),
		r("GET", "/metrics", s.serveMetrics),
		r("GET", "/ui", s.console),
		r("GET", "/ui/{}", s.console),
		r("GET", "/v1/workflows", s.listWorkflows),
		r("GET", "/v1/workflows/{}", s.getWorkflow),
		r("GET", "/v1/workflows/{}/graph", s.graph),
		r("POST", "/v1/workflows/{}/instances", s.start),
		r("POST", "/v1/workflows/{}/migrate", s.migrateWorkflow),
		r("POST", "/v1/workflows/{}/states/{}/test", s.testState),
		r("GET", "/v1/instances", s.list),
		r("GET", "/v1/counts", s.count),
		r("GET", "/v1/instances/{}", s.get),
		r("GET", "/v1/instances/{}/history", s.history),
		r("GET", "/v1/instances/{}/graph", s.instanceGraph),
		r("POST", "/v1/instances/{}/events/{}", s.send),
		r("POST", "/v1/instances/{}/cancel", s.cancel),
		r("POST", "/v1/instances/{}/pause", s.pause),
		r("POST", "/v1/instances/{}/resume", s.resume),
		r("POST", "/v1/instances/{}/redrive", s.redrive),
		r("POST", "/v1/instances/{}/migrate", s.migrate),
		r("GET", "/v1/plugins", s.plugins),
		r("GET", "/v1/openapi.json", s.openapi),
		r("GET", "/v1/backup", s.backup),
	}
}

// serve is the fasthttp handler: protection (protect.go; then the token
// and the in-flight bound for /v1), then routing.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	route := s.handle(ctx)
	s.metrics.OnRequest(route, ctx.Method(), ctx.Response.StatusCode(), time.Since(start))
}

// handle serves a request and returns the route pattern it matched, for
// the metrics.
func (s *Server) handle(ctx *fasthttp.RequestCtx) (route string) {
	path := ctx.Path()
	v1 := bytes.HasPrefix(path, []byte("/v1/")) || bytes.Equal(path, []byte("/v1"))
	if !s.protect(ctx, v1) {
		return s.patternOf(string(path))
	}
	if v1 {
		if !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="orbit"`)
			writeError(ctx, fasthttp.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token")
			return s.patternOf(string(path))
		}
		if n := s.inFlight.Add(1); n > int64(s.opt.MaxInFlight) {
			s.inFlight.Add(-1)
			ctx.Response.Header.Set("Retry-After", "1")
			writeError(ctx, fasthttp.StatusTooManyRequests, CodeTooManyRequests, "too many requests in flight; retry shortly")
			return s.patternOf(string(path))
		}
		defer s.inFlight.Add(-1)
	}
	return s.dispatch(ctx, string(path))
}

// patternOf is the pattern of the first route whose path matches, whatever
// its method, for a request refused before routing.
func (s *Server) patternOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var params [2]string
	for i := range s.routes {
		if _, ok := s.routes[i].match(segs, params[:0]); ok {
			return s.routes[i].pattern
		}
	}
	return metrics.UnmatchedRoute
}

// dispatch finds the route: 404 when no pattern matches the path, 405 when
// one does but not with this method. It returns the pattern matched.
func (s *Server) dispatch(ctx *fasthttp.RequestCtx, path string) string {
	var params [2]string
	segs := strings.Split(strings.Trim(path, "/"), "/")
	method := string(ctx.Method())
	var allowed []string
	pattern := ""
	for i := range s.routes {
		rt := &s.routes[i]
		ps, ok := rt.match(segs, params[:0])
		if !ok {
			continue
		}
		if rt.method == method || (method == "HEAD" && rt.method == "GET") {
			rt.h(ctx, ps)
			return rt.pattern
		}
		if len(allowed) == 0 {
			pattern = rt.pattern
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		ctx.Response.Header.Set("Allow", strings.Join(allowed, ", "))
		writeError(ctx, fasthttp.StatusMethodNotAllowed, CodeMethodNotAllowed, method+" is not allowed on "+path)
		return pattern
	}
	writeError(ctx, fasthttp.StatusNotFound, CodeNotFound, "no such endpoint: "+method+" "+path)
	return metrics.UnmatchedRoute
}

func (rt *route) match(segs, params []string) ([]string, bool) {
	if len(segs) != len(rt.parts) {
		return nil, false
	}
	for i, p := range rt.parts {
		switch {
		case p == "{}":
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return params, true
}
