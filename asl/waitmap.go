package asl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// maxWait is the longest delay AWS accepts (2^31-1 seconds).
const maxWait = math.MaxInt32 * time.Second

// waitUntil is a Wait state's SecondsPath, TimestampPath, or JSONata
// Seconds or Timestamp: it yields the RFC 3339 time the wait ends.
type waitUntil struct {
	st        *stateInfo
	seconds   *path     // SecondsPath
	timestamp *path     // TimestampPath
	jSeconds  jtemplate // JSONata Seconds
	jStamp    jtemplate // JSONata Timestamp
	fixed     *time.Time
}

func (w *waitUntil) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: w.st}
	var until time.Time
	switch {
	case w.fixed != nil:
		until = *w.fixed
	case w.seconds != nil:
		v, ok, _, err := e.resolve(w.seconds)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, runtimeError(c, "The SecondsPath parameter does not reference an input value: %s", w.seconds.src)
		}
		f, isNum := flow.Number(v)
		if !isNum || f != math.Trunc(f) || f < 0 {
			return nil, runtimeError(c, "The SecondsPath parameter cannot be parsed as a long value: %s == %s", w.seconds.src, javaText(v))
		}
		if f > float64(math.MaxInt32) {
			return nil, runtimeError(c, "Wait state delay is too long.")
		}
		until = c.Now.Add(time.Duration(f) * time.Second)
	case w.timestamp != nil:
		v, ok, _, err := e.resolve(w.timestamp)
		if err != nil {
			return nil, err
		}
		s, isStr := v.(string)
		t, perr := parseTimestamp(s)
		if !ok || !isStr || perr != nil {
			return nil, runtimeError(c, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s", w.timestamp.src, javaText(v))
		}
		until = t
	case w.jSeconds != nil:
		states, err := e.statesVar(data, "", nil)
		if err != nil {
			return nil, err
		}
		v, err := w.jSeconds.eval(e, states, "Seconds")
		if err != nil {
			return nil, err
		}
		f, isNum := flow.Number(v)
		if !isNum || f != math.Trunc(f) || f < 0 {
			return nil, queryError(c, "The Seconds field must be a non-negative integer, but was: %s", compact(v))
		}
		if f > float64(math.MaxInt32) {
			return nil, runtimeError(c, "Wait state delay is too long.")
		}
		until = c.Now.Add(time.Duration(f) * time.Second)
	case w.jStamp != nil:
		states, err := e.statesVar(data, "", nil)
		if err != nil {
			return nil, err
		}
		v, err := w.jStamp.eval(e, states, "Timestamp")
		if err != nil {
			return nil, err
		}
		s, _ := v.(string)
		t, perr := parseTimestamp(s)
		if perr != nil {
			return nil, queryError(c, "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: %s", javaText(v))
		}
		until = t
	}
	if until.Sub(c.Now) > maxWait {
		return nil, runtimeError(c, "Wait state delay is too long.")
	}
	return until.Format(time.RFC3339Nano), nil
}

// mapItems selects a Map state's items and builds each item's input:
// ItemsPath (or JSONata Items) and ItemSelector (or Parameters).
type mapItems struct {
	st        *stateInfo
	itemsPath *path     // nil: $
	jItems    jtemplate // JSONata Items; nil: the input
	selector  template
	jSelector jtemplate
	jsonata   bool
}

func (m *mapItems) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: m.st}
	var items []any
	if m.jsonata {
		v := data
		if m.jItems != nil {
			states, err := e.statesVar(data, "", nil)
			if err != nil {
				return nil, err
			}
			if v, err = m.jItems.eval(e, states, "Items"); err != nil {
				return nil, err
			}
			arr, ok := v.([]any)
			if !ok {
				src := ""
				if x, isExpr := m.jItems.(jexpr); isExpr {
					src = x.x.src
				}
				return nil, queryError(c, "The JSONata expression '%s' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '%s' for value: %s", src, jsonType(v), compact(v))
			}
			items = arr
		} else {
			arr, ok := v.([]any)
			if !ok {
				return nil, queryError(c, "Map state input must be an array but was: %s", compact(v))
			}
			items = arr
		}
	} else {
		v := data
		if m.itemsPath != nil {
			var err error
			if v, err = e.required(m.itemsPath); err != nil {
				return nil, err
			}
		}
		arr, ok := v.([]any)
		if !ok {
			src := "$"
			if m.itemsPath != nil {
				src = m.itemsPath.src
				if m.itemsPath.root == rootContext {
					src = src[1:] // AWS names the path within the context object
				}
			}
			return nil, runtimeError(c, "Reference path \"%s\" must point to array.", src)
		}
		items = arr
		c.Report(flow.StepAfterItemsPath, items)
	}
	if m.selector == nil && m.jSelector == nil {
		return items, nil
	}
	out := make([]any, len(items))
	for i, it := range items {
		ie := &env{input: data, c: c, st: m.st, item: &mapItem{index: i, value: it}}
		var err error
		if m.jSelector != nil {
			states, serr := ie.statesVar(data, "", nil)
			if serr != nil {
				return nil, serr
			}
			out[i], err = m.jSelector.eval(ie, states, "ItemSelector")
		} else {
			out[i], err = m.selector.eval(ie)
		}
		if err != nil {
			return nil, err
		}
	}
	c.Report(flow.StepAfterItemSelector, out)
	return out, nil
}

