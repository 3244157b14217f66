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
		f, isNum := v.(float64)
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
		f, isNum := v.(float64)
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
// ItemsPath (or JSONata Items) and ItemSelector (or Parameters). It also
// checks the state's dynamic settings, which must be valid even though
// the number of items running at once does not change the result.
type mapItems struct {
	st         *stateInfo
	itemsPath  *path     // nil: $
	jItems     jtemplate // JSONata Items; nil: the input
	selector   template
	jSelector  jtemplate
	jsonata    bool
	concurPath *path
	countPath  *path
	pctPath    *path
	jCount     jtemplate
	jPct       jtemplate
	jConcur    jtemplate
}

func (m *mapItems) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: m.st}
	var items []any
	if m.jsonata {
		states, err := e.statesVar(data, "", nil)
		if err != nil {
			return nil, err
		}
		v := data
		if m.jItems != nil {
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
		for _, t := range []struct {
			t     jtemplate
			field string
		}{{m.jConcur, "MaxConcurrency"}, {m.jCount, "ToleratedFailureCount"}, {m.jPct, "ToleratedFailurePercentage"}} {
			if t.t == nil {
				continue
			}
			v, err := t.t.eval(e, states, t.field)
			if err != nil {
				return nil, err
			}
			if f, ok := v.(float64); !ok || f < 0 || t.field != "ToleratedFailurePercentage" && f != math.Trunc(f) {
				return nil, queryError(c, "The %s field must be a non-negative number, but was: %s", t.field, compact(v))
			}
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
			}
			return nil, runtimeError(c, "Reference path \"%s\" must point to array.", src)
		}
		items = arr
		if err := m.checkPaths(e); err != nil {
			return nil, err
		}
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
	return out, nil
}

// checkPaths validates MaxConcurrencyPath and ToleratedFailure*Path.
func (m *mapItems) checkPaths(e *env) error {
	for _, p := range []struct {
		p     *path
		field string
		float bool
	}{{m.concurPath, "MaxConcurrencyPath", false}, {m.countPath, "ToleratedFailureCountPath", false}, {m.pctPath, "ToleratedFailurePercentagePath", true}} {
		if p.p == nil {
			continue
		}
		v, err := e.required(p.p)
		if err != nil {
			return err
		}
		f, ok := v.(float64)
		if str, isStr := v.(string); isStr {
			// Numbers given as text count, as AWS reads them.
			f, ok = parseNumber(str)
		}
		if !ok || !p.float && f != math.Trunc(f) {
			kind := "integer"
			if p.float {
				kind = "float"
			}
			return runtimeError(e.c, "The %s field refers to value \"%s\" which is not a valid %s: %s", p.field, javaText(v), kind, p.p.src)
		}
		if p.float && (f < 0 || f > 100) {
			return runtimeError(e.c, "ToleratedFailurePercentage must be between 0 and 100.")
		}
		if !p.float && f < 0 {
			return runtimeError(e.c, "The %s field refers to value \"%s\" which is not a valid integer: %s", p.field, javaText(v), p.p.src)
		}
	}
	return nil
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
