package flow

import (
	"errors"
	"fmt"
	"testing"
)

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		matchers []string
		name     string
		want     bool
	}{
		{[]string{"Payment.Declined"}, "Payment.Declined", true},
		{[]string{"Payment.Declined"}, "Payment.DeclinedHard", false},
		{[]string{"Payment.Declined"}, "payment.declined", false},
		{[]string{ErrAll}, "Anything.At.All", true},
		{[]string{ErrAll}, ErrRuntime, true},
		{[]string{"Other", ErrAll}, "X", true},
		{[]string{"Http.5*"}, "Http.503", true},
		{[]string{"Http.5*"}, "Http.500", true},
		{[]string{"Http.5*"}, "Http.404", false},
		{[]string{"Http.5*"}, "Http.", false},
		{[]string{"Http.*"}, ErrHTTPConnection, true},
		{[]string{"*"}, "X", true},
		{[]string{"States.Timeout", "Http.5*"}, "Http.502", true},
		{[]string{"States.Timeout", "Http.5*"}, ErrTimeout, true},
		{[]string{"States.Timeout", "Http.5*"}, ErrTaskFailed, false},
		{nil, "X", false},
		{[]string{}, ErrAll, false},
	} {
		if got := Matches(tc.matchers, tc.name); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.matchers, tc.name, got, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	if got := (&Error{Name: "A.B"}).Error(); got != "A.B" {
		t.Errorf("without cause: %q", got)
	}
	if got := (&Error{Name: "A.B", Cause: "why"}).Error(); got != "A.B: why" {
		t.Errorf("with cause: %q", got)
	}
	e := Errorf(ErrRuntime, "path %s in %q", "$.x", "S")
	if e.Name != ErrRuntime || e.Cause != `path $.x in "S"` {
		t.Errorf("Errorf = %+v", e)
	}
}

func TestAsError(t *testing.T) {
	if got := AsError(nil, ErrTaskFailed); got != nil {
		t.Errorf("AsError(nil) = %v, want nil", got)
	}
	named := &Error{Name: "Payment.Declined", Cause: "card"}
	if got := AsError(named, ErrTaskFailed); got != named {
		t.Errorf("a named error came back as %+v", got)
	}
	wrapped := fmt.Errorf("call payments: %w", named)
	if got := AsError(wrapped, ErrTaskFailed); got != named {
		t.Errorf("a wrapped named error came back as %+v", got)
	}
	got := AsError(errors.New("boom"), ErrTaskFailed)
	if got.Name != ErrTaskFailed || got.Cause != "boom" {
		t.Errorf("a plain error came back as %+v", got)
	}
	if got := AsError(errors.New("bad"), ErrRuntime); got.Name != ErrRuntime {
		t.Errorf("fallback ignored: %+v", got)
	}
}
