package api

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// handler serves one route; params are the path's {wildcard} segments in
// order.
type handler func(ctx *fasthttp.RequestCtx, params []string)

// route is one method and path pattern. Segments written "{}" match any
// one non-empty segment.
type route struct {
	method string
	parts  []string
	h      handler
}

// table lists every endpoint of SPEC 3.
func (s *Server) table() []route {
	r := func(method, pattern string, h handler) route {
		return route{method: method, parts: strings.Split(strings.Trim(pattern, "/"), "/"), h: h}
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
	}
}

// serve is the fasthttp handler: protection (protect.go; then the token
// and the in-flight bound for /v1), then routing.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	v1 := bytes.HasPrefix(path, []byte("/v1/")) || bytes.Equal(path, []byte("/v1"))
	if !s.protect(ctx, v1) {
		return
	}
	if v1 {
		if !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="orbit"`)
			writeError(ctx, fasthttp.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token")
			return
		}
		if n := s.inFlight.Add(1); n > int64(s.opt.MaxInFlight) {
			s.inFlight.Add(-1)
			ctx.Response.Header.Set("Retry-After", "1")
			writeError(ctx, fasthttp.StatusTooManyRequests, CodeTooManyRequests, "too many requests in flight; retry shortly")
			return
		}
		defer s.inFlight.Add(-1)
	}
	s.dispatch(ctx, string(path))
}

// dispatch finds the route: 404 when no pattern matches the path, 405 when
// one does but not with this method.
func (s *Server) dispatch(ctx *fasthttp.RequestCtx, path string) {
	var params [2]string
	segs := strings.Split(strings.Trim(path, "/"), "/")
	method := string(ctx.Method())
	var allowed []string
	for i := range s.routes {
		rt := &s.routes[i]
		ps, ok := rt.match(segs, params[:0])
		if !ok {
			continue
		}
		if rt.method == method || (method == "HEAD" && rt.method == "GET") {
			rt.h(ctx, ps)
			return
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		ctx.Response.Header.Set("Allow", strings.Join(allowed, ", "))
		writeError(ctx, fasthttp.StatusMethodNotAllowed, CodeMethodNotAllowed, method+" is not allowed on "+path)
		return
	}
	writeError(ctx, fasthttp.StatusNotFound, CodeNotFound, "no such endpoint: "+method+" "+path)
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
