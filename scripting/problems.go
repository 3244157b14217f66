package scripting

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// leadingPos matches the "file.lua:12:" gopher-lua puts before messages.
var leadingPos = regexp.MustCompile(`^([^\s:][^:\n]*):(\d+): ?`)

// tracedPos matches the first Lua frame of a stack trace.
var tracedPos = regexp.MustCompile(`(?m)^\s*([^\s:][^:\n]*\.lua):(\d+):`)

// hasPos reports whether a Lua error message starts with file:line.
func hasPos(msg string) bool { return leadingPos.MatchString(msg) }

// tracePos is the innermost script position of a stack trace, or fallback.
func tracePos(trace, fallback string) string {
	if m := tracedPos.FindStringSubmatch(trace); m != nil {
		return m[1] + ":" + m[2]
	}
	return fallback
}

// trimWhere turns L.Where's "file:line:" into "file:line".
func trimWhere(w string) string { return strings.TrimSuffix(w, ":") }

// whereToPos parses L.Where's "file:line:" into a Pos.
func whereToPos(w string) flow.Pos {
	w = trimWhere(w)
	i := strings.LastIndexByte(w, ':')
	if i < 0 {
		return flow.Pos{File: w}
	}
	line, _ := strconv.Atoi(w[i+1:])
	return flow.Pos{File: w[:i], Line: line}
}

// splitPos separates a "file:line: message" Lua error into its parts; a
// message without a position is placed at def.
func splitPos(msg string, def flow.Pos) (flow.Pos, string) {
	if m := leadingPos.FindStringSubmatchIndex(msg); m != nil {
		line, _ := strconv.Atoi(msg[m[4]:m[5]])
		return flow.Pos{File: msg[m[2]:m[3]], Line: line}, strings.TrimSpace(msg[m[1]:])
	}
	return def, strings.TrimSpace(msg)
}

// syntaxProblem turns a parse error into file:line: message. At EOF the
// line is the file's last one.
func syntaxProblem(err error, src flow.Source) flow.Problem {
	var pe *parse.Error
	if errors.As(err, &pe) {
		line := pe.Pos.Line
		switch {
		case line == parse.EOF || line <= 0:
			line = lastLine(src.Body)
		case pe.Message == "unterminated string" && line > 1:
			// The scanner has read the line break that ended the string,
			// and counted it: the string is on the line before.
			line--
		}
		msg := strings.TrimSpace(pe.Message)
		if pe.Token != "" && pe.Pos.Line != parse.EOF {
			msg += " near '" + pe.Token + "'"
		}
		return flow.Problem{Pos: flow.Pos{File: src.Path, Line: line}, Message: msg}
	}
	var ce *lua.CompileError
	if errors.As(err, &ce) {
		return flow.Problem{Pos: flow.Pos{File: src.Path, Line: ce.Line}, Message: ce.Message}
	}
	return flow.Problem{Pos: flow.Pos{File: src.Path, Line: 1}, Message: err.Error()}
}

// lastLine is the number of the last line holding text, counting line
// breaks as Lua's scanner does: \n, \r, \r\n and \n\r each end one line.
func lastLine(body []byte) int {
	line, text := 1, 1
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\n' && c != '\r' {
			text = line
			continue
		}
		if i+1 < len(body) && (c == '\n' && body[i+1] == '\r' || c == '\r' && body[i+1] == '\n') {
			i++
		}
		line++
	}
	return text
}
