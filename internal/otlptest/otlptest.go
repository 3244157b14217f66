// Package otlptest is an OpenTelemetry collector stand-in for tests: an
// OTLP/HTTP trace receiver on a loopback port that decodes each protobuf
// export, as a collector does, and keeps its spans.
package otlptest

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// Collector receives spans at URL + "/v1/traces".
type Collector struct {
	// URL is the base URL to give OTEL_EXPORTER_OTLP_ENDPOINT.
	URL string

	mu    sync.Mutex
	spans []*Span
}

// Span is one received span with its service's name.
type Span struct {
	*tracepb.Span
	Service string
}

// ID is the span's id in hex, as a traceparent writes it.
func (s *Span) ID() string { return hex.EncodeToString(s.GetSpanId()) }

// Parent is the span's parent id in hex ("" for a root).
func (s *Span) Parent() string { return hex.EncodeToString(s.GetParentSpanId()) }

// Trace is the span's trace id in hex.
func (s *Span) Trace() string { return hex.EncodeToString(s.GetTraceId()) }

// Attr returns a string or integer attribute as text ("" when absent).
func (s *Span) Attr(key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		}
	}
	return ""
}

func (s *Span) String() string {
	return fmt.Sprintf("%s %q (parent %s, trace %s)", s.ID(), s.GetName(), s.Parent(), s.Trace())
}

// Start runs a collector until the test ends.
func Start(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", c.export)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.URL = "http://" + ln.Addr().String()
	return c
}

// export decodes one ExportTraceServiceRequest (application/x-protobuf).
func (c *Collector) export(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct+": this stand-in takes application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, &Span{Span: sp, Service: service})
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// Spans returns every span received so far.
func (c *Collector) Spans() []*Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Span(nil), c.spans...)
}

// Span waits for the span with that hex id and returns it.
func (c *Collector) Span(t testing.TB, id string) *Span {
	t.Helper()
	return c.Wait(t, "span "+id, func(s *Span) bool { return s.ID() == id })
}

// Wait waits for a span that match accepts and returns it.
func (c *Collector) Wait(t testing.TB, what string, match func(*Span) bool) *Span {
	t.Helper()
	return orbittest.Until(t, 2*orbittest.Timeout, "the collector receiving "+what, func() (*Span, error) {
		for _, s := range c.Spans() {
			if match(s) {
				return s, nil
			}
		}
		return nil, nil
	}, func(s *Span) bool { return s != nil })
}
