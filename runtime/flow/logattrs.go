package flow

// The names of the attributes every log line about an instance carries
// (docs/observability.md), in the order they are written.
const (
	LogInstance = "instance"
	LogWorkflow = "workflow"
	LogVersion  = "version"
	LogState    = "state"
	LogTraceID  = "trace_id"
)

// InstanceLog appends to args, as slog key-value pairs, what every log line
// about an instance carries: its id, workflow, version, state and, when
// traceparent is a W3C traceparent, its trace id. Callers put their own
// attributes in args; the instance's come first.
func InstanceLog(instance, workflow, version, state, traceparent string, args ...any) []any {
	out := make([]any, 0, 10+len(args))
	out = append(out, LogInstance, instance, LogWorkflow, workflow, LogVersion, version, LogState, state)
	if id := TraceID(traceparent); id != "" {
		out = append(out, LogTraceID, id)
	}
	return append(out, args...)
}

// LogArgs is InstanceLog for the instance and state c describes.
func (c *Context) LogArgs(args ...any) []any {
	return InstanceLog(c.Instance, c.Workflow, c.Version, c.State, c.TraceParent, args...)
}

// TraceID returns the trace id of a W3C traceparent
// ("00-<32 hex>-<16 hex>-<2 hex>"), or "" when tp is not one. It shares
// tp's memory.
func TraceID(tp string) string {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	id := tp[3:35]
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
		zero = zero && c == '0'
	}
	if zero {
		return ""
	}
	return id
}
