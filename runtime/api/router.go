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
	wild    int // how many parts are {}
	h       handler
}

// table lists every endpoint of SPEC 3.
func (s *Server) table() []route {
	r := newRoute
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

// newRoute makes a route of the table.
func newRoute(method, pattern string, h handler) route {
	parts := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(parts) > maxSegments {
		panic("api: route " + pattern + " has more than maxSegments segments")
	}
	return route{method: method, pattern: pattern, parts: parts, wild: strings.Count(pattern, "{}"), h: h}
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
		return s.patternOf(path)
	}
	if v1 {
		if !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="orbit"`)
			writeError(ctx, fasthttp.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token")
			return s.patternOf(path)
		}
		if n := s.inFlight.Add(1); n > int64(s.opt.MaxInFlight) {
			s.inFlight.Add(-1)
			ctx.Response.Header.Set("Retry-After", "1")
			writeError(ctx, fasthttp.StatusTooManyRequests, CodeTooManyRequests, "too many requests in flight; retry shortly")
			return s.patternOf(path)
		}
		defer s.inFlight.Add(-1)
	}
	return s.dispatch(ctx, path)
}

// maxSegments is the most segments a route has; a longer path matches
// none.
const maxSegments = 6

// segments are a request path's segments, split without allocating: the
// router runs on every request.
type segments struct {
	n    int
	segs [maxSegments][]byte
}

// split cuts path at its slashes, leading and trailing ones trimmed, as
// strings.Split(strings.Trim(path, "/"), "/") does; ok is false when it
// has more segments than any route.
func (sg *segments) split(path []byte) (ok bool) {
	path = bytes.Trim(path, "/")
	sg.n = 0
	for {
		if sg.n == maxSegments {
			return false
		}
		i := bytes.IndexByte(path, '/')
		if i < 0 {
			sg.segs[sg.n] = path
			sg.n++
			return true
		}
		sg.segs[sg.n] = path[:i]
		sg.n++
		path = path[i+1:]
	}
}

// patternOf is the pattern of the first route whose path matches, whatever
// its method, for a request refused before routing.
func (s *Server) patternOf(path []byte) string {
	var sg segments
	if sg.split(path) {
		for i := range s.routes {
			if s.routes[i].matches(&sg) {
				return s.routes[i].pattern
			}
		}
	}
	return metrics.UnmatchedRoute
}

// dispatch finds the route: 404 when no pattern matches the path, 405 when
// one does but not with this method. It returns the pattern matched.
func (s *Server) dispatch(ctx *fasthttp.RequestCtx, path []byte) string {
	var sg segments
	method := ctx.Method()
	var allowed []string
	pattern := ""
	routes := s.routes
	if !sg.split(path) {
		routes = nil // longer than any route
	}
	for i := range routes {
		rt := &routes[i]
		if !rt.matches(&sg) {
			continue
		}
		if rt.method == string(method) || (string(method) == "HEAD" && rt.method == "GET") {
			rt.h(ctx, rt.params(&sg))
			return rt.pattern
		}
		if len(allowed) == 0 {
			pattern = rt.pattern
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		ctx.Response.Header.Set("Allow", strings.Join(allowed, ", "))
		writeError(ctx, fasthttp.StatusMethodNotAllowed, CodeMethodNotAllowed, string(method)+" is not allowed on "+string(path))
		return pattern
	}
	writeError(ctx, fasthttp.StatusNotFound, CodeNotFound, "no such endpoint: "+string(method)+" "+string(path))
	return metrics.UnmatchedRoute
}

// matches reports whether the path's segments match the route's pattern.
func (rt *route) matches(sg *segments) bool {
	if sg.n != len(rt.parts) {
		return false
	}
	for i, p := range rt.parts {
		seg := sg.segs[i]
		if p == "{}" {
			if len(seg) == 0 {
				return false
			}
		} else if p != string(seg) {
			return false
		}
	}
	return true
}

// params are the {wildcard} segments of a matching path, in order. The
// handler owns them (they are copies: fasthttp reuses the request's bytes).
func (rt *route) params(sg *segments) []string {
	if rt.wild == 0 {
		return nil
	}
	ps := make([]string, 0, rt.wild)
	for i, p := range rt.parts {
		if p == "{}" {
			ps = append(ps, string(sg.segs[i]))
		}
	}
	return ps
}
