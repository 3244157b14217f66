package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/api/ui"
)

// consoleFile is one file of the console, ready to serve: its bytes, a
// gzipped copy when that is smaller, and an ETag, all made once.
type consoleFile struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

// consolePolicy keeps the console's pages to their own origin: no script,
// style or font from anywhere else, no framing. Inline styles are allowed
// for the diagrams, whose SVG carries its stylesheet.
const consolePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// loadConsole prepares the embedded files of the console.
func loadConsole() map[string]*consoleFile {
	files := map[string]*consoleFile{}
	entries, err := fs.ReadDir(ui.Files, ".")
	if err != nil {
		panic("console files: " + err.Error()) // embedded at build time: cannot fail
	}
	for _, e := range entries {
		body, err := fs.ReadFile(ui.Files, e.Name())
		if err != nil {
			panic("console file " + e.Name() + ": " + err.Error())
		}
		sum := sha256.Sum256(body)
		f := &consoleFile{body: body, contentType: mime.TypeByExtension(path.Ext(e.Name())),
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(body)
		w.Close()
		if gz.Len() < len(body) {
			f.gzipped = gz.Bytes()
		}
		files[e.Name()] = f
	}
	return files
}

// console serves the web console: GET /ui/ and the files beside it. The
// files are public (the data they show comes from /v1, behind the token);
// they change only with the binary, so an ETag lets browsers keep them.
func (s *Server) console(ctx *fasthttp.RequestCtx, p []string) {
	name := "index.html"
	switch {
	case len(p) == 1:
		name = p[0]
	case !bytes.HasSuffix(ctx.Path(), []byte("/")):
		// Relative links need the slash; a relative Location keeps any
		// proxy's host and prefix out of it.
		ctx.Response.Header.Set("Location", "/ui/")
		ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
		return
	}
	f := s.consoleFiles[name]
	if f == nil {
		writeError(ctx, fasthttp.StatusNotFound, CodeNotFound, "no such console file: "+name)
		return
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", consolePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	if string(ctx.Request.Header.Peek("If-None-Match")) == f.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(f.contentType)
	if f.gzipped != nil && ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set("Content-Encoding", "gzip")
		ctx.SetBody(f.gzipped)
		return
	}
	ctx.SetBody(f.body)
}
