package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/orbit-sidecar/orbit/client"
	"github.com/orbit-sidecar/orbit/store"
)

// The client's readable output: aligned columns for people. Scripts use
// --json instead, whose shape is the API's.

// writeInstance prints an instance as aligned "key  value" lines, leaving
// out what it does not have.
func writeInstance(w io.Writer, p *client.Instance) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id", p.ID)
	row("key", p.IdempotencyKey)
	row("workflow", p.Workflow)
	row("version", p.Version)
	row("status", string(p.Status))
	row("state", p.State)
	row("waiting", waitingText(p.Waiting))
	row("parent", p.Parent)
	row("started", stamp(p.StartedAt))
	row("updated", stamp(p.UpdatedAt))
	if p.EndedAt != nil {
		row("ended", stamp(*p.EndedAt))
	}
	row("input", string(p.Input))
	row("output", string(p.Output))
	row("error", p.Error)
	row("cause", p.Cause)
	return tw.Flush()
}

// waitingText says in one line what a non-running instance waits for.
func waitingText(w *client.WaitingFor) string {
	if w == nil {
		return ""
	}
	s := string(w.Kind)
	switch w.Kind {
	case client.WaitEvent:
		s += " " + w.Event
	case client.WaitRetry:
		s += " attempt " + strconv.Itoa(w.Attempt) + " after " + w.Error
	case client.WaitChild:
		s += " " + w.Instance
	case client.WaitConcurrency:
		s += " key " + w.Key
	}
	if w.Until != nil {
		s += " until " + stamp(*w.Until)
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return store.FormatTime(t)
}

// writeHistory prints one event a line: seq, time, type, state, details.
func writeHistory(w io.Writer, evs []client.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tSTATE\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, stamp(e.Time), e.Type, e.State, eventDetail(&e))
	}
	return tw.Flush()
}

func eventDetail(e *client.Event) string {
	s := ""
	add := func(k, v string) {
		if v != "" {
			if s != "" {
				s += " "
			}
			s += k + "=" + v
		}
	}
	add("event", e.Event)
	add("child", e.Child)
	add("from", shortVersion(e.FromVersion))
	add("to", shortVersion(e.ToVersion))
	if e.Attempt > 0 {
		add("attempt", strconv.Itoa(e.Attempt))
	}
	if e.DelayMS > 0 {
		add("delay", (time.Duration(e.DelayMS) * time.Millisecond).String())
	}
	add("error", e.Error)
	if e.Cause != "" {
		q := strconv.Quote(e.Cause) // one line, whatever the cause holds
		add("cause", q[1:len(q)-1])
	}
	add("output", string(e.Output))
	return s
}

// writeList prints one instance a line and the cursor of the next page.
func writeList(w io.Writer, l *client.Page) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tSTATE\tSTARTED")
	for _, p := range l.Instances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Workflow, p.Status, p.State, stamp(p.StartedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.NextCursor != "" {
		_, err := fmt.Fprintf(w, "more: orbit list --cursor %s\n", l.NextCursor)
		return err
	}
	return nil
}
