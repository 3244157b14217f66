package api

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// A sidecar without a token listens on loopback and trusts what reaches
// it. A web page in a browser on the same machine reaches it too: a
// "simple" cross-site request (a POST with a text/plain body, or with none)
// needs no preflight, so any page could start, signal or cancel instances;
// and a page whose name is made to resolve to 127.0.0.1 (DNS rebinding)
// reads the answers as well, since the browser then takes the API for the
// page's own site. Three rules close this, before any handler runs:
//
//   - Host must be an IP address, localhost (or a name under .localhost),
//     or a name the operator allowed: a rebinding page sends its own name.
//   - On /v1, a browser request from another site is refused, whatever
//     its method, unless its origin was allowed: browsers say where a
//     request comes from in Origin and Sec-Fetch-Site, which pages cannot
//     forge. Programs (curl, the CLI, clients) send neither.
//   - On /v1, a body must be declared application/json, which no simple
//     request can carry, so every cross-site write needs a preflight that
//     the API does not grant unless the origin was allowed.

// protection is the request rules of a Server, built once from Options.
type protection struct {
	anyHost bool
	hosts   map[string]bool // lower case, without port
	origins map[string]bool // scheme://host[:port], lower case
	allowed *hostCache      // Host headers seen and allowed
}

// hostCache remembers Host headers found allowed, as sent, so that the
// check of every request is one map lookup instead of parsing the header
// (an allocation per request). It is bounded: a client may send any
// number of IP addresses, which are all allowed.
type hostCache struct {
	mu    sync.RWMutex
	hosts map[string]struct{}
}

// maxCachedHosts bounds a hostCache; past it, hosts are parsed.
const maxCachedHosts = 64

func newProtection(opt Options) protection {
	p := protection{hosts: map[string]bool{}, origins: map[string]bool{},
		allowed: &hostCache{hosts: map[string]struct{}{}}}
	for _, h := range opt.AllowHosts {
		if h == "*" {
			p.anyHost = true
			continue
		}
		p.hosts[hostName(h)] = true
	}
	for _, o := range opt.AllowOrigins {
		p.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return p
}

// CheckAllowedHost refuses what cannot be an entry of Options.AllowHosts:
// a host name, host:port, or "*".
func CheckAllowedHost(h string) error {
	if h == "*" {
		return nil
	}
	if hostName(h) == "" || strings.ContainsAny(h, "/ @?#") {
		return fmt.Errorf("%q is not a host name", h)
	}
	return nil
}

// CheckOrigin refuses what cannot be an entry of Options.AllowOrigins: a
// web origin is scheme://host[:port], with http or https, and nothing
// after.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not a web origin like https://ops.example.com or http://localhost:3000", o)
	}
	return nil
}

// hostName is the name part of a Host header or host[:port] value, in
// lower case, without brackets or a trailing dot.
func hostName(hostport string) string {
	h := hostport
	if name, _, err := net.SplitHostPort(hostport); err == nil {
		h = name
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostAllowed reports whether a request's Host names this sidecar. An
// empty Host comes from no browser; an IP address cannot be rebound.
func (p *protection) hostAllowed(host []byte) bool {
	if len(host) == 0 || p.anyHost {
		return true
	}
	c := p.allowed
	c.mu.RLock()
	_, seen := c.hosts[string(host)]
	c.mu.RUnlock()
	if seen {
		return true
	}
	h := hostName(string(host))
	if net.ParseIP(h) == nil && h != "localhost" && !strings.HasSuffix(h, ".localhost") && !p.hosts[h] {
		return false
	}
	c.mu.Lock()
	if len(c.hosts) < maxCachedHosts {
		c.hosts[string(host)] = struct{}{}
	}
	c.mu.Unlock()
	return true
}

// crossOrigin classifies a /v1 request by where a browser says it comes
// from: same origin or not a browser (ok, origin ""), an allowed origin
// (ok, that origin, which gets CORS headers), or refused.
func (p *protection) crossOrigin(ctx *fasthttp.RequestCtx) (origin string, ok bool) {
	o := string(ctx.Request.Header.Peek("Origin"))
	if o != "" {
		switch {
		case sameOrigin(o, ctx.Host()):
			return "", true
		case p.origins[strings.ToLower(o)]:
			return o, true
		}
		return "", false
	}
	switch string(ctx.Request.Header.Peek("Sec-Fetch-Site")) {
	case "", "same-origin", "none": // "none": typed in the address bar
		return "", true
	}
	return "", false
}

// sameOrigin reports whether origin is the site the request was sent to:
// a page served by this sidecar (the console at /ui/) calling its API.
func sameOrigin(origin string, host []byte) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, string(host))
}

// jsonBody reports whether a request has no body or declares it JSON.
func jsonBody(ctx *fasthttp.RequestCtx) bool {
	if len(ctx.Request.Body()) == 0 {
		return true
	}
	ct, _, _ := bytes.Cut(ctx.Request.Header.ContentType(), []byte(";"))
	return bytes.EqualFold(bytes.TrimSpace(ct), []byte("application/json"))
}

// protect applies the rules to a request and answers it when it breaks
// one; it reports whether the request may go on. Preflights of allowed
// origins are answered here too.
func (s *Server) protect(ctx *fasthttp.RequestCtx, v1 bool) bool {
	if !s.guard.hostAllowed(ctx.Host()) {
		writeError(ctx, fasthttp.StatusForbidden, CodeForbidden, "Host "+quote(ctx.Host())+
			" is not a name of this sidecar; allow it with --allow-host (a web page under a foreign name may be a DNS-rebinding attack)")
		return false
	}
	if !v1 {
		return true
	}
	origin, ok := s.guard.crossOrigin(ctx)
	if !ok {
		writeError(ctx, fasthttp.StatusForbidden, CodeForbidden,
			"cross-site browser requests are refused; allow the calling page's origin with --allow-origin")
		return false
	}
	if origin != "" {
		h := &ctx.Response.Header
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if ctx.IsOptions() {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, traceparent")
			h.Set("Access-Control-Max-Age", "600")
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return false
		}
		h.Set("Access-Control-Expose-Headers", "Location, Retry-After")
	}
	if !jsonBody(ctx) {
		got := "without one"
		if ct := ctx.Request.Header.ContentType(); len(ct) > 0 {
			got = "not " + quote(ct)
		}
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"a request body must be sent with Content-Type: application/json, "+got)
		return false
	}
	return true
}

// quote shows a header value in a message, cut to a sane length.
func quote(b []byte) string {
	const most = 100
	if len(b) > most {
		b = b[:most]
	}
	return `"` + strings.ToValidUTF8(string(b), "?") + `"`
}
