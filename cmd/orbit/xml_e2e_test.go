package main_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startShopd builds and starts the stand-in service of the examples and
// returns the SHOP_URL the XML examples read.
func startShopd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shopd")
	buildShopd(t, bin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-listen", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/rest/V1/orders/email")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("shopd never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emailsSent asks shopd which order e-mails the observer sent.
func emailsSent(t *testing.T, shop string) []map[string]any {
	t.Helper()
	resp, err := http.Get(shop + "/rest/V1/orders/email")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct{ Sent []map[string]any }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out.Sent
}

const placeOrderXML = "Magento:Sales:OrderManagement:placeOrder"

// The design's two scenarios run end to end on the real binary against the
// stand-in service: the small run with `orbit run`, the order placement
// merged from three files with `orbit serve`, its catch, retry, exit and
// observer included.
func TestXMLExamplesEndToEnd(t *testing.T) {
	shop := startShopd(t)
	env := []string{"SHOP_URL=" + shop, "ORBIT_SCRIPT_ENV=SHOP_URL"}

	out, errOut, code := runOrbit(t, env, "run", "../../examples/xml/run", "ExampleRun", "--input", `{"params": {"foo": {"value": 4}}}`)
	if code != 0 || strings.TrimSpace(out) != `{"bar":{"from":"step1","value":40},"foo":{"value":4}}` {
		t.Fatalf("ExampleRun: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = runOrbit(t, env, "graph", "../../examples/xml/order", placeOrderXML, "--format", "mermaid")
	for _, want := range []string{`"PlacePaymentForOrder<br/>task"`, `"SaveOrder<br/>task"`, `"OrderSuccessfullyPlaced<br/>succeed"`,
		`"PaymentFailureHandler<br/>task"`, `[/"SendEmail<br/>observer"/]`, `-.->|"Magento\Payment\Gateway\Command\CommandException"|`, `-.->|"after"|`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("graph lacks %s: exit %d\n%s%s", want, code, out, errOut)
		}
	}

	s := serve(t, env, filepath.Join(t.TempDir(), "orbit.db"), "--scripts", "../../examples/xml/order")
	order := func(id, card string) string {
		return `{"params": {"order": {"id": "` + id + `", "amount": 120, "card": "` + card + `", "email": "ada@example.com"}}}`
	}
	// The vendor's routine pays; the order is saved and e-mailed.
	a := s.start(placeOrderXML, "?wait=20s", order("42", "4242")).must(t, 200)
	if a.str("status") != "SUCCEEDED" || a.output() != `{"amount":120,"card":"4242","email":"ada@example.com","id":"42","payment":{"provider":"vendor","status":"paid","transaction":1},"status":"saved"}` {
		t.Fatalf("good card: %s", a.body)
	}
	// The flaky card fails twice with 503: the retry of 01-sales.xml takes it.
	a = s.start(placeOrderXML, "?wait=20s", order("43", "4000-0000-0000-0119")).must(t, 200)
	if a.str("status") != "SUCCEEDED" || !strings.Contains(a.output(), `"status":"saved"`) {
		t.Fatalf("flaky card: %s", a.body)
	}
	// The declined card is caught by 02-sales-payment.xml and exits through its handler.
	a = s.start(placeOrderXML, "?wait=20s", order("44", "4000-0000-0000-0002")).must(t, 200)
	if a.str("status") != "SUCCEEDED" || a.output() != `{"error":{"cause":"the card was declined","error":"Magento\\Payment\\Gateway\\Command\\CommandException"},"params":{"order":{"amount":120,"card":"4000-0000-0000-0002","email":"ada@example.com","id":"44","status":"payment_failed"}}}` {
		t.Fatalf("declined card: %s", a.body)
	}
	// The observer e-mailed the two saved orders, not the declined one.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sent := emailsSent(t, shop)
		if len(sent) == 2 {
			ids := []any{sent[0]["id"], sent[1]["id"]}
			if !(ids[0] == "42" && ids[1] == "43") && !(ids[0] == "43" && ids[1] == "42") {
				t.Fatalf("e-mails for %v, want 42 and 43", ids)
			}
			break
		}
		if len(sent) > 2 || time.Now().After(deadline) {
			t.Fatalf("e-mails sent: %v", sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// `orbit convert` turns the XML examples into Lua scripts that run to the
// same output as the XML itself, against the same stand-in service.
func TestConvertXMLToLuaRoundTrips(t *testing.T) {
	shop := startShopd(t)
	env := []string{"SHOP_URL=" + shop, "ORBIT_SCRIPT_ENV=SHOP_URL"}
	order := func(id, card string) string {
		return `{"params": {"order": {"id": "` + id + `", "amount": 120, "card": "` + card + `", "email": "ada@example.com"}}}`
	}
	for _, tc := range []struct {
		dir, workflow string
		inputs        []string
	}{
		{"../../examples/xml/run", "ExampleRun", []string{`{"params": {"foo": {"value": 4}}}`}},
		{"../../examples/xml/order", placeOrderXML, []string{order("7", "4242"), order("8", "4000-0000-0000-0002")}},
	} {
		script, errOut, code := runOrbit(t, env, "convert", tc.dir, tc.workflow)
		if code != 0 || !strings.Contains(script, "workflow ") {
			t.Fatalf("convert %s: exit %d\n%s%s", tc.dir, code, script, errOut)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "converted.lua"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, in := range tc.inputs {
			// The stand-in numbers payments, so each side gets its own
			// order id and the answers are compared without it.
			fromXML, e1, c1 := runOrbit(t, env, "run", tc.dir, tc.workflow, "--input", in)
			fromLua, e2, c2 := runOrbit(t, env, "run", dir, tc.workflow, "--input", in)
			if c1 != 0 || c2 != 0 || withoutTransaction(fromXML) != withoutTransaction(fromLua) {
				t.Errorf("%s %s: XML exit %d %q %q, Lua exit %d %q %q", tc.workflow, in, c1, fromXML, e1, c2, fromLua, e2)
			}
		}
	}
	_, errOut, code := runOrbit(t, env, "convert", "../../examples/xml/run", "ExampleRun", "--to", "yaml")
	if code != 2 || !strings.Contains(errOut, "--to yaml") {
		t.Errorf("--to yaml: exit %d, stderr %q", code, errOut)
	}
}

// withoutTransaction drops the payment's transaction number, which
// shopd counts up across calls.
func withoutTransaction(out string) string {
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return out
	}
	if p, ok := v["payment"].(map[string]any); ok {
		delete(p, "transaction")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// buildShopd builds the examples' stand-in service into bin.
func buildShopd(t *testing.T, bin string) {
	t.Helper()
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/shopd").CombinedOutput(); err != nil {
		t.Fatalf("build shopd: %v\n%s", err, out)
	}
}
