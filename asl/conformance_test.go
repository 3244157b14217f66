package asl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/memory"
)

// The conformance suite runs AWS Step Functions' recorded executions
// (testdata/conformance, from the LocalStack project's snapshot tests;
// see its README) through the real loader and engine and compares as
// the corpus's reference checker does. ORBIT_ASL_CASES names another
// corpus directory (the whole corpus) to measure instead; then the known
// failures are not enforced. ORBIT_ASL_SHOW=1 logs what differs in each
// failing case.

const corpusDir = "testdata/conformance/cases"

// knownFailuresFile lists the cases of the shipped corpus that fail, one
// "path: reason" a line; a listed case that passes fails the test, as does
// an unlisted one that fails, so the list stays true.
const knownFailuresFile = "testdata/conformance/known_failures.txt"

type conformanceCase struct {
	Definition      json.RawMessage            `json:"definition"`
	Input           json.RawMessage            `json:"input"`
	Expect          map[string]any             `json:"expect"`
	IgnorePaths     []string                   `json:"ignore_paths"`
	Tags            []string                   `json:"tags"`
	API             string                     `json:"api"`
	InputGenerator  map[string]inputGenerator  `json:"input_generator"`
	Lambdas         map[string]any             `json:"lambdas"`
	TestState       *testStateArgs             `json:"test_state"`
	LambdaFunctions map[string]lambdaBehaviour `json:"lambda_functions"`
	// StateMachineType is EXPRESS for executions recorded with
	// StartSyncExecution, which run as Orbit's express mode.
	StateMachineType string `json:"state_machine_type"`
}

type inputGenerator struct {
	Kind     string `json:"kind"`
	Strftime string `json:"strftime"`
	Append   string `json:"append"`
	Days     int    `json:"days"`
}

type lambdaBehaviour struct {
	Behaviour string          `json:"behaviour"`
	Returns   json.RawMessage `json:"returns"`
	Error     string          `json:"error"`
	Message   string          `json:"message"`
	Template  string          `json:"template"`
	Bytes     int             `json:"bytes"`
	Seconds   float64         `json:"seconds"`
	clock     *clock.Fake
}

// outcome is what a run ended with, in the corpus's terms.
type outcome struct {
	status, errName, cause string
	output                 any
	// A test of one state says also where it goes next and what its data
	// flow went through (AWS's field names).
	nextState  string
	inspection any
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	dir, enforce := corpusDir, true
	if env := os.Getenv("ORBIT_ASL_CASES"); env != "" {
		dir, enforce = env, false
	}
	show := os.Getenv("ORBIT_ASL_SHOW") != "" // log what differs in each failing case
	known := readKnownFailures(t)
	files := caseFiles(t, dir)
	type tally struct{ pass, total int }
	byCategory := map[string]*tally{}
	byMode := map[string]*tally{}
	var unexpected []string
	seen := map[string]bool{}
	for _, rel := range files {
		category := filepath.ToSlash(filepath.Dir(rel))
		problem := runCase(t, filepath.Join(dir, rel))
		if problem != "" && show {
			t.Logf("%s: %s", rel, problem)
		}
		c := byCategory[category]
		if c == nil {
			c = &tally{}
			byCategory[category] = c
		}
		mode := modeOf(category)
		md := byMode[mode]
		if md == nil {
			md = &tally{}
			byMode[mode] = md
		}
		c.total++
		md.total++
		if problem == "" {
			c.pass++
			md.pass++
		}
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		if !enforce {
			continue
		}
		_, isKnown := known[rel]
		switch {
		case problem != "" && !isKnown:
			unexpected = append(unexpected, fmt.Sprintf("%s: fails and is not a known failure: %s", rel, problem))
		case problem == "" && isKnown:
			unexpected = append(unexpected, fmt.Sprintf("%s: passes now; remove it from %s", rel, knownFailuresFile))
		}
	}
	if enforce {
		for rel := range known {
			if !seen[rel] {
				unexpected = append(unexpected, fmt.Sprintf("%s: listed in %s but no such case", rel, knownFailuresFile))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-40s %8s %8s %8s\n", "category", "passed", "cases", "rate")
	cats := make([]string, 0, len(byCategory))
	for c := range byCategory {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		x := byCategory[c]
		fmt.Fprintf(&b, "%-40s %8d %8d %7.1f%%\n", c, x.pass, x.total, 100*float64(x.pass)/float64(x.total))
	}
	for _, m := range []string{"JSONPath categories", "JSONata categories"} {
		if x := byMode[m]; x != nil {
			fmt.Fprintf(&b, "%-40s %8d %8d %7.1f%%\n", m, x.pass, x.total, 100*float64(x.pass)/float64(x.total))
		}
	}
	t.Log(b.String())
	sort.Strings(unexpected)
	for _, u := range unexpected {
		t.Error(u)
	}
}

// modeOf says whether a category measures JSONata mode (its name says so)
// or JSONPath mode.
func modeOf(category string) string {
	if strings.Contains(category, "jsonata") {
		return "JSONata categories"
	}
	return "JSONPath categories"
}

func caseFiles(t *testing.T, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") && d.Name() != "index.json" {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no cases under %s", dir)
	}
	sort.Strings(files)
	return files
}

func readKnownFailures(t *testing.T) map[string]string {
	f, err := os.Open(knownFailuresFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, ".json: ")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("%s:%d: want \"case.json: reason\"", knownFailuresFile, n)
		}
		known[name+".json"] = reason
	}
	return known
}

