package api

import (
	"github.com/valyala/fasthttp"
)

// healthz answers liveness: the process serves requests.
func (s *Server) healthz(ctx *fasthttp.RequestCtx, _ []string) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers readiness: a bundle is loaded, the store can write and
// the wiring says it can serve.
func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ []string) {
	if s.engine.Bundle() == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, CodeUnavailable, "no bundle loaded")
		return
	}
	if err := s.engine.Ready(); err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if s.opt.Ready != nil {
		if err := s.opt.Ready(); err != nil {
			writeError(ctx, fasthttp.StatusServiceUnavailable, CodeUnavailable, err.Error())
			return
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

// plugins answers GET /v1/plugins with what the wiring reports.
func (s *Server) plugins(ctx *fasthttp.RequestCtx, _ []string) {
	var list any
	if s.opt.Plugins != nil {
		list = s.opt.Plugins()
	}
	if list == nil {
		list = []any{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"plugins": list})
}
