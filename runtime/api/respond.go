package api

import (
	"bytes"
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// writeJSON answers with v as JSON; every answer of the API but graphs and
// metrics goes through it.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false) // outputs are data, never pasted into HTML by the API
	if err := enc.Encode(v); err != nil {
		ctx.Response.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":{"code":"internal","message":"cannot encode the answer"}}` + "\n")
	}
}

// marshalView is v as writeJSON writes it, without the final newline: for
// the parts of an answer written one at a time.
func marshalView(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
