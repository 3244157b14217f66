// Package tracing records Orbit's traces with OpenTelemetry. It implements
// flow.Tracer and flow.Span over the OpenTelemetry SDK, so that the engine
// and the routines stay free of it, and exports the spans over OTLP/HTTP
// as the standard OTEL_* environment variables say.
//
// The spans of an instance (docs/observability.md):
//
//	start <workflow>         the start request; its parent is the caller's traceparent
//	└ run <workflow>         a run segment: the steps taken until the instance waits or ends
//	  └ step <state>         one attempt of one state
//	    ├ POST               an http routine's request (client span; its traceparent is sent)
//	    ├ lua <routine>      a Lua routine
//	    ├ plugin <p>.<func>  a plugin call, with its http_request calls under it
//	    └ observe <routine>  an observer that runs before the state
//
// The instance keeps the start span's traceparent, so that every later
// segment, after a restart too, joins the same trace under it.
package tracing

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Tracer is a flow.Tracer that records spans with the OpenTelemetry SDK.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// The environment variables that turn tracing on and off (beside the
// exporter's own, which otlptracehttp reads).
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envExporter       = "OTEL_TRACES_EXPORTER"
	envDisabled       = "OTEL_SDK_DISABLED"
)

// Enabled reports whether the environment asks for traces: an OTLP
// endpoint is set, the SDK is not disabled and the exporter is not "none".
func Enabled() bool {
	if strings.EqualFold(os.Getenv(envDisabled), "true") || strings.EqualFold(os.Getenv(envExporter), "none") {
		return false
	}
	return os.Getenv(envEndpoint) != "" || os.Getenv(envTracesEndpoint) != ""
}

// FromEnv returns a Tracer exporting over OTLP/HTTP as the OTEL_*
// environment variables say, or nil (tracing off) when Enabled is false.
// The service is named "orbit" unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES name it; version is its service.version.
func FromEnv(ctx context.Context, version string) (*Tracer, error) {
	if !Enabled() {
		return nil, nil
	}
	if exp := os.Getenv(envExporter); exp != "" && !strings.EqualFold(exp, "otlp") {
		return nil, fmt.Errorf("%s=%s: Orbit exports traces over OTLP only (otlp, or none)", envExporter, exp)
	}
	for _, k := range []string{envTracesProtocol, envProtocol} {
		if p := os.Getenv(k); p != "" {
			if p != "http/protobuf" && p != "http/json" {
				return nil, fmt.Errorf("%s=%s: Orbit exports OTLP over HTTP: http/protobuf (the default) or http/json", k, p)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "orbit"), attribute.String("service.version", version)),
		resource.WithFromEnv())
	if err != nil && res == nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return New(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// New returns a Tracer over a tracer provider made with opts (an exporter
// or span processor among them); tests use it with an in-memory one.
func New(opts ...sdktrace.TracerProviderOption) *Tracer {
	p := sdktrace.NewTracerProvider(opts...)
	return &Tracer{provider: p, tracer: p.Tracer("github.com/orbit-sidecar/orbit")}
}

// Shutdown exports the spans still buffered and stops the exporter; ctx
// bounds the wait.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

var kinds = [...]trace.SpanKind{flow.SpanInternal: trace.SpanKindInternal, flow.SpanServer: trace.SpanKindServer,
	flow.SpanClient: trace.SpanKindClient}

// Start opens a span under the W3C traceparent parent; an empty or
// malformed one starts a new trace.
func (t *Tracer) Start(parent, name string, kind flow.SpanKind) flow.Span {
	ctx := context.Background()
	if sc, ok := ParseTraceParent(parent); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return t.start(ctx, name, kind)
}

func (t *Tracer) start(ctx context.Context, name string, kind flow.SpanKind) *span {
	_, s := t.tracer.Start(ctx, name, trace.WithSpanKind(kinds[kind]))
	return &span{t: t, s: s}
}

// span is a flow.Span over an OpenTelemetry span.
type span struct {
	t *Tracer
	s trace.Span
}

func (s *span) Child(name string, kind flow.SpanKind) flow.Span {
	return s.t.start(trace.ContextWithSpan(context.Background(), s.s), name, kind)
}

func (s *span) TraceParent() string { return FormatTraceParent(s.s.SpanContext()) }

func (s *span) SetString(key, value string) { s.s.SetAttributes(attribute.String(key, value)) }

func (s *span) SetInt(key string, value int64) { s.s.SetAttributes(attribute.Int64(key, value)) }

// Fail sets the span's status to Error with the error's name and cause,
// and error.type to the name, as OpenTelemetry's conventions ask.
func (s *span) Fail(name, cause string) {
	s.s.SetAttributes(attribute.String("error.type", name))
	s.s.SetStatus(codes.Error, name+": "+cause)
}

func (s *span) End() { s.s.End() }

// ParseTraceParent reads a W3C traceparent: version 00, or a later
// version's first four fields; ok is false for anything else.
func ParseTraceParent(tp string) (trace.SpanContext, bool) {
	if !flow.ValidTraceParent(tp) {
		return trace.SpanContext{}, false
	}
	tid, err1 := trace.TraceIDFromHex(tp[3:35])
	sid, err2 := trace.SpanIDFromHex(tp[36:52])
	if err1 != nil || err2 != nil {
		return trace.SpanContext{}, false
	}
	var flags [1]byte
	hex.Decode(flags[:], []byte(tp[53:55]))
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
		TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true})
	return sc, sc.IsValid()
}

// FormatTraceParent writes a span context as a version 00 traceparent.
func FormatTraceParent(sc trace.SpanContext) string {
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}
