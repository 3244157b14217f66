package main

import (
	"net/http"
	"sync"
)

// The Magento-style endpoints the XML scenarios of examples/xml call: the
// small example run, and an order placement whose payment step a second
// module catches and a third replaces. Bodies are the scenario's data
// under the step's inputPath; answers are placed at its outputPath.

// paymentException is the error name a declined payment answers with: the
// PHP exception a Magento payment gateway throws, which the scenario's
// <catch exception="..."> names.
const paymentException = `Magento\Payment\Gateway\Command\CommandException`

// mailbox keeps the e-mails the observer step sent, so a test can see it ran.
type mailbox struct {
	mu   sync.Mutex
	sent []any
}

func (s *shop) magentoRoutes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /rest/V1/example/step1", s.exampleStep1)
	mux.HandleFunc("PUT /rest/V1/example/step2", s.exampleStep2)
	mux.HandleFunc("PUT /rest/V1/orders/payment", s.placePayment("magento"))
	mux.HandleFunc("PUT /rest/V1/vendor/payment", s.placePayment("vendor"))
	mux.HandleFunc("PUT /rest/V1/orders", s.persistOrder)
	mux.HandleFunc("PUT /rest/V1/orders/payment-failure", s.paymentFailure)
	mux.HandleFunc("POST /rest/V1/orders/email", s.sendEmail)
	mux.HandleFunc("GET /rest/V1/orders/email", s.sentEmails)
}

// exampleStep1 gets params/foo and answers what the scenario keeps at
// params/bar.
func (s *shop) exampleStep1(w http.ResponseWriter, r *http.Request) {
	var foo struct {
		Value float64 `json:"value"`
	}
	if !s.read(w, r, &foo) {
		return
	}
	reply(w, http.StatusOK, map[string]any{"value": foo.Value * 10, "from": "step1"})
}

// exampleStep2 gets params/bar; the scenario does not keep its answer.
func (s *shop) exampleStep2(w http.ResponseWriter, r *http.Request) {
	var bar map[string]any
	if !s.read(w, r, &bar) {
		return
	}
	reply(w, http.StatusOK, map[string]any{"checked": bar["from"] == "step1"})
}

// placePayment charges the order and answers it with its payment; the
// declined test card raises the gateway's exception, and the flaky one
// answers 503 twice per Idempotency-Key (the scenario retries it).
func (s *shop) placePayment(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var o map[string]any
		if !s.read(w, r, &o) {
			return
		}
		card, _ := o["card"].(string)
		key, try := r.Header.Get("Idempotency-Key"), 0
		if card == cardFlaky {
			s.mu.Lock()
			s.tries[key]++
			try = s.tries[key]
			s.mu.Unlock()
		}
		switch {
		case card == cardDeclined:
			reply(w, http.StatusBadRequest, map[string]any{"error": paymentException, "cause": "the card was declined"})
			return
		case card == cardFlaky && try <= flakyFails:
			http.Error(w, "the payment gateway is briefly unavailable", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		s.payments++
		n := s.payments
		s.mu.Unlock()
		o["payment"] = map[string]any{"provider": provider, "status": "paid", "transaction": n}
		reply(w, http.StatusOK, o)
	}
}

func (s *shop) persistOrder(w http.ResponseWriter, r *http.Request) {
	var o map[string]any
	if !s.read(w, r, &o) {
		return
	}
	o["status"] = "saved"
	reply(w, http.StatusOK, o)
}

func (s *shop) paymentFailure(w http.ResponseWriter, r *http.Request) {
	var o map[string]any
	if !s.read(w, r, &o) {
		return
	}
	o["status"] = "payment_failed"
	reply(w, http.StatusOK, o)
}

func (s *shop) sendEmail(w http.ResponseWriter, r *http.Request) {
	var o map[string]any
	if !s.read(w, r, &o) {
		return
	}
	s.mail.mu.Lock()
	s.mail.sent = append(s.mail.sent, o)
	s.mail.mu.Unlock()
	s.log.Info("email: order confirmation sent", "order", o["id"], "to", str(o["email"]))
	reply(w, http.StatusOK, map[string]any{"sent": true})
}

// sentEmails lists the e-mails sent so far.
func (s *shop) sentEmails(w http.ResponseWriter, _ *http.Request) {
	s.mail.mu.Lock()
	defer s.mail.mu.Unlock()
	reply(w, http.StatusOK, map[string]any{"sent": append([]any{}, s.mail.sent...)})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
