package main_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docLine is one command of the documentation: where it is and its words.
type docLine struct {
	where string // file:line
	args  []string
}

// docCommands reads README.md and docs/*.md and returns every command line
// of their code blocks whose first word is one of names: the lines after
// "$ " in any block, and every line of a sh, bash or shell block without
// "$ " lines. A trailing backslash continues a line; comments, pipes,
// redirections and a trailing & end it.
func docCommands(t *testing.T, names ...string) []docLine {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append([]string{"../../README.md"}, files...)
	var out []docLine
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			fence, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "```")
			if !ok {
				continue
			}
			end := i + 1
			for end < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[end]), "```") {
				end++
			}
			block := lines[i+1 : min(end, len(lines))]
			prompted := slices.ContainsFunc(block, func(l string) bool { return strings.HasPrefix(l, "$ ") })
			shell := fence == "sh" || fence == "bash" || fence == "shell"
			for j := 0; j < len(block); j++ {
				line := block[j]
				if prompted {
					var ok bool
					if line, ok = strings.CutPrefix(line, "$ "); !ok {
						continue
					}
				} else if !shell {
					continue
				}
				at := fmt.Sprintf("%s:%d", strings.TrimPrefix(file, "../../"), i+2+j)
				for strings.HasSuffix(line, "\\") && j+1 < len(block) {
					j++
					line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(block[j])
				}
				args, err := shellWords(line)
				if err != nil {
					t.Errorf("%s: %v: %s", at, err, line)
					continue
				}
				for len(args) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(args[0]) {
					args = args[1:] // VAR=value before the command
				}
				if len(args) > 0 && slices.Contains(names, args[0]) {
					out = append(out, docLine{where: at, args: args})
				}
			}
			i = end
		}
	}
	return out
}

// shellWords splits a command line as sh would for the quoting the docs
// use, up to a comment, a pipe, a redirection, ; or &&.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord, c == '|', c == '>', c == '<', c == ';', c == '&':
			flush()
			return words, nil
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, nil
}

// TestDocsCommandLinesParse runs every orbit command line of the README
// and docs/ with -h appended: the real binary refuses an unknown command,
// an unknown flag or a flag's bad value before it would print its help.
func TestDocsCommandLinesParse(t *testing.T) {
	lines := docCommands(t, "orbit", "bin/orbit")
	if len(lines) < 10 {
		t.Fatalf("found only %d orbit command lines in the docs", len(lines))
	}
	for _, l := range lines {
		args := append(slices.Clone(l.args[1:]), "-h")
		cmd := exec.Command(orbit(t), args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: orbit %s: %v\n%s", l.where, strings.Join(l.args[1:], " "), err, firstLines(out, 3))
		}
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestDocsCurlLinesRoute checks every curl line of the README and docs/
// against openapi.json, which runtime/api's tests hold to the real routes
// and answers: the method and path are an operation, each query parameter
// is one it takes, a body is JSON sent as JSON.
func TestDocsCurlLinesRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
		} `json:"paths"`
	}
	b, err := os.ReadFile("../../runtime/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	lines := docCommands(t, "curl")
	if len(lines) < 10 {
		t.Fatalf("found only %d curl lines in the docs", len(lines))
	}
	for _, l := range lines {
		c, err := readCurl(l.args[1:])
		if err != nil {
			t.Errorf("%s: %v", l.where, err)
			continue
		}
		op, template := findOperation(doc.Paths, c.method, c.url.Path)
		if template == "" {
			t.Errorf("%s: %s %s is no operation of the API", l.where, c.method, c.url.Path)
			continue
		}
		for name := range c.url.Query() {
			if !slices.ContainsFunc(op.Parameters, func(p struct{ Name, In string }) bool { return p.Name == name && p.In == "query" }) {
				t.Errorf("%s: %s %s takes no query parameter %q", l.where, c.method, template, name)
			}
		}
		if c.body != nil {
			if !json.Valid(c.body) {
				t.Errorf("%s: the body %s is not JSON", l.where, c.body)
			}
			if !strings.HasPrefix(c.header["content-type"], "application/json") {
				t.Errorf("%s: a body without -H 'Content-Type: application/json' is refused with 415", l.where)
			}
		}
	}
}

// curlRequest is what a curl command line sends.
type curlRequest struct {
	method string
	url    *url.URL
	header map[string]string // lower-case names
	body   []byte            // nil: none
}

