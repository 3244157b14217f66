package scenario

import (
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// path reads a slash-separated path (params/order) as the JSONPath it
// means ($.params.order). An all-digit segment is an array index
// (items/0 is $.items[0]); "" and "/" are the whole data; a path written
// with a leading $ is taken as JSONPath.
func path(s string) (*flow.Path, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "$") {
		return flow.ParsePath(s)
	}
	var b strings.Builder
	b.WriteByte('$')
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		switch {
		case seg == "":
			if s != "" && strings.Trim(s, "/") != "" {
				// a//b: an empty segment between two names
				return nil, errEmptySegment(s)
			}
		case isIndex(seg):
			b.WriteString("[" + seg + "]")
		case plainKey(seg):
			b.WriteString("." + seg)
		case strings.Contains(seg, "'"):
			b.WriteString(`["` + seg + `"]`)
		default:
			b.WriteString("['" + seg + "']")
		}
	}
	return flow.ParsePath(b.String())
}

type errEmptySegment string

func (e errEmptySegment) Error() string {
	return "path " + strconv.Quote(string(e)) + " has an empty segment"
}

func isIndex(seg string) bool {
	_, err := strconv.ParseUint(seg, 10, 31)
	return err == nil
}

// plainKey reports whether a key can follow a dot in a JSONPath.
func plainKey(seg string) bool {
	return !strings.ContainsAny(seg, ".[]'\" $")
}
