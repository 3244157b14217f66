package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/tracing"
)

// traceFlushGrace bounds the export of the last spans at exit.
const traceFlushGrace = 5 * time.Second

// openTracer starts tracing when the OTEL_* environment asks for it
// (docs/observability.md); it returns nil, at no cost, when it does not.
func openTracer(log *slog.Logger) (*tracing.Tracer, error) {
	t, err := tracing.FromEnv(context.Background(), version)
	if err != nil || t == nil {
		return nil, err
	}
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	log.Info("tracing: spans are exported over OTLP", "endpoint", endpoint)
	return t, nil
}

// asFlowTracer is t as the engine takes it: a nil interface, not an
// interface holding a nil pointer, when tracing is off.
func asFlowTracer(t *tracing.Tracer) flow.Tracer {
	if t == nil {
		return nil
	}
	return t
}

// flushTraces exports the spans still buffered, within traceFlushGrace.
func flushTraces(t *tracing.Tracer, log *slog.Logger) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), traceFlushGrace)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn("tracing: the last spans were not all exported", "err", err)
	}
}
