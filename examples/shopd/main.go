// Command shopd is the downstream of the example order workflow: one small
// HTTP service standing in for the payments, orders and notifications
// services, so the example bundle runs end to end on one machine. Under
// /rest/V1/ it also stands in for the Magento services the XML scenarios of
// examples/xml call.
//
//	go run ./examples/shopd -listen 127.0.0.1:7078
//
// It shows what a service behind Orbit has to do: name its business errors
// in the body ({"error": "Payment.Declined", "cause": ...}), and use the
// Idempotency-Key header to drop duplicate calls.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// Test cards that make the payments endpoint misbehave on purpose.
const (
	cardDeclined = "4000-0000-0000-0002" // always declined: shows a catch
	cardFlaky    = "4000-0000-0000-0119" // 503 twice per key, then fine: shows a retry
	flakyFails   = 2
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7078", "address to serve on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	log.Info("shopd listening", "addr", *listen)
	if err := http.ListenAndServe(*listen, newShop(log).routes()); err != nil {
		log.Error("shopd stopped", "err", err)
		os.Exit(1)
	}
}

// shop is the in-memory state of the three stand-in services.
type shop struct {
	log      *slog.Logger
	mu       sync.Mutex
	payments int                       // payments authorized so far, for ids
	tries    map[string]int            // flaky-card authorize calls per Idempotency-Key
	orders   map[string]map[string]any // saved answers by Idempotency-Key
	mail     mailbox
}

func newShop(log *slog.Logger) *shop {
	return &shop{log: log, tries: map[string]int{}, orders: map[string]map[string]any{}}
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments/authorize", s.authorize)
	mux.HandleFunc("POST /orders", s.saveOrder)
	mux.HandleFunc("POST /notify", s.notify)
	s.magentoRoutes(mux)
	return mux
}

// order is the part of a request body the services look at. Authorize
// accepts either {order: {...}} or the order itself, so the workflow may
// pass "$" or "$.order" as the task input.
type order struct {
	ID     any     `json:"id"`
	Amount float64 `json:"amount"`
	Card   string  `json:"card"`
}

func (s *shop) authorize(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Order *order `json:"order"`
		order
	}
	if !s.read(w, r, &body) {
		return
	}
	o := body.order
	if body.Order != nil {
		o = *body.Order
	}
	key, try := r.Header.Get("Idempotency-Key"), 0
	if o.Card == cardFlaky {
		s.mu.Lock()
		s.tries[key]++
		try = s.tries[key]
		s.mu.Unlock()
	}
	switch {
	case o.Card == cardDeclined:
		reply(w, http.StatusPaymentRequired, map[string]any{"error": "Payment.Declined", "cause": "card declined"})
	case o.Card == cardFlaky && try <= flakyFails:
		s.log.Info("payments: failing on purpose", "try", try, "idempotency_key", key)
		http.Error(w, "payments are briefly unavailable", http.StatusServiceUnavailable)
	default:
		risk := 0.1
		if o.Amount > 1000 {
			risk = 0.9
		}
		s.mu.Lock()
		s.payments++
		id := fmt.Sprintf("pay_%d", s.payments)
		s.mu.Unlock()
		reply(w, http.StatusOK, map[string]any{"id": id, "risk": risk, "amount": o.Amount})
	}
}

// saveOrder stores the body once per Idempotency-Key: a repeated call (a
// retry, or a re-run after a crash) gets the first answer again.
func (s *shop) saveOrder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Order order `json:"order"`
		order
	}
	if !s.read(w, r, &body) {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	id := body.Order.ID
	if id == nil {
		id = body.ID
	}
	s.mu.Lock()
	saved, dup := s.orders[key]
	if !dup {
		saved = map[string]any{"order_id": id, "saved_at": time.Now().UTC().Format(time.RFC3339)}
		if key != "" {
			s.orders[key] = saved
		}
	}
	s.mu.Unlock()
	if dup {
		s.log.Info("orders: duplicate call dropped, answering the first result", "idempotency_key", key, "order_id", id)
	}
	reply(w, http.StatusOK, saved)
}

func (s *shop) notify(w http.ResponseWriter, r *http.Request) {
	var body any
	if !s.read(w, r, &body) {
		return
	}
	s.log.Info("notify: message sent", "body", body)
	reply(w, http.StatusOK, map[string]any{"sent": true})
}

// read logs the request and decodes its JSON body, answering 400 when it
// is not JSON.
func (s *shop) read(w http.ResponseWriter, r *http.Request, into any) bool {
	s.log.Info("request", "method", r.Method, "path", r.URL.Path,
		"idempotency_key", r.Header.Get("Idempotency-Key"), "instance", r.Header.Get("Orbit-Instance"))
	if err := json.NewDecoder(r.Body).Decode(into); err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "Request.Invalid", "cause": err.Error()})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
