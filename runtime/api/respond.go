package api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
	"github.com/orbit-sidecar/orbit/store"
)

// internalBody answers an answer that cannot be encoded.
const internalBody = `{"error":{"code":"internal","message":"cannot encode the answer"}}` + "\n"

// writeJSON answers with v as JSON; every answer of the API but those
// about instances (writeAppended), graphs and metrics goes through it.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false) // outputs are data, never pasted into HTML by the API
	if err := enc.Encode(v); err != nil {
		ctx.Response.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(internalBody)
	}
}

// jsonAppender appends its own JSON, byte for byte what writeJSON would
// write for it.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// writeAppended answers with v's JSON, as writeJSON does, appended in one
// pass straight into the response's pooled body buffer: the answers about
// instances, which the synchronous start makes on every workflow, skip
// encoding/json's reflection and its second pass over the bytes.
func writeAppended(ctx *fasthttp.RequestCtx, status int, v jsonAppender) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, err := v.AppendJSON(ctx.Response.SwapBody(nil)[:0])
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		b = append(b[:0], internalBody...)
	} else {
		b = append(b, '\n')
	}
	ctx.Response.SwapBody(b)
}

// writeView answers with the instance as its users see it.
func writeView(ctx *fasthttp.RequestCtx, status int, inst *store.Instance) {
	writeAppended(ctx, status, (*store.View)(&inst.Public))
}

// AppendJSON appends the listing's JSON.
func (l *List) AppendJSON(b []byte) ([]byte, error) {
	o := jsonenc.Open(b)
	if err := jsonenc.Array(&o, "instances", l.Instances); err != nil {
		return b, err
	}
	o.Str("next_cursor", l.NextCursor)
	return o.Close(), nil
}

// AppendJSON appends the history's JSON.
func (h *History) AppendJSON(b []byte) ([]byte, error) {
	o := jsonenc.Open(b)
	if err := jsonenc.Array(&o, "events", h.Events); err != nil {
		return b, err
	}
	if h.ChainHead != nil {
		o.Key("chain_head")
		o.B = appendChainHead(o.B, h.ChainHead)
	}
	return o.Close(), nil
}

// appendChainHead appends a chain head: its seq and its hash in hexadecimal.
func appendChainHead(b []byte, c *store.ChainHead) []byte {
	o := jsonenc.Open(b)
	o.Uint("seq", c.Seq)
	o.Key("hash")
	o.B = append(o.B, '"')
	o.B, _ = c.Hash.AppendText(o.B)
	o.B = append(o.B, '"')
	return o.Close()
}
