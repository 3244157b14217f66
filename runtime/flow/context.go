package flow

import "time"

// Context is the read-only `ctx` a routine or expression sees (SPEC 1.1).
// The engine reuses one Context per running instance, so callees must not
// keep it after they return.
type Context struct {
	Instance       string
	Workflow       string
	Version        string
	State          string
	Attempt        int // 1-based
	Visit          int // 1-based
	StartedAt      time.Time
	Now            time.Time
	IdempotencyKey string
	ItemIndex      int    // index inside a map iterator, -1 elsewhere
	TraceParent    string // W3C traceparent of the instance
}
