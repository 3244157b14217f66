package client

import (
	"fmt"
	"net/http"
	"time"
)

// Code is the stable name of an API error ({"error": {"code": ...}}). A
// Code is itself an error, so that errors.Is(err, client.ErrNotFound)
// tells an answer's kind.
type Code string

// Error makes a Code usable as the target of errors.Is.
func (c Code) Error() string { return string(c) }

// The error codes of the API, each with the status it comes with
// (docs/api.md lists when each is answered).
const (
	ErrBadRequest           Code = "bad_request"            // 400: a body or query the API cannot take
	ErrUnauthorized         Code = "unauthorized"           // 401: the token is missing or wrong
	ErrForbidden            Code = "forbidden"              // 403: a Host or browser origin the sidecar does not answer
	ErrNotFound             Code = "not_found"              // 404: no such instance or endpoint
	ErrUnknownWorkflow      Code = "unknown_workflow"       // 404: no such workflow or version
	ErrMethodNotAllowed     Code = "method_not_allowed"     // 405
	ErrConflict             Code = "conflict"               // 409: same id with another input; a control that does not apply
	ErrEnded                Code = "ended"                  // 409: the instance has ended
	ErrPayloadTooLarge      Code = "payload_too_large"      // 413: over the sidecar's --max-payload
	ErrUnsupportedMediaType Code = "unsupported_media_type" // 415: a body not declared as JSON
	ErrUnknownEvent         Code = "unknown_event"          // 422: an event the instance can never await
	ErrTooManyEvents        Code = "too_many_events"        // 429: the instance keeps too many early events
	ErrTooManyRequests      Code = "too_many_requests"      // 429: too many requests in flight
	ErrUnavailable          Code = "unavailable"            // 503: shutting down, or the store cannot write
	ErrNotImplemented       Code = "not_implemented"        // 501: a backup of a store that cannot copy itself
	ErrDamaged              Code = "damaged"                // 500: a stored record cannot be read back
	ErrInternal             Code = "internal"               // 500: anything else
)

// Codes lists every error code the API answers.
var Codes = []Code{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrUnknownWorkflow,
	ErrMethodNotAllowed, ErrConflict, ErrEnded, ErrPayloadTooLarge, ErrUnsupportedMediaType,
	ErrUnknownEvent, ErrTooManyEvents, ErrTooManyRequests, ErrUnavailable, ErrNotImplemented, ErrDamaged, ErrInternal}

// Error is an answer that is not 2xx. Retrieve it with errors.As; compare
// its kind with errors.Is and a Code.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the API's error code; empty when the answer was not the
	// API's error body (a proxy's page, say).
	Code Code
	// Message says what was wrong, for people.
	Message string
	// RetryAfter is the pause the answer asked for before a retry (429,
	// 503); 0 when it named none.
	RetryAfter time.Duration

	body []byte // the answer, for answers that carry more than the error
}

// Error reads "code: message", as the orbit command prints it.
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	}
	return string(e.Code) + ": " + e.Message
}

// Is reports whether target is this error's Code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}
