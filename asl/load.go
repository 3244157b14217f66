package asl

import (
	"fmt"
	"math"
	pathpkg "path"
	"slices"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Suffix selects the Amazon States Language files of a scripts directory.
const Suffix = ".asl.json"

// Format is the Amazon States Language as a definition format of the
// bundle loader (scripting.Format).
type Format struct{}

// Suffix is the file name ending of ASL files.
func (Format) Suffix() string { return Suffix }

// Define reads each file as one state machine, the workflow named after
// the file, and adds it to b. ASL declares no routines, so it needs no
// HTTP client.
func (Format) Define(files []flow.Source, b *flow.Bundle, _ *httpcall.Client, _ httpcall.Env) flow.Problems {
	var probs flow.Problems
	for _, src := range files {
		name := strings.TrimSuffix(pathpkg.Base(src.Path), Suffix)
		root, err := parseJSON(src.Body)
		if err != nil {
			line := 1
			if se, ok := err.(*syntaxError); ok {
				line = se.line
			}
			probs = append(probs, flow.Problem{Pos: flow.Pos{File: src.Path, Line: line}, Message: err.Error()})
			continue
		}
		probs = append(probs, Compile(name, src.Path, root, b)...)
	}
	return probs
}

func newLoader(file string, b *flow.Bundle) *loader {
	return &loader{file: file, routines: &b.Routines, dialect: &dialect{services: map[*flow.State]string{}}}
}

// lang is a query language.
type lang uint8

const (
	jsonPath lang = iota
	jsonataMode
)

// loader builds the workflow of one file.
type loader struct {
	file     string
	probs    flow.Problems
	routines *map[string]flow.Routine
	dialect  *dialect
}

func (l *loader) pos(line int) flow.Pos { return flow.Pos{File: l.file, Line: line} }

func (l *loader) problemAt(line int, format string, args ...any) {
	l.probs = append(l.probs, flow.Problem{Pos: l.pos(line), Message: fmt.Sprintf(format, args...)})
}

// fields reports the keys of an object that are not in allowed.
func (l *loader) fields(n *Node, where string, allowed ...string) {
	for _, k := range n.keys {
		if !slices.Contains(allowed, k) {
			l.problemAt(n.keyLine(k), "%s: unknown field %q", where, k)
		}
	}
}

// workflowOf builds the workflow of a document; it keeps the document as
// its Definition.
func (l *loader) workflowOf(name string, root *Node) *flow.Workflow {
	if !root.isObject() {
		l.problemAt(root.line, "a state machine must be a JSON object")
		return nil
	}
	w := &flow.Workflow{Name: name, Pos: l.pos(root.line), Dialect: l.dialect, Definition: root}
	l.fields(root, "state machine", "Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage")
	lg := l.queryLanguage(root, jsonPath, "state machine")
	if v, ok := l.number(root, "TimeoutSeconds", "state machine"); ok {
		w.Timeout = time.Duration(v) * time.Second
	}
	if v := root.get("Version"); v != nil {
		if s, ok := v.value.(string); ok {
			w.Version = s
		}
	}
	m := l.machine(root, lg, "state machine")
	if m != nil {
		w.Machine = *m
	}
	return w
}

// queryLanguage reads a QueryLanguage field, or keeps the inherited one.
func (l *loader) queryLanguage(n *Node, inherited lang, where string) lang {
	v := n.get("QueryLanguage")
	if v == nil {
		return inherited
	}
	switch v.value {
	case "JSONPath":
		if inherited == jsonataMode {
			l.problemAt(n.keyLine("QueryLanguage"), "%s: QueryLanguage JSONPath inside a JSONata state machine is not allowed", where)
		}
		return jsonPath
	case "JSONata":
		return jsonataMode
	}
	l.problemAt(n.keyLine("QueryLanguage"), "%s: QueryLanguage must be JSONPath or JSONata", where)
	return inherited
}

// machine builds StartAt and States (the body, a branch or an item
// processor).
func (l *loader) machine(n *Node, lg lang, where string) *flow.Machine {
	m := &flow.Machine{Pos: l.pos(n.line), States: map[string]*flow.State{}}
	start := n.get("StartAt")
	if s, ok := start.valueString(); ok {
		m.Start, m.StartPos = s, l.pos(n.keyLine("StartAt"))
	} else {
		l.problemAt(n.line, "%s: StartAt must name a state", where)
	}
	states := n.get("States")
	if !states.isObject() {
		l.problemAt(n.line, "%s: States must be an object of states", where)
		return m
	}
	for _, name := range states.keys {
		if len(name) == 0 || len(name) > 80 {
			l.problemAt(states.keyLine(name), "%s: state name %q must have 1 to 80 characters", where, name)
		}
		st := l.state(name, states.field[name], states.keyLine(name), lg)
		if st != nil {
			m.States[name] = st
			m.Order = append(m.Order, name)
		}
	}
	return m
}

func (n *Node) valueBool() (bool, bool) {
	if n == nil {
		return false, false
	}
	b, ok := n.value.(bool)
	return b, ok
}

func (n *Node) valueString() (string, bool) {
	if n == nil {
		return "", false
	}
	s, ok := n.value.(string)
	return s, ok
}

// stateFields are the fields each state type may have, in either mode.
var stateFields = map[string][]string{
	"Pass":     {"InputPath", "Parameters", "Result", "ResultPath", "OutputPath", "Output"},
	"Task":     {"Resource", "InputPath", "Parameters", "Arguments", "ResultSelector", "ResultPath", "OutputPath", "Output", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"},
	"Choice":   {"Choices", "Default", "InputPath", "OutputPath", "Output"},
	"Wait":     {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath", "OutputPath", "Output"},
	"Succeed":  {"InputPath", "OutputPath", "Output"},
	"Fail":     {"Error", "ErrorPath", "Cause", "CausePath"},
	"Parallel": {"Branches", "InputPath", "Parameters", "Arguments", "ResultSelector", "ResultPath", "OutputPath", "Output", "Retry", "Catch"},
	"Map": {"ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters", "MaxConcurrency", "MaxConcurrencyPath",
		"ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
		"ItemReader", "ResultWriter", "ItemBatcher", "Label", "InputPath", "ResultSelector", "ResultPath", "OutputPath", "Output", "Retry", "Catch"},
}

var kindOf = map[string]flow.Kind{"Pass": flow.Pass, "Task": flow.Task, "Choice": flow.Choice, "Wait": flow.Wait,
	"Succeed": flow.Succeed, "Fail": flow.Fail, "Parallel": flow.Parallel, "Map": flow.Map}

// JSONPath-only and JSONata-only fields: using one in the other mode is
// a mistake worth naming.
var (
	jsonPathOnly = []string{"InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "ItemsPath",
		"SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
		"ToleratedFailurePercentagePath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "Result", "Iterator"}
	jsonataOnly = []string{"Arguments", "Output", "Items"}
)

func (l *loader) state(name string, n *Node, line int, inherited lang) *flow.State {
	where := fmt.Sprintf("state %q", name)
	if !n.isObject() {
		l.problemAt(line, "%s must be an object", where)
		return nil
	}
	typ, _ := n.get("Type").valueString()
	kind, ok := kindOf[typ]
	if !ok {
		l.problemAt(n.keyLine("Type"), "%s: Type %q is not one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map", where, typ)
		return nil
	}
	lg := l.queryLanguage(n, inherited, where)
	allowed := append([]string{"Type", "Comment", "QueryLanguage", "Next", "End", "Assign"}, stateFields[typ]...)
	l.fields(n, where, allowed...)
	for _, k := range n.keys {
		switch {
		case lg == jsonataMode && slices.Contains(jsonPathOnly, k):
			l.problemAt(n.keyLine(k), "%s: %s is a JSONPath field; in JSONata mode use Arguments, Output and Assign", where, k)
		case lg == jsonPath && slices.Contains(jsonataOnly, k):
			l.problemAt(n.keyLine(k), "%s: %s is a JSONata field; set QueryLanguage to JSONata to use it", where, k)
		}
	}
	st := &flow.State{Name: name, Kind: kind, Pos: l.pos(line)}
	info := &stateInfo{name: name, retryable: kind == flow.Task || kind == flow.Parallel || kind == flow.Map}
	s := &stateBuild{l: l, n: n, st: st, info: info, lang: lg, where: where}
	s.transition(typ)
	switch kind {
	case flow.Pass:
		s.pass()
	case flow.Task:
		s.task()
	case flow.Choice:
		s.choice()
	case flow.Wait:
		s.wait()
	case flow.Succeed:
		s.succeed()
	case flow.Fail:
		s.fail()
	case flow.Parallel:
		s.parallel()
	case flow.Map:
		s.mapState()
	}
	return st
}

// stateBuild carries what building one state needs.
type stateBuild struct {
	l     *loader
	n     *Node
	st    *flow.State
	info  *stateInfo
	lang  lang
	where string
}

func (s *stateBuild) problem(key string, format string, args ...any) {
	s.l.problemAt(s.n.keyLine(key), "%s: "+format, append([]any{s.where}, args...)...)
}

// transition reads Next and End.
func (s *stateBuild) transition(typ string) {
	next, hasNext := s.n.get("Next").valueString()
	end := s.n.get("End")
	switch typ {
	case "Choice", "Succeed", "Fail":
		if s.n.get("Next") != nil || end != nil {
			s.problem("Type", "a %s state has no Next or End", typ)
		}
		return
	}
	isEnd := end != nil && end.value == true
	switch {
	case hasNext && isEnd:
		s.problem("End", "has both Next and End")
	case s.n.get("Next") != nil && !hasNext:
		s.problem("Next", "Next must name a state")
	case !hasNext && !isEnd:
		s.problem("Type", "needs Next or \"End\": true")
	}
	s.st.Next = next
}

// path reads a path field; null is reported by isNull.
func (s *stateBuild) path(key string) (p *path, isNull bool) {
	v := s.n.get(key)
	if v == nil {
		return nil, false
	}
	if v.value == nil {
		return nil, true
	}
	str, ok := v.value.(string)
	if !ok {
		s.problem(key, "%s must be a path string or null", key)
		return nil, false
	}
	p, err := parsePath(str)
	if err != nil {
		s.problem(key, "%s: %v", key, err)
		return nil, false
	}
	return p, false
}

// referencePath reads a path that must select one place (ResultPath).
func (s *stateBuild) referencePath(key string) (*path, bool) {
	p, isNull := s.path(key)
	if p != nil && (!p.isReference() || p.root != rootInput) {
		s.problem(key, "%s %q must be a reference path into the state's input ($, $.a.b, $.a[0])", key, p.src)
		return nil, false
	}
	return p, isNull
}

func (s *stateBuild) template(key string) template {
	v := s.n.get(key)
	if v == nil {
		return nil
	}
	return s.l.compileTemplate(v, s.where+", "+key)
}

func (s *stateBuild) jtemplate(key string) jtemplate {
	v := s.n.get(key)
	if v == nil {
		return nil
	}
	return s.l.compileJSONata(v, s.where+", "+key)
}

// assign reads Assign in either mode.
func (s *stateBuild) assignTemplates() (template, jtemplate) {
	v := s.n.get("Assign")
	if v == nil {
		return nil, nil
	}
	return s.l.assignOf(v, s.lang, s.where)
}

// assignOf compiles an Assign object: variable names to values.
func (l *loader) assignOf(v *Node, lg lang, where string) (template, jtemplate) {
	if !v.isObject() {
		l.problemAt(v.line, "%s: Assign must be an object of variables", where)
		return nil, nil
	}
	for _, k := range v.keys {
		name := strings.TrimSuffix(k, ".$")
		if lg == jsonataMode {
			name = k
		}
		if !validVarName(name) {
			l.problemAt(v.keyLine(k), "%s, Assign: %q is not a valid variable name", where, name)
		}
	}
	if lg == jsonataMode {
		return nil, l.compileJSONata(v, where+", Assign")
	}
	return l.compileTemplate(v, where+", Assign"), nil
}

// jpInputOf builds InputPath and Parameters.
func (s *stateBuild) jpInputOf(withParams bool) flow.Expr {
	x := &jpInput{st: s.info, withParams: withParams}
	x.inputPath, x.nullInput = s.path("InputPath")
	if withParams {
		x.params = s.template("Parameters")
	}
	return x
}

// finishOf builds the state's Finish in its mode.
func (s *stateBuild) finishOf(withResult bool) flow.Finisher {
	jpAssign, jaAssign := s.assignTemplates()
	if s.lang == jsonataMode {
		return &jaFinish{st: s.info, output: s.jtemplate("Output"), assign: jaAssign}
	}
	f := &jpFinish{st: s.info, assign: jpAssign, withResult: withResult}
	if withResult {
		f.selector = s.template("ResultSelector")
		f.resultPath, f.discard = s.referencePath("ResultPath")
	}
	f.outputPath, f.nullOutput = s.path("OutputPath")
	return f
}

func (s *stateBuild) pass() {
	if s.lang == jsonPath {
		if r := s.n.get("Result"); r != nil {
			// The Result is the result: AWS does not read the input for
			// it (InputPath and Parameters are not applied).
			s.st.Value, s.st.HasValue = r.value, true
		} else {
			s.st.Input = s.jpInputOf(true)
		}
	}
	s.st.Finish = s.finishOf(true)
}

func (s *stateBuild) task() {
	resource, ok := s.n.get("Resource").valueString()
	if !ok {
		s.problem("Type", "a Task needs a Resource string")
	}
	name, invoke := routineOf(resource)
	if invoke {
		s.st.Routine = invoker{routines: s.l.routines}
	} else {
		s.st.RoutineName = name
	}
	if invoke || strings.HasPrefix(resource, "arn:aws:lambda:") {
		s.l.dialect.services[s.st] = "lambda"
	}
	if s.lang == jsonataMode {
		if a := s.jtemplate("Arguments"); a != nil {
			s.st.Input = &jaInput{st: s.info, args: a}
		}
	} else {
		s.st.Input = s.jpInputOf(true)
	}
	s.st.Finish = s.finishOf(true)
	s.st.Timeout, s.st.TimeoutFrom = s.seconds("TimeoutSeconds")
	s.st.Heartbeat, s.st.HeartbeatFrom = s.seconds("HeartbeatSeconds")
	s.retryCatch()
}

// seconds reads TimeoutSeconds or HeartbeatSeconds (key): a number, a
// JSONata expression, or the Path form of the key, read at run time.
func (s *stateBuild) seconds(key string) (time.Duration, flow.Expr) {
	v, pv := s.n.get(key), s.n.get(key+"Path")
	if v != nil && pv != nil {
		s.problem(key, "has both %s and %sPath", key, key)
	}
	switch {
	case pv != nil:
		if p, _ := s.path(key + "Path"); p != nil {
			return 0, &secondsField{st: s.info, field: key + "Path", p: p}
		}
	case v != nil:
		if str, ok := v.value.(string); ok && isExpr(str) && s.lang == jsonataMode {
			return 0, &secondsField{st: s.info, field: key, j: s.jtemplate(key)}
		}
		f, ok := v.value.(float64)
		if !ok || f < 1 || f != math.Trunc(f) || f > maxTaskSeconds {
			s.problem(key, "%s must be a whole number of seconds from 1 to %d", key, maxTaskSeconds)
			return 0, nil
		}
		return time.Duration(f) * time.Second, nil
	}
	return 0, nil
}

// retryCatch reads Retry and Catch.
func (s *stateBuild) retryCatch() {
	if r := s.n.get("Retry"); r != nil {
		if r.items == nil {
			s.problem("Retry", "Retry must be an array of retriers")
		}
		for i, it := range r.items {
			s.st.Retry = append(s.st.Retry, s.retrier(it, fmt.Sprintf("%s, Retry[%d]", s.where, i)))
		}
	}
	if c := s.n.get("Catch"); c != nil {
		if c.items == nil {
			s.problem("Catch", "Catch must be an array of catchers")
		}
		for i, it := range c.items {
			s.st.Catch = append(s.st.Catch, s.catcher(it, fmt.Sprintf("%s, Catch[%d]", s.where, i)))
		}
	}
}

func (s *stateBuild) errorEquals(n *Node, where string) []string {
	v := n.get("ErrorEquals")
	var out []string
	if v == nil || v.items == nil || len(v.items) == 0 {
		s.l.problemAt(n.line, "%s: ErrorEquals must be a non-empty array of error names", where)
		return nil
	}
	for i, it := range v.items {
		e, ok := it.value.(string)
		if !ok {
			s.l.problemAt(it.line, "%s: ErrorEquals must hold strings", where)
			continue
		}
		if e == flow.ErrAll && (len(v.items) > 1 || i > 0) {
			s.l.problemAt(it.line, "%s: States.ALL must appear alone in ErrorEquals", where)
		}
		out = append(out, e)
	}
	return out
}

func (s *stateBuild) retrier(n *Node, where string) flow.Retrier {
	r := flow.DefaultRetrier
	r.Pos = s.l.pos(n.line)
	if !n.isObject() {
		s.l.problemAt(n.line, "%s must be an object", where)
		return r
	}
	s.l.fields(n, where, "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment")
	r.Errors = s.errorEquals(n, where)
	r.Match = matcher(r.Errors)
	if v, ok := s.l.number(n, "IntervalSeconds", where); ok {
		if v < 1 {
			s.l.problemAt(n.keyLine("IntervalSeconds"), "%s: IntervalSeconds must be a positive integer", where)
		}
		r.Interval = time.Duration(v) * time.Second
	}
	if v, ok := s.l.number(n, "MaxAttempts", where); ok {
		r.MaxAttempts = int(v)
	}
	if v := n.get("BackoffRate"); v != nil {
		f, ok := v.value.(float64)
		if !ok || f < 1 {
			s.l.problemAt(n.keyLine("BackoffRate"), "%s: BackoffRate must be a number of 1.0 or more", where)
		}
		r.Backoff = f
	}
	if v, ok := s.l.number(n, "MaxDelaySeconds", where); ok {
		r.MaxDelay = time.Duration(v) * time.Second
	}
	if v := n.get("JitterStrategy"); v != nil {
		switch v.value {
		case "FULL":
			r.FullJitter = true
		case "NONE":
		default:
			s.l.problemAt(n.keyLine("JitterStrategy"), "%s: JitterStrategy must be FULL or NONE", where)
		}
	}
	return r
}

func (s *stateBuild) catcher(n *Node, where string) flow.Catcher {
	c := flow.Catcher{Pos: s.l.pos(n.line)}
	if !n.isObject() {
		s.l.problemAt(n.line, "%s must be an object", where)
		return c
	}
	s.l.fields(n, where, "ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment")
	c.Errors = s.errorEquals(n, where)
	c.Match = matcher(c.Errors)
	next, ok := n.get("Next").valueString()
	if !ok {
		s.l.problemAt(n.line, "%s: Next must name a state", where)
	}
	c.Next = next
	var jpAssign template
	var jaAssign jtemplate
	if a := n.get("Assign"); a != nil {
		jpAssign, jaAssign = s.l.assignOf(a, s.lang, where)
	}
	if s.lang == jsonataMode {
		var out jtemplate
		if o := n.get("Output"); o != nil {
			out = s.l.compileJSONata(o, where+", Output")
		}
		c.Finish = &jaFinish{st: s.info, output: out, assign: jaAssign, extra: "errorOutput"}
		return c
	}
	f := &jpCatch{st: s.info, assign: jpAssign}
	sub := &stateBuild{l: s.l, n: n, st: s.st, info: s.info, lang: s.lang, where: where}
	f.resultPath, f.discard = sub.referencePath("ResultPath")
	c.Finish = f
	return c
}

func (s *stateBuild) choice() {
	choices := s.n.get("Choices")
	if choices == nil || choices.items == nil || len(choices.items) == 0 {
		s.problem("Type", "a Choice needs a non-empty Choices array")
	} else {
		for i, it := range choices.items {
			where := fmt.Sprintf("%s, Choices[%d]", s.where, i)
			if !it.isObject() {
				s.l.problemAt(it.line, "%s must be an object", where)
				continue
			}
			r := flow.Rule{Pos: s.l.pos(it.line)}
			next, ok := it.get("Next").valueString()
			if !ok {
				s.l.problemAt(it.line, "%s: Next must name a state", where)
			}
			r.Next = next
			if s.lang == jsonataMode {
				s.l.fields(it, where, "Condition", "Next", "Output", "Assign", "Comment")
				cs, isStr := it.get("Condition").valueString()
				c := &cond{st: s.info}
				if b, isBool := it.get("Condition").valueBool(); isBool {
					// A literal boolean decides alone, as on AWS.
					c.always = &b
					r.When = c
				} else if !isStr {
					s.l.problemAt(it.line, "%s: a JSONata rule needs a Condition", where)
					continue
				} else if isExpr(cs) {
					x, err := compileExpr(cs)
					if err != nil {
						s.l.problemAt(it.keyLine("Condition"), "%s: %v", where, err)
						continue
					}
					c.expr = x
					r.When = c
				} else {
					s.l.problemAt(it.keyLine("Condition"), "%s: Condition must be a JSONata expression {%% ... %%} or a boolean", where)
					continue
				}
			} else {
				r.When = s.l.compileCond(it, s.info, where, true)
			}
			if it.get("Assign") != nil || it.get("Output") != nil {
				sub := &stateBuild{l: s.l, n: it, st: s.st, info: s.info, lang: s.lang, where: where}
				r.Finish = sub.finishOf(false)
				if s.lang == jsonPath {
					// A rule's Assign comes with the state's OutputPath.
					f := r.Finish.(*jpFinish)
					f.outputPath, f.nullOutput = s.path("OutputPath")
				}
			}
			s.st.Rules = append(s.st.Rules, r)
		}
	}
	if d, ok := s.n.get("Default").valueString(); ok {
		s.st.Default = d
	}
	if s.lang == jsonPath {
		s.st.Input = s.jpInputOf(false)
	}
	s.st.Finish = s.finishOf(false)
}

func (s *stateBuild) wait() {
	w := &waitUntil{st: s.info}
	n := 0
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		v := s.n.get(k)
		if v == nil {
			continue
		}
		n++
		str, isStr := v.value.(string)
		switch {
		case s.lang == jsonataMode && isStr && isExpr(str):
			t := s.l.compileJSONata(v, s.where+", "+k)
			if k == "Seconds" {
				w.jSeconds = t
			} else {
				w.jStamp = t
			}
		case k == "Seconds":
			f, ok := v.value.(float64)
			if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				s.problem(k, "Seconds must be a non-negative integer")
			}
			s.st.WaitFor = time.Duration(f) * time.Second
			if f == 0 {
				w.fixed = nil
				s.st.Until = &waitUntil{st: s.info, jSeconds: jconst{0.0}}
			}
		case k == "Timestamp":
			t, err := parseTimestamp(str)
			if err != nil {
				s.problem(k, "Timestamp %q is not an ISO-8601 date-time with a zone", str)
			}
			w.fixed = &t
		default:
			p, _ := s.path(k)
			if k == "SecondsPath" {
				w.seconds = p
			} else {
				w.timestamp = p
			}
		}
	}
	if n != 1 {
		s.problem("Type", "a Wait needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
	}
	if s.st.WaitFor == 0 && s.st.Until == nil {
		s.st.Until = w
	}
	if s.lang == jsonPath {
		s.st.Input = s.jpInputOf(false)
	}
	s.st.Finish = s.finishOf(false)
}

func (s *stateBuild) succeed() {
	if s.lang == jsonataMode {
		if o := s.jtemplate("Output"); o != nil {
			s.st.Output = &jaExpr{st: s.info, t: o, field: "Output"}
		}
		return
	}
	s.st.Input = s.jpInputOf(false)
	f := jpFinish{st: s.info}
	f.outputPath, f.nullOutput = s.path("OutputPath")
	if f.outputPath != nil || f.nullOutput {
		s.st.Output = &jpOutput{f: f}
	}
}

func (s *stateBuild) fail() {
	if s.lang == jsonPath {
		s.st.Input = s.jpInputOf(false)
	}
	for _, k := range []string{"Error", "Cause"} {
		var e flow.Expr
		v := s.n.get(k)
		pv := s.n.get(k + "Path")
		if v != nil && pv != nil {
			s.problem(k, "has both %s and %sPath", k, k)
		}
		switch {
		case v != nil:
			str, ok := v.value.(string)
			if !ok {
				s.problem(k, "%s must be a string", k)
			}
			if s.lang == jsonataMode && isExpr(str) {
				e = &jaExpr{st: s.info, t: s.l.compileJSONata(v, s.where+", "+k), field: k}
			} else {
				e = flow.Const{Value: str}
			}
		case pv != nil:
			str, _ := pv.value.(string)
			if isIntrinsic(str) {
				c, err := parseCall(str)
				if err != nil {
					s.problem(k+"Path", "%v", err)
					continue
				}
				e = &callTextExpr{st: s.info, c: c, field: k + "Path"}
			} else if p, _ := s.path(k + "Path"); p != nil {
				e = &failText{st: s.info, p: p, field: k + "Path"}
			}
		}
		if k == "Error" {
			s.st.Error = e
		} else {
			s.st.Cause = e
		}
	}
}

func (s *stateBuild) parallel() {
	b := s.n.get("Branches")
	if b == nil || b.items == nil || len(b.items) == 0 {
		s.problem("Type", "a Parallel needs a non-empty Branches array")
	} else {
		for i, it := range b.items {
			where := fmt.Sprintf("%s, Branches[%d]", s.where, i)
			if !it.isObject() {
				s.l.problemAt(it.line, "%s must be an object", where)
				continue
			}
			s.l.fields(it, where, "StartAt", "States", "Comment", "QueryLanguage")
			s.st.Branches = append(s.st.Branches, s.l.machine(it, s.l.queryLanguage(it, s.lang, where), where))
		}
	}
	if s.lang == jsonataMode {
		if a := s.jtemplate("Arguments"); a != nil {
			s.st.Input = &jaInput{st: s.info, args: a}
		}
	} else {
		s.st.Input = s.jpInputOf(true)
	}
	s.st.Finish = s.finishOf(true)
	s.retryCatch()
}

func (s *stateBuild) mapState() {
	proc := s.n.get("ItemProcessor")
	key := "ItemProcessor"
	if proc == nil {
		proc, key = s.n.get("Iterator"), "Iterator"
	}
	if !proc.isObject() {
		s.problem("Type", "a Map needs an ItemProcessor (or Iterator) object")
	} else {
		where := s.where + ", " + key
		s.l.fields(proc, where, "StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage")
		s.st.Iterator = s.l.machine(proc, s.l.queryLanguage(proc, s.lang, where), where)
	}
	for _, k := range []string{"ItemReader", "ResultWriter", "ItemBatcher"} {
		if s.n.get(k) != nil {
			s.problem(k, "%s (reading items from or writing results to S3, batching) is not supported", k)
		}
	}
	m := &mapItems{st: s.info, jsonata: s.lang == jsonataMode}
	if s.lang == jsonataMode {
		m.jItems = s.jtemplate("Items")
		m.jSelector = s.jtemplate("ItemSelector")
		s.st.Input = nil
	} else {
		s.st.Input = s.jpInputOf(false)
		m.itemsPath, _ = s.path("ItemsPath")
		m.selector = s.template("ItemSelector")
		if m.selector == nil {
			m.selector = s.template("Parameters")
		}
	}
	s.st.Items = m
	s.mapLimits()
	s.st.Finish = s.finishOf(true)
	s.retryCatch()
}

// mapLimits reads MaxConcurrency and ToleratedFailureCount and
// ToleratedFailurePercentage: numbers become the state's own limits, and
// any Path or JSONata form makes a Limiter that reads them all at run
// time.
func (s *stateBuild) mapLimits() {
	lim := &mapLimits{st: s.info}
	dynamic := false
	for i, k := range []string{"MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"} {
		f := &lim.fields[i]
		f.name = k
		v, pv := s.n.get(k), s.n.get(k+"Path")
		if v != nil && pv != nil {
			s.problem(k, "has both %s and %sPath", k, k)
		}
		switch {
		case pv != nil:
			f.p, _ = s.path(k + "Path")
			dynamic = dynamic || f.p != nil
		case v == nil:
		case s.lang == jsonataMode && isExprValue(v):
			f.j, dynamic = s.jtemplate(k), true
		default:
			n, ok := v.value.(float64)
			switch {
			case !ok || n < 0 || i < 2 && (n != math.Trunc(n) || n > math.MaxInt32):
				s.problem(k, "%s must be a non-negative integer", k)
			case i == 2 && n > 100:
				s.problem(k, "ToleratedFailurePercentage must be between 0 and 100")
			}
			f.set, f.value = true, n
		}
	}
	s.st.MaxConcurrency, s.st.Tolerance = lim.static()
	if dynamic {
		s.st.Limits = lim
	}
}

// isExprValue reports whether a field's value is a JSONata expression.
func isExprValue(v *Node) bool {
	str, ok := v.value.(string)
	return ok && isExpr(str)
}

// number reads a non-negative whole-number field; ok is false when absent
// or wrong (which is reported).
func (l *loader) number(n *Node, key, where string) (float64, bool) {
	v := n.get(key)
	if v == nil {
		return 0, false
	}
	if s, ok := v.value.(string); ok && isExpr(s) {
		return 0, false // JSONata; evaluated at run time
	}
	f, ok := v.value.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		l.problemAt(n.keyLine(key), "%s: %s must be a non-negative integer", where, key)
		return 0, false
	}
	return f, true
}
