package flow

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
	ErrQuarantined     = "States.Quarantined" // the instance stopped the sidecar twice in a row
	ErrHTTPConnection  = "Http.ConnectionError"
	ErrPluginTrap      = "Plugin.Trap"
	ErrPluginTimeout   = "Plugin.Timeout"
	ErrPluginMemory    = "Plugin.MemoryLimit"
	ErrPluginNotFound  = "Plugin.NotFound"
)

// Bounds of an error as it is recorded (instance record, history, catch
// results): a name is an identifier and stays short; a cause is text for
// people and is cut, with a marker, so that a routine or a script that
// raises a 16 MiB message does not make a 16 MiB record. They are the
// bounds Step Functions sets for its own errors.
const (
	MaxErrorName  = 256
	MaxErrorCause = 32 << 10
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

// Bounded returns e with its name cut to MaxErrorName bytes and its cause
// to maxCause (see BoundCause), or e itself when both fit.
func (e *Error) Bounded(maxCause int) *Error {
	name, cause := BoundName(e.Name), BoundCause(e.Cause, maxCause)
	if len(name) == len(e.Name) && len(cause) == len(e.Cause) {
		return e
	}
	c := *e
	c.Name, c.Cause = name, cause
	return &c
}

// BoundName cuts an error name to MaxErrorName bytes, on a character
// boundary, so that prefix matchers ("Custom.*") still match it.
func BoundName(name string) string {
	if len(name) <= MaxErrorName {
		return name
	}
	return cutRunes(name, MaxErrorName)
}

// BoundCause cuts a cause to at most max bytes, on a character boundary,
// ending with a marker that gives its whole length.
func BoundCause(cause string, max int) string {
	if len(cause) <= max {
		return cause
	}
	marker := fmt.Sprintf("… [cut: %d bytes in all]", len(cause))
	if max <= 2*len(marker) {
		return cutRunes(cause, max) // too small a bound to spend on the marker
	}
	return cutRunes(cause, max-len(marker)) + marker
}

// cutRunes returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence.
func cutRunes(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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
