package diagram

import "github.com/orbit-sidecar/orbit/store"

// Trail is what an instance did, machine by machine, read from its history
// and its children's: the path taken, the states entered and how often,
// where errors were retried or ended a machine, and where the instance is
// now. Mark draws it on a diagram.
type Trail struct {
	machines map[string]*machineTrail
}

type machineTrail struct {
	started bool
	visits  map[string]int
	marks   map[string]Mark
	steps   map[step]bool
	ended   map[string]bool // states after which the machine ended well
}

// step is a move from one state to the next; caught when a catch made it.
type step struct {
	from, to string
	caught   bool
}

// Add reads the history of one run of a machine: an instance's own (key
// "") or that of a child running a parallel branch or a map item (key: the
// child's machine). status and state are the run's as they are now, which
// says where it is. Runs of the same machine (the items of a map) add up.
func (t *Trail) Add(machine string, events []store.Event, status store.Status, state string) {
	if t.machines == nil {
		t.machines = map[string]*machineTrail{}
	}
	mt := t.machines[machine]
	if mt == nil {
		mt = &machineTrail{visits: map[string]int{}, marks: map[string]Mark{}, steps: map[step]bool{}, ended: map[string]bool{}}
		t.machines[machine] = mt
	}
	prev, caught := "", false
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case store.EventStateEntered:
			mt.started = true
			if prev != "" {
				mt.steps[step{prev, ev.State, caught}] = true
			}
			mt.visits[ev.State]++
			mt.marks[ev.State] |= Visited
			prev, caught = ev.State, false
		case store.EventTaskRetryScheduled:
			mt.marks[ev.State] |= Retried
		case store.EventErrorCaught:
			mt.marks[ev.State] |= Failed
			caught = true
		case store.EventExecutionSucceeded:
			if prev != "" {
				mt.ended[prev] = true
			}
			prev = ""
		case store.EventExecutionFailed, store.EventExecutionTimedOut:
			if s := ev.State; s != "" {
				mt.marks[s] |= Failed
			} else if prev != "" {
				mt.marks[prev] |= Failed
			}
			prev = "" // a redrive enters the failed state again: no step
		case store.EventExecutionCancelled:
			prev = ""
		}
	}
	if !status.Terminal() && state != "" {
		mt.marks[state] |= Current
	}
}

// Mark draws the trail on the diagram: marks and visit counts on nodes,
// taken edges. Where two edges join the same states the same way (two
// choice rules to one state), the first is marked: the history does not
// say which rule matched.
func (d *Diagram) Mark(t *Trail) {
	d.Marked = true
	d.Walk(func(c *Cluster) {
		mt := t.machines[c.Key]
		if mt == nil {
			return
		}
		for _, n := range c.Nodes {
			switch n.Marker {
			case StartMarker:
				if mt.started {
					n.Mark |= Visited
				}
			case EndMarker:
				if len(mt.ended) > 0 {
					n.Mark |= Visited
				}
			default:
				if !n.Observer {
					n.Mark |= mt.marks[n.Name]
					n.Visits += mt.visits[n.Name]
				}
			}
		}
		used := map[step]bool{}
		for _, e := range c.Edges {
			switch {
			case e.From.Marker == StartMarker:
				e.Taken = mt.started
			case e.To.Marker == EndMarker:
				e.Taken = mt.ended[e.From.Name]
			case e.Style == Dotted: // to an observer
			default:
				s := step{e.From.Name, e.To.Name, e.Style == Dashed}
				if mt.steps[s] && !used[s] {
					e.Taken, used[s] = true, true
				}
			}
		}
	})
}
