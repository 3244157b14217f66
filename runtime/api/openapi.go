package api

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPI describes this API in OpenAPI 3.1, for users who generate a
// client in another language. It is written by hand; openapi_test.go
// checks it against the route table and against real answers.
//
//go:embed openapi.json
var openAPI []byte

// openapi answers GET /v1/openapi.json.
func (s *Server) openapi(ctx *fasthttp.RequestCtx, _ []string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(openAPI)
}
