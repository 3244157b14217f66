package api

import (
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"
)

// serveMetrics renders the registry in the Prometheus text format.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, _ []string) {
	mfs, err := s.metrics.Registry().Gather()
	if err != nil && len(mfs) == 0 {
		writeError(ctx, fasthttp.StatusInternalServerError, CodeInternal, "gather metrics: "+err.Error())
		return
	}
	ctx.SetContentType(string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(ctx, mf); err != nil {
			s.opt.Log.Warn("render metrics", "err", err)
			return
		}
	}
}
