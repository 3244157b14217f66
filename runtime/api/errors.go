package api

import (
	"errors"
	"fmt"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/store"
)

// Error codes of the error body {"error": {"code", "message"}}.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeUnknownWorkflow  = "unknown_workflow"
	CodeUnknownState     = "unknown_state"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeEnded            = "ended"
	CodePayloadTooLarge  = "payload_too_large"
	CodeTooManyRequests  = "too_many_requests"
	CodeTooManyEvents    = "too_many_events"
	CodeUnknownEvent     = "unknown_event" // an event the instance's workflow version can never await
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeDamaged          = "damaged"         // a stored record cannot be read back; the message names the instance
	CodeNotImplemented   = "not_implemented" // the store cannot do what was asked (a backup of a NATS store)
	// Refusals of the request protection (protect.go).
	CodeForbidden            = "forbidden"              // a cross-site browser request, or a Host the sidecar does not answer to
	CodeUnsupportedMediaType = "unsupported_media_type" // a body not declared as application/json
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a stable code for programs and a
// message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(ctx *fasthttp.RequestCtx, status int, code, message string) {
	writeJSON(ctx, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}

// writeEngineError answers an engine or store error with its status; what
// no case names is a 500 and is logged, since the caller did nothing wrong.
func (s *Server) writeEngineError(ctx *fasthttp.RequestCtx, err error) {
	a := engineAnswer(err)
	if a.status == fasthttp.StatusInternalServerError {
		s.opt.Log.Error("api request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
	}
	if a.retryAfter != "" {
		ctx.Response.Header.Set("Retry-After", a.retryAfter)
	}
	writeError(ctx, a.status, a.code, a.message)
}

// storeRetryAfter is the Retry-After (seconds) of an answer refused while
// the store cannot write: the engine looks again at least this often.
const storeRetryAfter = "5"

// errorAnswer is how the API answers one error.
type errorAnswer struct {
	status     int
	code       string
	message    string
	retryAfter string // seconds, for 503
}

// engineAnswer maps every sentinel error of the engine (runtime/engine's
// errors.go) and the store to its answer; anything else is internal.
func engineAnswer(err error) errorAnswer {
	msg := err.Error()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorAnswer{status: fasthttp.StatusNotFound, code: CodeNotFound, message: "instance not found"}
	case errors.Is(err, engine.ErrUnknownWorkflow):
		return errorAnswer{status: fasthttp.StatusNotFound, code: CodeUnknownWorkflow, message: msg}
	case errors.Is(err, engine.ErrUnknownState):
		return errorAnswer{status: fasthttp.StatusNotFound, code: CodeUnknownState, message: msg}
	case errors.Is(err, engine.ErrConflict), errors.Is(err, engine.ErrNotEnded), errors.Is(err, engine.ErrNotPaused),
		errors.Is(err, engine.ErrCannotMigrate):
		return errorAnswer{status: fasthttp.StatusConflict, code: CodeConflict, message: msg}
	case errors.Is(err, engine.ErrEnded):
		return errorAnswer{status: fasthttp.StatusConflict, code: CodeEnded, message: msg}
	case errors.Is(err, engine.ErrPayloadTooLarge):
		return errorAnswer{status: fasthttp.StatusRequestEntityTooLarge, code: CodePayloadTooLarge, message: msg + " " + maxPayloadHint}
	case errors.Is(err, engine.ErrBadID), errors.Is(err, engine.ErrBadInput):
		return errorAnswer{status: fasthttp.StatusBadRequest, code: CodeBadRequest, message: msg}
	case errors.Is(err, engine.ErrNotAwaitable):
		return errorAnswer{status: fasthttp.StatusUnprocessableEntity, code: CodeUnknownEvent, message: msg}
	case errors.Is(err, engine.ErrTooManyEvents):
		return errorAnswer{status: fasthttp.StatusTooManyRequests, code: CodeTooManyEvents, message: msg}
	case errors.Is(err, store.ErrDamaged):
		return errorAnswer{status: fasthttp.StatusInternalServerError, code: CodeDamaged, message: msg}
	case errors.Is(err, engine.ErrUnavailable):
		return errorAnswer{status: fasthttp.StatusServiceUnavailable, code: CodeUnavailable, message: msg,
			retryAfter: storeRetryAfter}
	case errors.Is(err, engine.ErrClosed):
		return errorAnswer{status: fasthttp.StatusServiceUnavailable, code: CodeUnavailable,
			message: "the sidecar is shutting down", retryAfter: "1"}
	default:
		return errorAnswer{status: fasthttp.StatusInternalServerError, code: CodeInternal, message: msg}
	}
}

// maxPayloadHint names the setting of the payload limit, so that a client
// hitting it knows what an operator can raise.
const maxPayloadHint = "(the sidecar's --max-payload)"

// overLimit says that what is over the payload limit, naming the limit
// and its setting.
func (s *Server) overLimit(what string) string {
	return fmt.Sprintf("%s over the limit of %d bytes %s", what, s.opt.MaxPayload, maxPayloadHint)
}

// connError answers requests fasthttp rejects before any handler runs
// (oversized or malformed), so that they too get a JSON error.
func (s *Server) connError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, CodePayloadTooLarge, s.overLimit("request body is"))
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		writeError(ctx, fasthttp.StatusRequestTimeout, CodeBadRequest, "the request was not read in time")
		return
	}
	var tooBig *fasthttp.ErrSmallBuffer
	if errors.As(err, &tooBig) {
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, CodeBadRequest, "request headers are too large")
		return
	}
	writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "malformed request: "+err.Error())
}
