package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// The tests call shopd through the real http routine, so they also check
// that its answers turn into the error names the example workflow matches.
func setup(t *testing.T) (string, *httpcall.Client) {
	srv := httptest.NewServer(newShop(slog.New(slog.NewTextHandler(io.Discard, nil))).routes())
	t.Cleanup(srv.Close)
	return srv.URL, httpcall.NewClient()
}

func post(t *testing.T, c *httpcall.Client, url, key string, input any) (any, error) {
	t.Helper()
	r, err := httpcall.New(c, httpcall.Spec{Method: "POST", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return r.Call(context.Background(), input, &flow.Context{Instance: "i1", IdempotencyKey: key, Attempt: 1})
}

func errName(err error) string {
	var fe *flow.Error
	if errors.As(err, &fe) {
		return fe.Name
	}
	return ""
}

// num reads a number of an answer, which a routine hands on as written.
func num(v any) float64 {
	f, ok := flow.Number(v)
	if !ok {
		return math.NaN()
	}
	return f
}

func orderInput(id, card string, amount float64) map[string]any {
	return map[string]any{"order": map[string]any{"id": id, "amount": amount, "card": card}}
}

func TestAuthorize(t *testing.T) {
	base, c := setup(t)
	url := base + "/payments/authorize"

	got, err := post(t, c, url, "i1/Authorize/1", orderInput("o1", "4242", 50))
	if p, _ := got.(map[string]any); err != nil || num(p["risk"]) != 0.1 || p["id"] == nil || num(p["amount"]) != 50 {
		t.Fatalf("small order: %v, %v", got, err)
	}
	got, _ = post(t, c, url, "i2/Authorize/1", orderInput("o1", "4242", 5000))
	if p, _ := got.(map[string]any); num(p["risk"]) != 0.9 {
		t.Fatalf("large order: %v", got)
	}

	_, err = post(t, c, url, "i3/Authorize/1", orderInput("o1", cardDeclined, 50))
	if errName(err) != "Payment.Declined" {
		t.Fatalf("declined card: %v", err)
	}

	for try := 1; try <= flakyFails; try++ {
		if _, err := post(t, c, url, "i4/Authorize/1", orderInput("o1", cardFlaky, 50)); errName(err) != "Http.503" {
			t.Fatalf("flaky card, try %d: %v", try, err)
		}
	}
	if _, err := post(t, c, url, "i4/Authorize/1", orderInput("o1", cardFlaky, 50)); err != nil {
		t.Fatalf("flaky card after %d failures: %v", flakyFails, err)
	}
}

func TestOrdersDeduplicate(t *testing.T) {
	base, c := setup(t)
	first, err := post(t, c, base+"/orders", "i1/Save/1", orderInput("o1", "4242", 50))
	if err != nil || first.(map[string]any)["order_id"] != "o1" {
		t.Fatalf("save: %v, %v", first, err)
	}
	// Same key, other body: a duplicate is answered, not saved again.
	again, _ := post(t, c, base+"/orders", "i1/Save/1", orderInput("o2", "4242", 50))
	if again.(map[string]any)["order_id"] != "o1" {
		t.Fatalf("a repeated call got %v, want the first answer %v", again, first)
	}
	if other, _ := post(t, c, base+"/orders", "i2/Save/1", orderInput("o3", "4242", 50)); other.(map[string]any)["order_id"] != "o3" {
		t.Fatalf("another key saved %v", other)
	}
}

func TestNotify(t *testing.T) {
	base, c := setup(t)
	got, err := post(t, c, base+"/notify", "i1/Notify/1", map[string]any{"to": "x"})
	if err != nil || got.(map[string]any)["sent"] != true {
		t.Fatalf("notify: %v, %v", got, err)
	}
}