// mapLimits is a Map state's MaxConcurrency, ToleratedFailureCount and
// ToleratedFailurePercentage when one of them is read at run time (a Path
// or a JSONata expression): the engine asks it for all three.
type mapLimits struct {
	st     *stateInfo
	fields [3]limitField // MaxConcurrency, ToleratedFailureCount, ToleratedFailurePercentage
}

// limitField is one limit: a number, a path or a JSONata expression.
type limitField struct {
	name  string
	set   bool
	value float64
	p     *path
	j     jtemplate
}

// static is what the numbers alone say.
func (m *mapLimits) static() (int, *flow.Tolerance) {
	var t flow.Tolerance
	concur, count, pct := &m.fields[0], &m.fields[1], &m.fields[2]
	t.Count, t.HasCount = int(count.value), count.set
	t.Percent, t.HasPercent = pct.value, pct.set
	if !t.HasCount && !t.HasPercent {
		return int(concur.value), nil
	}
	return int(concur.value), &t
}

// Limits evaluates the paths and expressions on the state's input.
func (m *mapLimits) Limits(input any, c *flow.Context) (flow.MapLimits, error) {
	e := &env{input: input, c: c, st: m.st}
	var vals [3]float64
	var given [3]bool
	for i := range m.fields {
		f := &m.fields[i]
		float := i == 2
		switch {
		case f.set:
			vals[i], given[i] = f.value, true
		case f.p != nil:
			v, err := e.required(f.p)
			if err != nil {
				return flow.MapLimits{}, err
			}
			n, ok := flow.Number(v)
			if str, isStr := v.(string); isStr {
				// Numbers given as text count, as AWS reads them.
				n, ok = parseNumber(str)
			}
			if !ok || !float && (n != math.Trunc(n) || n < 0) {
				kind := "integer"
				if float {
					kind = "float"
				}
				return flow.MapLimits{}, runtimeError(c, "The %sPath field refers to value \"%s\" which is not a valid %s: %s", f.name, javaText(v), kind, f.p.src)
			}
			if float && (n < 0 || n > 100) {
				return flow.MapLimits{}, runtimeError(c, "ToleratedFailurePercentage must be between 0 and 100.")
			}
			vals[i], given[i] = n, true
		case f.j != nil:
			states, err := e.statesVar(input, "", nil)
			if err != nil {
				return flow.MapLimits{}, err
			}
			v, err := f.j.eval(e, states, f.name)
			if err != nil {
				return flow.MapLimits{}, err
			}
			n, ok := flow.Number(v)
			if !ok || n < 0 || !float && n != math.Trunc(n) || float && n > 100 {
				return flow.MapLimits{}, queryError(c, "The %s field must be a non-negative number, but was: %s", f.name, compact(v))
			}
			vals[i], given[i] = n, true
		}
	}
	lim := flow.MapLimits{MaxConcurrency: int(min(vals[0], math.MaxInt32))}
	if given[1] || given[2] {
		lim.Tolerance = &flow.Tolerance{Count: int(min(vals[1], math.MaxInt32)), HasCount: given[1], Percent: vals[2], HasPercent: given[2]}
	}
	return lim, nil
}

// maxTaskSeconds is the longest TimeoutSeconds or HeartbeatSeconds AWS
// accepts.
const maxTaskSeconds = 99999999

// secondsField is TimeoutSecondsPath or HeartbeatSecondsPath, or the
// JSONata form of TimeoutSeconds or HeartbeatSeconds: a whole number of
// seconds read from the state's input at run time.
type secondsField struct {
	st    *stateInfo
	field string
	p     *path
	j     jtemplate
}

func (x *secondsField) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: x.st}
	var v any
	var err error
	if x.p != nil {
		v, err = e.required(x.p)
	} else {
		var states map[string]any
		if states, err = e.statesVar(data, "", nil); err == nil {
			v, err = x.j.eval(e, states, x.field)
		}
	}
	if err != nil {
		return nil, err
	}
	n, ok := flow.Number(v)
	if ok && n >= 1 && n == math.Trunc(n) && n <= maxTaskSeconds {
		return n, nil
	}
	if x.p != nil {
		return nil, runtimeError(c, "The %s field refers to value \"%s\" which is not a valid integer: %s", x.field, javaText(v), x.p.src)
	}
	return nil, queryError(c, "The %s field must be a positive integer, but was: %s", x.field, compact(v))
}

// failText is a Fail state's ErrorPath or CausePath.
type failText struct {
	st    *stateInfo
	p     *path
	field string
}

func (f *failText) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: f.st}
	v, ok, _, err := e.resolve(f.p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, runtimeError(c, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", f.p.src, f.field, compact(data))
	}
	if s, isStr := v.(string); isStr {
		return s, nil
	}
	return nil, runtimeError(c, "The JSONPath '%s' specified for the field '%s' must point to a string, not %s", f.p.src, f.field, fmt.Sprint(jsonType(v)))
}

// callTextExpr is a Fail state's Error or Cause given as an intrinsic
// function call (ErrorPath / CausePath with States.Format, ...).
type callTextExpr struct {
	st    *stateInfo
	c     *call
	field string
}

func (x *callTextExpr) Eval(data any, c *flow.Context) (any, error) {
	return x.c.eval(&env{input: data, c: c, st: x.st}, x.field)
}

// parseNumber reads a number written as text.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}
