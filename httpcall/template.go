package httpcall

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// segment is one piece of a request URI template: literal text copied as
// is, or a placeholder whose value comes from the input on every call.
type segment struct {
	text   string              // literal text, or the field name of a placeholder
	escape func(string) string // nil for literal text
	inPath bool                // a placeholder in the URL's path
}

// uriTemplate is a URL plus query parameters parsed once at load time, so a
// call only appends strings instead of scanning the template again.
type uriTemplate struct {
	segs   []segment
	static bool // no placeholders: segs is one literal, the whole URI
	// dotSegs counts the "." and ".." segments the template's own path
	// holds; a value that adds one would let the input climb out of the
	// template's path once the server resolves it. pathDot says whether
	// the template's path holds a dot at all: if not, only a value with a
	// dot can make such a segment.
	dotSegs int
	pathDot bool
}

// parseURI builds the template of a spec's URL and query. ${ENV} is expanded
// here; {field} stays a placeholder, escaped for the path or for the query
// depending on where it stands.
func parseURI(rawURL string, query map[string]string, env Env) (uriTemplate, error) {
	var t uriTemplate
	inQuery := false
	err := scan(rawURL, true, env, func(text string, field bool) {
		if field {
			esc := url.PathEscape
			if inQuery {
				esc = url.QueryEscape
			}
			t.segs = append(t.segs, segment{text: text, escape: esc, inPath: !inQuery})
			return
		}
		inQuery = inQuery || strings.Contains(text, "?")
		t.add(text)
	})
	if err != nil {
		return t, fmt.Errorf("url: %w", err)
	}
	for _, s := range t.segs {
		if s.escape == nil && strings.ContainsFunc(s.text, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return t, fmt.Errorf("url %q: holds a space or a control character; write it escaped (%%20)", s.text)
		}
	}
	if err := checkAuthority(t.literalPrefix(), len(t.segs) > 1 || len(t.segs) == 1 && t.segs[0].escape != nil); err != nil {
		return t, err
	}
	for _, k := range slices.Sorted(maps.Keys(query)) {
		sep := "&"
		if !inQuery {
			sep, inQuery = "?", true
		}
		t.add(sep + url.QueryEscape(k) + "=")
		// Literal parts of a query value are data, not URL syntax, so they
		// are escaped too (once, here).
		err := scan(query[k], true, env, func(text string, field bool) {
			if field {
				t.segs = append(t.segs, segment{text: text, escape: url.QueryEscape})
			} else {
				t.add(url.QueryEscape(text))
			}
		})
		if err != nil {
			return t, fmt.Errorf("query.%s: %w", k, err)
		}
	}
	t.static = len(t.segs) == 1 && t.segs[0].escape == nil
	if !t.static {
		plain, _ := t.fill(nil, func(*segment) (string, error) { return "x", nil })
		t.dotSegs = dotSegments(plain)
		t.pathDot = strings.Contains(uriPath(plain), ".")
	}
	return t, nil
}

// checkAuthority makes sure that the scheme and host come from the
// template, never from a task's input: prefix is the text before the first
// placeholder.
func checkAuthority(prefix string, placeholders bool) error {
	rest, ok := strings.CutPrefix(prefix, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(prefix, "https://"); !ok {
			return fmt.Errorf("url %q: must start with http:// or https://", prefix)
		}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 && !placeholders {
		end = len(rest)
	}
	if end <= 0 {
		return fmt.Errorf("url %q: the host must be written out (or come from ${ENV}); a {field} may not stand in it", prefix)
	}
	if u, err := url.Parse("http://" + rest[:end]); err != nil || u.Host == "" {
		return fmt.Errorf("url %q: %q is not a host", prefix, rest[:end])
	}
	return nil
}

// uriPath is the path of an absolute URI, as written (escaped).
func uriPath(uri []byte) string {
	s := string(uri)
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	start := strings.IndexByte(s, '/')
	if start < 0 {
		return ""
	}
	s = s[start:]
	if end := strings.IndexAny(s, "?#"); end >= 0 {
		s = s[:end]
	}
	return s
}

// dotSegments counts the "." and ".." segments of a URI's path as a server
// reads it, percent-decoded.
func dotSegments(uri []byte) int {
	s := uriPath(uri)
	if p, err := url.PathUnescape(s); err == nil {
		s = p
	}
	n := 0
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			n++
		}
	}
	return n
}