// readCurl reads the curl options the docs use.
func readCurl(args []string) (*curlRequest, error) {
	c := &curlRequest{header: map[string]string{}}
	var raw string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch a {
		case "-s", "-S", "-sS", "-i", "-v", "--fail", "-f", "--no-buffer", "-N":
		case "-X", "--request":
			c.method, err = next()
		case "-H", "--header":
			if v, err = next(); err == nil {
				k, val, _ := strings.Cut(v, ":")
				c.header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
			}
		case "-d", "--data", "--data-binary", "--data-raw":
			if v, err = next(); err == nil {
				c.body = []byte(v)
			}
		case "-o", "--output", "-w", "--write-out", "--max-time", "-m":
			_, err = next()
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("curl option %s is not one this check knows", a)
			}
			raw = a
		}
		if err != nil {
			return nil, err
		}
	}
	if raw == "" {
		return nil, fmt.Errorf("curl line without a URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	c.url = u
	if c.method == "" {
		c.method = "GET"
		if c.body != nil {
			c.method = "POST"
		}
	}
	return c, nil
}

// findOperation matches a method and path against the templates of
// openapi.json; a {param} matches one non-empty segment.
func findOperation[Op any](paths map[string]map[string]Op, method, path string) (Op, string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for template, ops := range paths {
		parts := strings.Split(strings.Trim(template, "/"), "/")
		if len(parts) != len(segs) {
			continue
		}
		match := true
		for i, p := range parts {
			if strings.HasPrefix(p, "{") {
				match = match && segs[i] != ""
			} else {
				match = match && p == segs[i]
			}
		}
		if op, ok := ops[strings.ToLower(method)]; match && ok {
			return op, template
		}
	}
	var zero Op
	return zero, ""
}

// TestDocsPHPSnippetsParse runs php -l on every php block of the docs.
func TestDocsPHPSnippetsParse(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("ORBIT_REQUIRE_PHP") != "" {
			t.Fatalf("php is required (make test installs it): %v", err)
		}
		t.Skip("no php here (make test installs it)")
	}
	files, _ := filepath.Glob("../../docs/*.md")
	n := 0
	for _, file := range append(files, "../../clients/php/README.md") {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile("(?s)```php\n(.*?)```").FindAllSubmatch(b, -1) {
			n++
			src := filepath.Join(t.TempDir(), "snippet.php")
			if err := os.WriteFile(src, append([]byte("<?php\n"), m[1]...), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(php, "-l", src).CombinedOutput(); err != nil {
				t.Errorf("%s: a php block does not parse: %s", strings.TrimPrefix(file, "../../"), out)
			}
		}
	}
	if n == 0 {
		t.Fatal("no php blocks found")
	}
}

// quickstartStep is one "$ " command of the README's Quickstart and the
// output the README shows for it.
type quickstartStep struct {
	where string
	args  []string
	want  []string
}

// quickstart reads the README's Quickstart section.
func quickstart(t *testing.T) []quickstartStep {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var steps []quickstartStep
	in, fenced := false, false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## Quickstart"
		case !in:
		case strings.HasPrefix(l, "```"):
			fenced = !fenced
		case fenced && strings.HasPrefix(l, "$ "):
			args, err := shellWords(strings.TrimPrefix(l, "$ "))
			if err != nil {
				t.Fatalf("README.md:%d: %v", i+1, err)
			}
			steps = append(steps, quickstartStep{where: fmt.Sprintf("README.md:%d", i+1), args: args})
		case fenced && len(steps) > 0:
			want, _, _ := strings.Cut(l, "  #") // a comment beside the output
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, strings.TrimSpace(want))
		}
	}
	return steps
}

// outputPattern reads a line of shown output as a pattern: "…" stands for
// any text (with the letters and digits before it, as in an id shortened
// to "6f1c…", and the spaces around it), a timestamp for any timestamp.
func outputPattern(line string) *regexp.Regexp {
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	var re strings.Builder
	for i, part := range regexp.MustCompile(`[A-Za-z0-9]*\s*…\s*`).Split(line, -1) {
		if i > 0 {
			re.WriteString(".*")
		}
		for j, text := range stamp.Split(part, -1) {
			if j > 0 {
				re.WriteString(stamp.String())
			}
			re.WriteString(regexp.QuoteMeta(text))
		}
	}
	return regexp.MustCompile("^" + re.String() + "$")
}

// TestReadmeQuickstartWorks runs the README's Quickstart step by step with
// the real binary from the repository's root, shopd standing in for the
// services, and checks that each step prints what the README shows: every
// shown line, in order, with "…" for what changes from run to run, and
// exit 1 where the README shows an error.
func TestReadmeQuickstartWorks(t *testing.T) {
	steps := quickstart(t)
	if len(steps) < 4 {
		t.Fatalf("the Quickstart has only %d steps", len(steps))
	}
	var env []string
	for _, s := range steps {
		switch {
		case slices.Equal(s.args, []string{"go", "build", "-o", "bin/orbit", "./cmd/orbit"}):
			continue // the test built it
		case slices.Equal(s.args, []string{"go", "run", "./examples/shopd"}):
			env = []string{"ORBIT_SCRIPT_ENV=SHOP_URL", "SHOP_URL=" + startShopd(t)}
			continue
		case s.args[0] != "bin/orbit":
			t.Fatalf("%s: a step this test does not know how to run: %s", s.where, strings.Join(s.args, " "))
		}
		cmd := exec.Command(orbit(t), s.args[1:]...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		wantCode := 0
		for _, w := range s.want {
			if regexp.MustCompile(`^[A-Z][A-Za-z]*\.[A-Za-z]+: `).MatchString(w) {
				wantCode = 1 // the README shows an error
			}
		}
		if code != wantCode {
			t.Errorf("%s: %s: exit %d, want %d\n%s", s.where, strings.Join(s.args, " "), code, wantCode, out)
			continue
		}
		next := 0
		for _, w := range s.want {
			re := outputPattern(w)
			for next < len(got) && !re.MatchString(got[next]) {
				next++
			}
			if next == len(got) {
				t.Errorf("%s: %s printed no line like %q after the lines before it:\n%s", s.where, strings.Join(s.args, " "), w, out)
				break
			}
			next++
		}
	}
}
