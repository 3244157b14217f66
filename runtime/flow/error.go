package flow

import (
	"errors"
	"fmt"
	"strings"
)

// Built-in error names (SPEC 1.3).
const (
	ErrAll             = "States.ALL"
	ErrTimeout         = "States.Timeout"
	ErrTaskFailed      = "States.TaskFailed"
	ErrRuntime         = "States.Runtime"
	ErrHeartbeat       = "States.HeartbeatTimeout"
	ErrCancelled       = "States.Cancelled"
	ErrPayloadTooLarge = "States.PayloadTooLarge"
	ErrNoChoiceMatched = "States.NoChoiceMatched"
	ErrHTTPConnection  = "Http.ConnectionError"
	ErrPluginTrap      = "Plugin.Trap"
	ErrPluginTimeout   = "Plugin.Timeout"
	ErrPluginMemory    = "Plugin.MemoryLimit"
	ErrPluginNotFound  = "Plugin.NotFound"
)

// Error is a named workflow error: what retriers and catchers match on.
type Error struct {
	Name  string `json:"error"`
	Cause string `json:"cause"`
	// Terminal errors end the machine at once: no retrier or catcher
	// applies (ASL's States.Runtime, which even a catcher naming it does
	// not catch).
	Terminal bool `json:"-"`
}

func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Errorf builds a named error with a formatted cause.
func Errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// AsError turns any error into a named one; errors without a name become
// fallback (States.TaskFailed for routines, States.Runtime for scripts).
func AsError(err error, fallback string) *Error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return &Error{Name: fallback, Cause: err.Error()}
}

// Matches reports whether the error name matches one of the matchers: an
// exact name, States.ALL, or a prefix ending in '*'.
func Matches(matchers []string, name string) bool {
	for _, m := range matchers {
		switch {
		case m == ErrAll:
			return true
		case strings.HasSuffix(m, "*"):
			if strings.HasPrefix(name, m[:len(m)-1]) {
				return true
			}
		case m == name:
			return true
		}
	}
	return false
}
