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

// TraceID returns the trace id of a W3C traceparent, or "" when tp is not
// one (ValidTraceParent). It shares tp's memory.
func TraceID(tp string) string {
	if !ValidTraceParent(tp) {
		return ""
	}
	return tp[3:35]
}

// ValidTraceParent says whether tp is a W3C traceparent: version 00
// ("00-<32 hex>-<16 hex>-<2 hex>", lower case), or a later version's first
// four fields and more, with trace and parent ids that are not all zeros.
// One that is not must not be passed on: whoever receives it starts a new
// trace instead.
func ValidTraceParent(tp string) bool {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || !lowerHex(tp[:2]) || tp[:2] == "ff" ||
		(tp[:2] == "00" && len(tp) != 55) || (len(tp) > 55 && tp[55] != '-') || !lowerHex(tp[53:55]) {
		return false
	}
	return lowerHex(tp[3:35]) && !allZeros(tp[3:35]) && lowerHex(tp[36:52]) && !allZeros(tp[36:52])
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