// add appends literal text, merging it with a literal before it.
func (t *uriTemplate) add(text string) {
	if text == "" {
		return
	}
	if n := len(t.segs); n > 0 && t.segs[n-1].escape == nil {
		t.segs[n-1].text += text
		return
	}
	t.segs = append(t.segs, segment{text: text})
}

// literalPrefix is the text before the first placeholder.
func (t *uriTemplate) literalPrefix() string {
	if len(t.segs) > 0 && t.segs[0].escape == nil {
		return t.segs[0].text
	}
	return ""
}

// appendTo appends the URI with placeholders filled from the input's
// top-level fields.
func (t *uriTemplate) appendTo(dst []byte, input any) ([]byte, error) {
	if t.static {
		return append(dst, t.segs[0].text...), nil
	}
	start := len(dst)
	dots := t.pathDot
	dst, err := t.fill(dst, func(s *segment) (string, error) {
		v, err := fieldValue(input, s.text)
		dots = dots || s.inPath && strings.ContainsAny(v, "./")
		return v, err
	})
	if err != nil {
		return dst, err
	}
	// Only a value with a dot or a slash, or any value beside a dot of the
	// template, can make a dot segment: the usual call skips the check.
	if dots && dotSegments(dst[start:]) > t.dotSegs {
		return dst, flow.Errorf(flow.ErrRuntime, "url %s: a placeholder's value adds a . or .. segment to the path", dst[start:])
	}
	return dst, nil
}

// fill appends the URI with each placeholder's value, escaped.
func (t *uriTemplate) fill(dst []byte, value func(*segment) (string, error)) ([]byte, error) {
	for i := range t.segs {
		s := &t.segs[i]
		if s.escape == nil {
			dst = append(dst, s.text...)
			continue
		}
		v, err := value(s)
		if err != nil {
			return dst, err
		}
		dst = append(dst, s.escape(v)...)
	}
	return dst, nil
}

// fieldValue is the text of a top-level input field for a placeholder.
func fieldValue(input any, name string) (string, error) {
	obj, ok := input.(map[string]any)
	if !ok {
		return "", flow.Errorf(flow.ErrRuntime, "placeholder {%s} needs an object input, got %s", name, jsonType(input))
	}
	v, ok := obj[name]
	if !ok {
		return "", flow.Errorf(flow.ErrRuntime, "placeholder {%s}: the input has no field %q", name, name)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		// 'f' keeps large integers such as ids out of exponent form.
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case json.Number:
		return x.String(), nil
	}
	return "", flow.Errorf(flow.ErrRuntime, "placeholder {%s}: field %q is %s; it must be a string, number or boolean", name, name, jsonType(v))
}

// jsonType names a value's JSON type for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// expandEnv expands ${ENV} in a header value; braces without a dollar are
// kept as they are, since header values may legitimately hold them.
func expandEnv(s string, env Env) (string, error) {
	var b strings.Builder
	err := scan(s, false, env, func(text string, _ bool) { b.WriteString(text) })
	return b.String(), err
}

// scan splits s into literal text (with ${ENV} and ${ENV:-fallback}
// expanded) and, when
// placeholders is set, {field} placeholders, calling emit for each piece.
// An environment variable's value is always literal, so it can never smuggle
// in a placeholder.
func scan(s string, placeholders bool, vars Env, emit func(text string, field bool)) error {
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			emit(s, false)
			return nil
		}
		env := i > 0 && s[i-1] == '$'
		if !env && !placeholders {
			emit(s[:i+1], false)
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return fmt.Errorf("%q has a { without its closing }", s)
		}
		name := s[i+1 : i+end]
		if name == "" {
			return fmt.Errorf("%q has an empty {}", s)
		}
		if env {
			// ${NAME:-fallback} works as in the shell, so example bundles
			// run without any environment.
			name, fallback, hasFallback := strings.Cut(name, ":-")
			v, err := vars.read(name)
			if err != nil || (hasFallback && v == "") {
				if !hasFallback {
					return err
				}
				v = fallback
			}
			if i > 1 {
				emit(s[:i-1], false)
			}
			emit(v, false)
		} else {
			if i > 0 {
				emit(s[:i], false)
			}
			emit(name, true)
		}
		s = s[i+end+1:]
	}
	return nil
}
