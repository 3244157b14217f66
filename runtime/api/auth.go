package api

import (
	"bytes"
	"crypto/subtle"

	"github.com/valyala/fasthttp"
)

// authorized checks the bearer token in constant time, so that response
// timing does not reveal how much of a guess was right.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	if s.opt.Token == "" {
		return true
	}
	h := ctx.Request.Header.Peek("Authorization")
	const scheme = "bearer "
	if len(h) < len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return false
	}
	got := bytes.TrimSpace(h[len(scheme):])
	return subtle.ConstantTimeCompare(got, []byte(s.opt.Token)) == 1
}
