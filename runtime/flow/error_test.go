package flow

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
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

func TestBoundedError(t *testing.T) {
	small := &Error{Name: "Payment.Declined", Cause: "card"}
	if small.Bounded(MaxErrorCause) != small {
		t.Fatal("an error within bounds must come back as it is")
	}
	// A multi-byte character straddles every cut: no half characters.
	name := strings.Repeat("é", MaxErrorName)
	cause := strings.Repeat("€", 1<<20)
	b := (&Error{Name: name, Cause: cause}).Bounded(1000)
	if len(b.Name) > MaxErrorName || !utf8.ValidString(b.Name) || !strings.HasPrefix(name, b.Name) {
		t.Errorf("name cut to %d bytes, valid %v", len(b.Name), utf8.ValidString(b.Name))
	}
	want := fmt.Sprintf("… [cut: %d bytes in all]", len(cause))
	if len(b.Cause) > 1000 || !utf8.ValidString(b.Cause) || !strings.HasSuffix(b.Cause, want) ||
		!strings.HasPrefix(cause, strings.TrimSuffix(b.Cause, want)) {
		t.Errorf("cause cut to %d bytes: ...%q", len(b.Cause), b.Cause[len(b.Cause)-40:])
	}
	if tiny := BoundCause(cause, 10); len(tiny) > 10 || !utf8.ValidString(tiny) {
		t.Errorf("a bound too small for the marker gave %q", tiny)
	}
}
