package api

import (
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// WorkflowSummary is one entry of GET /v1/workflows.
type WorkflowSummary struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Versions []string `json:"versions"`
	States   []string `json:"states"`
}

// Workflows is the answer of GET /v1/workflows.
type Workflows struct {
	Workflows []WorkflowSummary `json:"workflows"`
	Errors    []string          `json:"errors"`
}

// listWorkflows answers GET /v1/workflows: the current bundle's workflows
// and the problems of the last reload, if it failed.
func (s *Server) listWorkflows(ctx *fasthttp.RequestCtx, _ []string) {
	out := Workflows{Workflows: []WorkflowSummary{}, Errors: []string{}}
	if s.opt.Problems != nil {
		if ps := s.opt.Problems(); ps != nil {
			out.Errors = ps
		}
	}
	if b := s.engine.Bundle(); b != nil {
		versions := s.engine.Versions()
		for _, name := range sortedNames(b) {
			wf := b.Workflows[name]
			out.Workflows = append(out.Workflows, WorkflowSummary{
				Name: name, Version: wf.Version, Versions: versions[name], States: slices.Clone(wf.Order),
			})
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

func sortedNames(b *flow.Bundle) []string {
	names := make([]string, 0, len(b.Workflows))
	for n := range b.Workflows {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Workflow is the answer of GET /v1/workflows/{name}.
type Workflow struct {
	Name     string         `json:"name"`
	Version  string         `json:"version"`
	Versions []string       `json:"versions"`
	Mode     string         `json:"mode"`
	Timeout  string         `json:"timeout,omitempty"`
	Start    string         `json:"start"`
	States   []StateSummary `json:"states"`
}

// StateSummary is one state of a workflow and where it can go next.
type StateSummary struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"`
	Routine     string       `json:"routine,omitempty"`
	Event       string       `json:"event,omitempty"`
	Workflow    string       `json:"workflow,omitempty"`
	Transitions []Transition `json:"transitions"`
	// Branches and Iterator are the sub-machines of parallel and map states.
	Branches []Machine `json:"branches,omitempty"`
	Iterator *Machine  `json:"iterator,omitempty"`
}

// Machine is a parallel branch or map iterator.
type Machine struct {
	Start  string         `json:"start"`
	States []StateSummary `json:"states"`
}

// Transition is one way out of a state: "next", "choice", "default" or
// "catch" (with the errors it catches). A choice rule carries its name and,
// when it is declarative, its condition as text.
type Transition struct {
	To     string   `json:"to"`
	On     string   `json:"on"`
	Rule   string   `json:"rule,omitempty"`
	When   string   `json:"when,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// getWorkflow answers GET /v1/workflows/{name}.
func (s *Server) getWorkflow(ctx *fasthttp.RequestCtx, p []string) {
	wf := s.workflow(ctx, p[0])
	if wf == nil {
		return
	}
	out := Workflow{Name: wf.Name, Version: wf.Version, Versions: s.engine.Versions()[wf.Name], Mode: "durable",
		Start: wf.Start, States: describe(&wf.Machine)}
	if wf.Mode == flow.Express {
		out.Mode = "express"
	}
	if wf.Timeout > 0 {
		out.Timeout = wf.Timeout.String()
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// workflow finds a workflow of the current bundle or answers 404.
func (s *Server) workflow(ctx *fasthttp.RequestCtx, name string) *flow.Workflow {
	if b := s.engine.Bundle(); b != nil {
		if wf := b.Workflows[name]; wf != nil {
			return wf
		}
	}
	writeError(ctx, fasthttp.StatusNotFound, CodeUnknownWorkflow, "unknown workflow "+name)
	return nil
}

func describe(m *flow.Machine) []StateSummary {
	out := make([]StateSummary, 0, len(m.Order))
	for _, name := range m.Order {
		st := m.States[name]
		ss := StateSummary{Name: name, Kind: st.Kind.String(), Routine: st.RoutineName, Event: st.Event,
			Workflow: st.Workflow, Transitions: []Transition{}}
		for _, r := range st.Rules {
			ss.Transitions = append(ss.Transitions, Transition{To: r.Next, On: "choice", Rule: r.Name, When: flow.CondText(r.When)})
		}
		if st.Default != "" {
			ss.Transitions = append(ss.Transitions, Transition{To: st.Default, On: "default"})
		}
		if st.Next != "" {
			ss.Transitions = append(ss.Transitions, Transition{To: st.Next, On: "next"})
		}
		for _, c := range st.Catch {
			ss.Transitions = append(ss.Transitions, Transition{To: c.Next, On: "catch", Errors: c.Errors})
		}
		for _, b := range st.Branches {
			ss.Branches = append(ss.Branches, Machine{Start: b.Start, States: describe(b)})
		}
		if st.Iterator != nil {
			ss.Iterator = &Machine{Start: st.Iterator.Start, States: describe(st.Iterator)}
		}
		out = append(out, ss)
	}
	return out
}
