package api

import (
	"errors"
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
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeEnded            = "ended"
	CodePayloadTooLarge  = "payload_too_large"
	CodeTooManyRequests  = "too_many_requests"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
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
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(ctx, fasthttp.StatusNotFound, CodeNotFound, "instance not found")
	case errors.Is(err, engine.ErrUnknownWorkflow):
		writeError(ctx, fasthttp.StatusNotFound, CodeUnknownWorkflow, err.Error())
	case errors.Is(err, engine.ErrConflict):
		writeError(ctx, fasthttp.StatusConflict, CodeConflict, err.Error())
	case errors.Is(err, engine.ErrEnded):
		writeError(ctx, fasthttp.StatusConflict, CodeEnded, err.Error())
	case errors.Is(err, engine.ErrNotEnded), errors.Is(err, engine.ErrNotPaused):
		writeError(ctx, fasthttp.StatusConflict, CodeConflict, err.Error())
	case errors.Is(err, engine.ErrPayloadTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, CodePayloadTooLarge, err.Error())
	case errors.Is(err, engine.ErrBadID):
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, err.Error())
	case errors.Is(err, engine.ErrClosed):
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, CodeUnavailable, "the sidecar is shutting down")
	default:
		s.opt.Log.Error("api request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, CodeInternal, err.Error())
	}
}

// connError answers requests fasthttp rejects before any handler runs
// (oversized or malformed), so that they too get a JSON error.
func (s *Server) connError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body exceeds the payload limit")
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
