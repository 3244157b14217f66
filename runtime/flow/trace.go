package flow

// Tracing is seen through these small interfaces so that the engine and the
// routines record spans without knowing who exports them: runtime/tracing
// implements them over OpenTelemetry, and a nil Tracer (or a nil
// Context.Span) means tracing is off and costs nothing.

// SpanKind says what a span stands for, as OpenTelemetry's span kinds do.
type SpanKind uint8

// The span kinds Orbit records.
const (
	SpanInternal SpanKind = iota // work inside the sidecar: a run segment, a step, a Lua or plugin call
	SpanServer                   // a request the sidecar serves: the start of an instance
	SpanClient                   // a call the sidecar makes: an HTTP request
)

// Tracer opens the spans that begin where no span of this process is at
// hand: the start of an instance, a run segment (under the instance's
// stored traceparent, after a restart too), an observer's call.
type Tracer interface {
	// Start opens a span named name under parent, a W3C traceparent; an
	// empty or malformed parent starts a new trace.
	Start(parent, name string, kind SpanKind) Span
}

// Span is one timed operation of a trace. Its methods are safe to call
// from the goroutine that owns it; End must be called exactly once.
type Span interface {
	// Child opens a span under this one.
	Child(name string, kind SpanKind) Span
	// TraceParent names this span as a W3C traceparent, for the calls made
	// under it to carry, so that what they do joins the trace below it.
	TraceParent() string
	// SetString and SetInt record attributes.
	SetString(key, value string)
	SetInt(key string, value int64)
	// Fail marks the span failed with an error's name and cause.
	Fail(name, cause string)
	// End closes the span.
	End()
}

// Span attribute names Orbit sets, beside OpenTelemetry's own (http.*,
// url.*, server.*).
const (
	AttrInstance = "orbit.instance"
	AttrWorkflow = "orbit.workflow"
	AttrVersion  = "orbit.version"
	AttrState    = "orbit.state"
	AttrAttempt  = "orbit.attempt"
	AttrRoutine  = "orbit.routine"
	AttrPlugin   = "orbit.plugin"
	AttrFunc     = "orbit.func"
)

// KindedRoutine is a routine that names its kind (http, lua, wasm), for metric
// labels and span names; a routine that does not say is "go".
type KindedRoutine interface {
	RoutineKind() string
}

// The routine kinds.
const (
	RoutineHTTP = "http"
	RoutineLua  = "lua"
	RoutineWasm = "wasm"
	RoutineGo   = "go" // any other: a Go function, a test's stand-in
)

// KindOfRoutine returns r's kind.
func KindOfRoutine(r Routine) string {
	if k, ok := r.(KindedRoutine); ok {
		return k.RoutineKind()
	}
	return RoutineGo
}

// ChildSpan opens a span under c's span for a call a routine makes, and
// returns it with c's copy whose Span and TraceParent name it, for what
// the call does in turn. With tracing off (no span) it returns nil and c
// itself, at no cost.
func (c *Context) ChildSpan(name string, kind SpanKind) (Span, *Context) {
	if c == nil || c.Span == nil {
		return nil, c
	}
	s := c.Span.Child(name, kind)
	cc := *c
	cc.Span, cc.TraceParent = s, s.TraceParent()
	return s, &cc
}
