package metrics

import (
	"strings"
	"sync"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// MaxErrorNames bounds the error names that become label values, beside
// the built-in ones: a downstream's body or a script names its errors, and
// a label per distinct name would let them grow the metrics without end.
const MaxErrorNames = 100

// OtherErrors is the label value of every error name past the bound.
const OtherErrors = "other"

// builtinErrors are always their own label value.
var builtinErrors = map[string]bool{
	flow.ErrTimeout: true, flow.ErrTaskFailed: true, flow.ErrRuntime: true, flow.ErrHeartbeat: true,
	flow.ErrCancelled: true, flow.ErrPayloadTooLarge: true, flow.ErrNoChoiceMatched: true, flow.ErrQuarantined: true,
	flow.ErrHTTPConnection: true, flow.ErrPluginTrap: true, flow.ErrPluginTimeout: true, flow.ErrPluginMemory: true,
	flow.ErrPluginNotFound: true,
}

// errorNames maps error names to label values: built-in names and
// Http.<status> as they are, the first max other names seen as they are,
// and the rest to OtherErrors.
type errorNames struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func (e *errorNames) label(name string) string {
	if builtinErrors[name] || httpStatusError(name) {
		return name
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen[name] {
		return name
	}
	if len(e.seen) >= e.max {
		return OtherErrors
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	e.seen[name] = true
	return name
}

// httpStatusError reports a name of the form Http.<three digits>.
func httpStatusError(name string) bool {
	code, ok := strings.CutPrefix(name, "Http.")
	if !ok || len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