// runCase runs one case and returns what differs from the recording, or
// "" when it conforms.
func runCase(t *testing.T, file string) string {
	c := readCase(t, file)
	run := runExecution
	if c.API == "TestState" {
		run = runStateTest
	}
	got, err := run(c)
	if err != nil {
		return err.Error()
	}
	return compare(c, got)
}

// readCase reads a case with its generated inputs in place.
func readCase(t *testing.T, file string) *conformanceCase {
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c conformanceCase
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c.generateInputs(t, file)
	return &c
}

// generateInputs substitutes the values of input_generator (the current
// time, the fake clock's) in the input and the expectation.
func (c *conformanceCase) generateInputs(t *testing.T, file string) {
	for token, g := range c.InputGenerator {
		at := epoch
		if g.Kind == "utc_now_plus_days" {
			at = at.AddDate(0, 0, g.Days)
		}
		value := strftime(g.Strftime, at) + g.Append
		in := strings.ReplaceAll(string(c.Input), token, value)
		c.Input = json.RawMessage(in)
		var exp strings.Builder
		enc := json.NewEncoder(&exp)
		enc.SetEscapeHTML(false)
		enc.Encode(c.Expect)
		if err := json.Unmarshal([]byte(strings.ReplaceAll(exp.String(), token, value)), &c.Expect); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
}

// strftime supports the directives the corpus uses.
func strftime(f string, t time.Time) string {
	r := strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02", "%H", "15", "%M", "04", "%S", "05", "%f", "000000", "%z", "-0700")
	return t.Format(r.Replace(f))
}

// runExecution loads the definition with the case's Lambda functions as
// routines and runs it to its end on an engine with a fake clock.
func runExecution(c *conformanceCase) (*outcome, error) {
	return runSources(c, []flow.Source{{Path: "case.asl.json", Body: c.Definition}})
}

// runSources runs the workflow "case" of srcs as runExecution runs the
// case's own definition.
func runSources(c *conformanceCase, srcs []flow.Source) (*outcome, error) {
	clk := clock.NewFake(epoch)
	b, err := scripting.LoadSources(srcs, scripting.Options{Plugins: lambdaFunctions{fns: c.LambdaFunctions, clock: clk}})
	if err != nil {
		return &outcome{status: "FAILED", errName: "States.Runtime", cause: "load: " + err.Error()}, nil
	}
	if c.StateMachineType == "EXPRESS" {
		b.Workflows["case"].Mode = flow.Express
	}
	end, err := runToEnd(b, clk, "case", c.Input)
	if err != nil {
		return nil, err
	}
	return outcomeOf(end)
}

// runToEnd runs workflow on an engine over a memory store with the fake
// clock clk, moving the clock to each timer as the instance waits, and
// returns the ended instance.
func runToEnd(b *flow.Bundle, clk *clock.Fake, workflow string, input json.RawMessage) (*store.Instance, error) {
	st := memory.New()
	eng := engine.New(engine.Config{Store: st, Clock: clk, Random: func() float64 { return 0.5 },
		Compile: func([]flow.Source) (*flow.Bundle, error) { return b, nil }})
	ctx := context.Background()
	if err := eng.Load(ctx, b); err != nil {
		return nil, err
	}
	if err := eng.Open(ctx); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		eng.Close(cctx)
		st.Close()
	}()
	in, _, err := eng.Start(ctx, workflow, engine.StartOptions{Input: input})
	if err != nil {
		return nil, fmt.Errorf("start: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		end, err := eng.Wait(wctx, in.ID)
		cancel()
		if err == nil && end.Status.Terminal() {
			return end, nil
		}
		// The clock moves to the next timer once nothing has changed
		// since the last look: moving it while instances still work would
		// jump over what they are about to do (to a workflow's deadline,
		// say). A routine that waits on the clock changes nothing.
		if at, ok := clk.Next(); ok {
			if sig := activity(eng); sig == last {
				clk.Advance(at.Sub(clk.Now()))
			} else {
				last = sig
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the execution did not end")
		}
	}
}

// activity sums up every instance's progress: it changes whenever one
// moves.
func activity(eng *engine.Engine) string {
	list, _, err := eng.List(store.Query{Limit: 1000})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, in := range list {
		fmt.Fprintf(&b, "%s %s %d %d;", in.ID, in.Status, in.Seq, in.UpdatedAt.UnixNano())
	}
	return b.String()
}

func outcomeOf(in *store.Instance) (*outcome, error) {
	o := &outcome{status: string(in.Status), errName: in.Error, cause: in.Cause}
	if in.Status == store.TimedOut {
		o.status = "TIMED_OUT"
	}
	if len(in.Output) > 0 {
		if err := json.Unmarshal(in.Output, &o.output); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// lambdaFunctions offers the recorded Lambda functions as routines, the
// way a plugin offers its routines.
type lambdaFunctions struct {
	fns   map[string]lambdaBehaviour
	clock *clock.Fake // what a sleeping function sleeps on
}

func (lambdaFunctions) Func(plugin, fn string) (flow.Routine, error) {
	return nil, fmt.Errorf("no plugins here")
}

func (lambdaFunctions) Hooks() []*flow.Observer { return nil }

func (fs lambdaFunctions) Routines() map[string]flow.Routine {
	out := map[string]flow.Routine{}
	for name, b := range fs.fns {
		b.clock = fs.clock
		out[name] = flow.RoutineFunc(b.call)
	}
	return out
}

// call behaves as the recorded Python function does. A function that
// returns answers with the response body Python's runtime writes
// (json.dumps), which lambda:invoke's Content-Length counts.
func (b lambdaBehaviour) call(ctx context.Context, input any, c *flow.Context) (any, error) {
	switch b.Behaviour {
	case "identity":
		return pythonJSON(input), nil
	case "constant":
		var v any
		err := json.Unmarshal(b.Returns, &v)
		return pythonJSON(v), err
	case "raise":
		cause, _ := json.Marshal(map[string]any{"errorMessage": b.Message, "errorType": b.Error,
			"requestId": "00000000-0000-0000-0000-000000000000", "stackTrace": []any{}})
		return nil, &flow.Error{Name: b.Error, Cause: string(cause)}
	case "format":
		return pythonJSON(strings.ReplaceAll(b.Template, "{event}", pythonRepr(input))), nil
	case "large_output":
		return pythonJSON(strings.Repeat("a", b.Bytes)), nil
	case "absent":
		return nil, &flow.Error{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: " + c.State}
	case "sleep":
		woke := make(chan struct{})
		b.clock.AfterFunc(time.Duration(b.Seconds*float64(time.Second)), func() { close(woke) })
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-woke:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("unknown behaviour %q", b.Behaviour)
}

// pythonJSON is a JSON value as Python's json.dumps writes it: ", " and
// ": " between items, and every character beyond ASCII escaped.
func pythonJSON(v any) json.RawMessage {
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteByte('"')
			for _, r := range x {
				switch {
				case r == '"' || r == '\\':
					b.WriteByte('\\')
					b.WriteRune(r)
				case r == '\n':
					b.WriteString(`\n`)
				case r == '\r':
					b.WriteString(`\r`)
				case r == '\t':
					b.WriteString(`\t`)
				case r < 0x20 || r > 0x7e:
					for _, u := range utf16.Encode([]rune{r}) {
						fmt.Fprintf(&b, `\u%04x`, u)
					}
				default:
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		case []any:
			b.WriteByte('[')
			for i, it := range x {
				if i > 0 {
					b.WriteString(", ")
				}
				write(it)
			}
			b.WriteByte(']')
		case map[string]any:
			b.WriteByte('{')
			for i, k := range slices.Sorted(maps.Keys(x)) {
				if i > 0 {
					b.WriteString(", ")
				}
				write(k)
				b.WriteString(": ")
				write(x[k])
			}
			b.WriteByte('}')
		default:
			enc, _ := json.Marshal(x)
			b.Write(enc)
		}
	}
	write(v)
	return json.RawMessage(b.String())
}

// pythonRepr writes a JSON value as Python's repr of the decoded value.
func pythonRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	case string:
		return "'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", `\'`) + "'"
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = pythonRepr(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pythonRepr(k) + ": " + pythonRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// compare follows the corpus's check_reference.py.
func compare(c *conformanceCase, got *outcome) string {
	exp := c.Expect
	status, _ := exp["status"].(string)
	if got.status != status {
		return fmt.Sprintf("status %s (%s: %.300s), want %s", got.status, got.errName, got.cause, status)
	}
	if out, ok := exp["output"]; ok && out != nil && (status == "SUCCEEDED" || status == "CAUGHT_ERROR" || status == "RETRIABLE") {
		e := ignore(out, "output", c.IgnorePaths)
		a := ignore(got.output, "output", c.IgnorePaths)
		if !jsonEqual(e, a) {
			eb, _ := json.Marshal(e)
			ab, _ := json.Marshal(a)
			return fmt.Sprintf("output %.400s, want %.400s", ab, eb)
		}
	}
	expErr, _ := exp["error"].(string)
	if status != "SUCCEEDED" || expErr != "" {
		if expErr != got.errName {
			return fmt.Sprintf("error %q (%.200s), want %q", got.errName, got.cause, expErr)
		}
		mode, _ := exp["cause_match"].(string)
		switch {
		case len(c.Lambdas) > 0 && mode == "json":
			// Lambda runtime causes are informative only.
		case mode == "json":
			var a any
			if err := json.Unmarshal([]byte(got.cause), &a); err != nil {
				a = got.cause
			}
			if !jsonEqual(ignore(exp["cause"], "cause", c.IgnorePaths), ignore(a, "cause", c.IgnorePaths)) {
				return fmt.Sprintf("cause %.300s, want %.300v", got.cause, exp["cause"])
			}
		case mode == "pattern":
			want, _ := exp["cause"].(string)
			if !patternMatch(want, got.cause) {
				return fmt.Sprintf("cause %q does not match %q", got.cause, want)
			}
		default:
			want, _ := exp["cause"].(string)
			if want != got.cause {
				return fmt.Sprintf("cause %q, want %q", got.cause, want)
			}
		}
	}
	if c.API == "TestState" {
		if want, _ := exp["nextState"].(string); want != got.nextState {
			return fmt.Sprintf("next state %q, want %q", got.nextState, want)
		}
		if want, ok := exp["inspectionData"]; ok && want != nil {
			e := ignore(want, "inspectionData", c.IgnorePaths)
			a := ignore(got.inspection, "inspectionData", c.IgnorePaths)
			if !jsonEqual(e, a) {
				eb, _ := json.Marshal(e)
				ab, _ := json.Marshal(a)
				return fmt.Sprintf("inspection data %.600s, want %.600s", ab, eb)
			}
		}
	}
	return ""
}

var placeholder = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9_\-]*(?::\d+)?>`)

func patternMatch(pattern, s string) bool {
	parts := placeholder.Split(pattern, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)^` + strings.Join(parts, ".*?") + `$`).MatchString(s)
}

func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

var pathToken = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]`)

// ignore replaces the values at the case's ignore paths under root by a
// sentinel.
func ignore(v any, root string, paths []string) any {
	for _, p := range paths {
		var parts []any
		for _, m := range pathToken.FindAllStringSubmatch(p[1:], -1) {
			switch {
			case m[1] != "":
				parts = append(parts, m[1])
			case m[2] != "":
				var n int
				fmt.Sscan(m[2], &n)
				parts = append(parts, n)
			default:
				parts = append(parts, m[3])
			}
		}
		if len(parts) > 0 && parts[0] == root {
			v = drop(v, parts[1:])
		}
	}
	return v
}

func drop(v any, path []any) any {
	if len(path) == 0 {
		return "<ignored>"
	}
	switch x := v.(type) {
	case map[string]any:
		k, ok := path[0].(string)
		if _, has := x[k]; ok && has {
			c := make(map[string]any, len(x))
			for kk, vv := range x {
				c[kk] = vv
			}
			c[k] = drop(x[k], path[1:])
			return c
		}
	case []any:
		i, ok := path[0].(int)
		if ok && i < len(x) {
			c := slices.Clone(x)
			c[i] = drop(x[i], path[1:])
			return c
		}
	}
	return v
}
