package httpcall

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
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
}

// uriTemplate is a URL plus query parameters parsed once at load time, so a
// call only appends strings instead of scanning the template again.
type uriTemplate struct {
	segs   []segment
	static bool // no placeholders: segs is one literal, the whole URI
}

// parseURI builds the template of a spec's URL and query. ${ENV} is expanded
// here; {field} stays a placeholder, escaped for the path or for the query
// depending on where it stands.
func parseURI(rawURL string, query map[string]string) (uriTemplate, error) {
	var t uriTemplate
	inQuery := false
	err := scan(rawURL, true, func(text string, field bool) {
		if field {
			esc := url.PathEscape
			if inQuery {
				esc = url.QueryEscape
			}
			t.segs = append(t.segs, segment{text: text, escape: esc})
			return
		}
		inQuery = inQuery || strings.Contains(text, "?")
		t.add(text)
	})
	if err != nil {
		return t, fmt.Errorf("url: %w", err)
	}
	if !strings.HasPrefix(rawURL, "{") {
		if u := t.literalPrefix(); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return t, fmt.Errorf("url %q: must start with http:// or https://", u)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(query)) {
		sep := "&"
		if !inQuery {
			sep, inQuery = "?", true
		}
		t.add(sep + url.QueryEscape(k) + "=")
		// Literal parts of a query value are data, not URL syntax, so they
		// are escaped too (once, here).
		err := scan(query[k], true, func(text string, field bool) {
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
	return t, nil
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
	for _, s := range t.segs {
		if s.escape == nil {
			dst = append(dst, s.text...)
			continue
		}
		v, err := fieldValue(input, s.text)
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
func expandEnv(s string) (string, error) {
	var b strings.Builder
	err := scan(s, false, func(text string, _ bool) { b.WriteString(text) })
	return b.String(), err
}

// scan splits s into literal text (with ${ENV} and ${ENV:-fallback}
// expanded) and, when
// placeholders is set, {field} placeholders, calling emit for each piece.
// An environment variable's value is always literal, so it can never smuggle
// in a placeholder.
func scan(s string, placeholders bool, emit func(text string, field bool)) error {
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
			v, ok := os.LookupEnv(name)
			if !ok || (hasFallback && v == "") {
				if !hasFallback {
					return fmt.Errorf("environment variable %s is not set", name)
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
