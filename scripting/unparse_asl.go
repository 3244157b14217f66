package scripting

import (
	"fmt"
	"math"
	"strings"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Writing an ASL state machine as a Lua workflow with language = "asl":
// the inverse of aslflow.go. Every field of the document is written, the
// structure in the DSL's words and the rest in asl tables, so that the
// script reads back to the same document (a Map's legacy Iterator comes
// back as the ItemProcessor it means).

// builderOf names the DSL builder of each ASL state type.
var builderOf = map[string]string{"Task": "task", "Pass": "pass", "Choice": "choice", "Wait": "wait",
	"Succeed": "succeed", "Fail": "fail", "Parallel": "parallel", "Map": "map"}

// aslWorkflow writes w, compiled from the ASL document doc.
func (u *unparser) aslWorkflow(out *strings.Builder, w *flow.Workflow, doc *asl.Node) {
	for _, m := range w.Machines {
		for _, st := range m.States {
			if st.RoutineName != "" {
				u.routines[st.RoutineName] = true
			}
		}
	}
	fmt.Fprintf(out, "workflow %s {\n  language = %s,\n", luaString(w.Name), luaString(LanguageASL))
	if w.Mode == flow.Express {
		out.WriteString("  mode = \"express\",\n")
	}
	lw := &luaWriter{out: out}
	rest := lw.take(doc, map[string]func(*asl.Node) (string, bool){
		"QueryLanguage":  str("query_language"),
		"Version":        str("version"),
		"TimeoutSeconds": seconds("timeout"),
	}, "  ")
	lw.machine(doc, rest, "  ")
	out.WriteString("}\n\n")
}

// luaWriter writes the parts of an ASL document.
type luaWriter struct{ out *strings.Builder }

// mapping writes an ASL field as a DSL field when the value fits it (ok).
type mapping = func(*asl.Node) (string, bool)

func str(name string) mapping {
	return func(n *asl.Node) (string, bool) {
		s, ok := n.Value().(string)
		return name + " = " + luaString(s), ok
	}
}

func num(name string) mapping {
	return func(n *asl.Node) (string, bool) {
		f, ok := n.Value().(float64)
		return name + " = " + number(f), ok
	}
}

// seconds writes a whole number of seconds as a duration.
func seconds(name string) mapping {
	return func(n *asl.Node) (string, bool) {
		f, ok := n.Value().(float64)
		return fmt.Sprintf("%s = \"%ss\"", name, number(f)), ok && f >= 0 && f == math.Trunc(f)
	}
}

// take writes the fields of n that mappings name and fit, and returns the
// keys left, in order.
func (lw *luaWriter) take(n *asl.Node, mappings map[string]mapping, indent string) []string {
	var rest []string
	for _, k := range n.Keys() {
		if m := mappings[k]; m != nil {
			if s, ok := m(n.Get(k)); ok {
				fmt.Fprintf(lw.out, "%s%s,\n", indent, s)
				continue
			}
		}
		rest = append(rest, k)
	}
	return rest
}

// extra writes the keys left (but skip) as the asl table.
func (lw *luaWriter) extra(n *asl.Node, keys []string, indent string, skip ...string) {
	var fields []string
	for _, k := range keys {
		if !contains(skip, k) {
			fields = append(fields, k)
		}
	}
	if len(fields) == 0 {
		return
	}
	fmt.Fprintf(lw.out, "%sasl = {\n", indent)
	for _, k := range fields {
		fmt.Fprintf(lw.out, "%s  %s = %s,\n", indent, luaKey(k), luaNode(n.Get(k), indent+"  "))
	}
	fmt.Fprintf(lw.out, "%s},\n", indent)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// machine writes the asl table, start and states of a machine (a
// workflow, a branch or an iterator) whose other fields are written.
func (lw *luaWriter) machine(doc *asl.Node, keys []string, indent string) {
	lw.extra(doc, keys, indent, "StartAt", "States")
	if s, ok := doc.Get("StartAt").Value().(string); ok {
		fmt.Fprintf(lw.out, "%sstart = %s,\n", indent, luaString(s))
	}
	states := doc.Get("States")
	if states == nil {
		return
	}
	fmt.Fprintf(lw.out, "%sstates = {\n", indent)
	for _, name := range states.Keys() {
		lw.state(name, states.Get(name), indent+"  ")
	}
	fmt.Fprintf(lw.out, "%s},\n", indent)
}

// state writes one state.
func (lw *luaWriter) state(name string, n *asl.Node, indent string) {
	typ, _ := n.Get("Type").Value().(string)
	fmt.Fprintf(lw.out, "%s%s = %s {\n", indent, luaKey(name), builderOf[typ])
	in := indent + "  "
	maps := map[string]mapping{"Type": func(*asl.Node) (string, bool) { return "", false }}
	switch typ {
	case "Task":
		maps["Resource"] = str("routine")
		maps["TimeoutSeconds"] = seconds("timeout")
	case "Wait":
		maps["Seconds"] = num("seconds")
	case "Fail":
		maps["Error"], maps["Cause"] = str("error"), str("cause")
	case "Map":
		maps["MaxConcurrency"] = num("max_concurrency")
	case "Choice":
		maps["Default"] = str("default")
	}
	maps["Next"] = str("next")
	rest := lw.take(n, maps, in)
	var left []string
	for _, k := range rest {
		v := n.Get(k)
		switch {
		case k == "Type" || k == "End":
		case k == "Result" && typ == "Pass":
			fmt.Fprintf(lw.out, "%svalue = %s,\n", in, luaNode(v, in))
		case k == "Choices" && typ == "Choice":
			for _, r := range v.Items() {
				lw.entry(r, in, map[string]mapping{"Next": str("next")})
			}
		case k == "Branches" && typ == "Parallel" && v.IsArray():
			fmt.Fprintf(lw.out, "%sbranches = {\n", in)
			for _, b := range v.Items() {
				fmt.Fprintf(lw.out, "%s  {\n", in)
				lw.machine(b, b.Keys(), in+"    ")
				fmt.Fprintf(lw.out, "%s  },\n", in)
			}
			fmt.Fprintf(lw.out, "%s},\n", in)
		case (k == "ItemProcessor" || k == "Iterator") && typ == "Map" && v.IsObject():
			fmt.Fprintf(lw.out, "%siterator = {\n", in)
			lw.machine(v, v.Keys(), in+"  ")
			fmt.Fprintf(lw.out, "%s},\n", in)
		case (k == "Retry" || k == "Catch") && v.IsArray():
			fmt.Fprintf(lw.out, "%s%s = {\n", in, strings.ToLower(k))
			for _, e := range v.Items() {
				lw.entry(e, in+"  ", map[string]mapping{"ErrorEquals": errorsField, "Next": str("next"),
					"MaxAttempts": num("max_attempts"), "IntervalSeconds": seconds("interval"),
					"BackoffRate": num("backoff"), "MaxDelaySeconds": seconds("max_delay"), "JitterStrategy": jitter})
			}
			fmt.Fprintf(lw.out, "%s},\n", in)
		default:
			left = append(left, k)
		}
	}
	lw.extra(n, left, in)
	fmt.Fprintf(lw.out, "%s},\n", indent)
}

// entry writes a choice rule, a retrier or a catcher as a table of its
// mapped fields and an asl table of the rest.
func (lw *luaWriter) entry(n *asl.Node, indent string, maps map[string]mapping) {
	fmt.Fprintf(lw.out, "%s{\n", indent)
	rest := lw.take(n, maps, indent+"  ")
	lw.extra(n, rest, indent+"  ")
	fmt.Fprintf(lw.out, "%s},\n", indent)
}

func errorsField(n *asl.Node) (string, bool) {
	var names []string
	for _, it := range n.Items() {
		s, ok := it.Value().(string)
		if !ok {
			return "", false
		}
		names = append(names, s)
	}
	return "errors = " + luaStrings(names), n.IsArray() && len(names) > 0
}

func jitter(n *asl.Node) (string, bool) {
	s, _ := n.Value().(string)
	return "jitter = " + luaString(strings.ToLower(s)), s == "FULL" || s == "NONE"
}

// luaNode writes a JSON value as the Lua value the DSL reads back to it:
// json.null for null, json.array({}) for an empty array, objects with
// their keys in order; short values on one line.
func luaNode(n *asl.Node, indent string) string {
	if one := luaInline(n); len(one) <= 72 || !n.IsObject() && !n.IsArray() {
		return one
	}
	var b strings.Builder
	in := indent + "  "
	b.WriteString("{\n")
	if n.IsObject() {
		for _, k := range n.Keys() {
			fmt.Fprintf(&b, "%s%s = %s,\n", in, luaKey(k), luaNode(n.Get(k), in))
		}
	} else {
		for _, it := range n.Items() {
			fmt.Fprintf(&b, "%s%s,\n", in, luaNode(it, in))
		}
	}
	b.WriteString(indent + "}")
	return b.String()
}

func luaInline(n *asl.Node) string {
	switch {
	case n.IsObject():
		if len(n.Keys()) == 0 {
			return "{}"
		}
		parts := make([]string, 0, len(n.Keys()))
		for _, k := range n.Keys() {
			parts = append(parts, luaKey(k)+" = "+luaInline(n.Get(k)))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case n.IsArray():
		if len(n.Items()) == 0 {
			return "json.array({})"
		}
		parts := make([]string, 0, len(n.Items()))
		for _, it := range n.Items() {
			parts = append(parts, luaInline(it))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case n.Value() == nil:
		return "json.null"
	}
	return luaValue(n.Value())
}
