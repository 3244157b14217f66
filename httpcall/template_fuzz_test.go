package httpcall

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// sent is a request URI as Orbit's client puts it on the wire.
type sent struct {
	host, query string
	segments    []string // the path's segments, percent-decoded as a server reads them
}

func parseSent(uri []byte) sent {
	var u fasthttp.URI
	u.DisablePathNormalizing = true // as the client is configured
	u.Parse(nil, uri)
	path, err := url.PathUnescape(string(u.PathOriginal()))
	if err != nil {
		path = string(u.PathOriginal())
	}
	return sent{host: string(u.Host()), query: string(u.QueryString()), segments: strings.Split(path, "/")}
}

func countDots(segs []string) int {
	n := 0
	for _, s := range segs {
		if s == "." || s == ".." {
			n++
		}
	}
	return n
}

// FuzzURITemplate fills URL templates with arbitrary field values. Whatever
// a value holds, the request goes to the host the template names, stays on
// the template's path (no added . or .. segment, which a server would
// resolve) and keeps the template's query parameters.
func FuzzURITemplate(f *testing.F) {
	f.Add("http://api.internal:8080/orders/{id}/lines?tag={tag}", "q", "{id}", "a/b c")
	f.Add("http://api.internal{suffix}/orders", "", "", "@evil.example")
	f.Add("http://{host}/orders", "", "", "evil.example")
	f.Add("http://api.internal/orders/{id}/lines", "", "", "..")
	f.Add("http://api.internal/orders/{id}/lines", "", "", "../admin")
	f.Add("http://api.internal/orders/{id}?tag={tag}", "", "", "a&b=c#frag")
	f.Fuzz(func(t *testing.T, tmpl, qkey, qval, value string) {
		var query map[string]string
		if qkey != "" {
			query = map[string]string{qkey: qval}
		}
		tp, err := parseURI(tmpl, query, nil)
		if err != nil {
			return
		}
		fields := map[string]any{}
		plain := map[string]any{}
		for _, s := range tp.segs {
			if s.escape != nil {
				fields[s.text], plain[s.text] = value, "x"
			}
		}
		ref, err := tp.appendTo(nil, plain)
		if err != nil {
			t.Fatalf("%q with every field x: %v", tmpl, err)
		}
		want := parseSent(ref)
		if want.host == "" {
			t.Fatalf("template %q was accepted but names no host (%s)", tmpl, ref)
		}
		got, err := tp.appendTo(nil, fields)
		if err != nil {
			var fe *flow.Error
			if !errors.As(err, &fe) || fe.Name != flow.ErrRuntime {
				t.Fatalf("%q with %q: error %v is not %s", tmpl, value, err, flow.ErrRuntime)
			}
			return
		}
		have := parseSent(got)
		if have.host != want.host {
			t.Fatalf("%q with %q goes to host %q (%s), not %q", tmpl, value, have.host, got, want.host)
		}
		if countDots(have.segments) > countDots(want.segments) {
			t.Fatalf("%q with %q adds a dot segment to the path: %s", tmpl, value, got)
		}
		if n, m := strings.Count(have.query, "&"), strings.Count(want.query, "&"); n != m {
			t.Fatalf("%q with %q has %d query separators, the template %d: %s", tmpl, value, n, m, got)
		}
	})
}
