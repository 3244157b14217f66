package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// The console's browser test drives the real console of a real `orbit
// serve` in headless Chromium (Debian's chromium package, over the
// DevTools protocol). `make test` installs Chromium when it is missing and
// sets ORBIT_REQUIRE_BROWSER, so that a machine without it fails rather
// than skips. With ORBIT_UPDATE_SCREENSHOTS=1 the test also writes the
// README's pictures to docs/images, so that they always show the console
// as it is.

// chromiumFlags are what Chromium needs here: headless in a container as
// root, and quiet on a closed network, where any attempt to reach out
// (updates, sync, QUIC probes) hangs until it times out.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("mute-audio", true),
	chromedp.WindowSize(1280, 900),
}

// chromium finds the browser: ORBIT_CHROMIUM, or chromium on the PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORBIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ORBIT_REQUIRE_BROWSER") != "" {
		t.Fatal("Chromium is not installed (apt-get install -y chromium, or make test, which does it)")
	}
	t.Skip("Chromium is not installed; make test installs it")
	return ""
}

// browser is one headless Chromium tab on the console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // http://addr/ui/

	mu     sync.Mutex
	thrown []string // exceptions nothing in the page caught
}

// startBrowser starts Chromium in the background, since it takes a few
// seconds that the sidecar's start can share; the function it returns
// waits for it and opens a tab on base.
func startBrowser(t *testing.T) func(base string) *browser {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir())}, chromiumFlags...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	started := make(chan error, 1)
	// The first action starts the browser and ties it to its context: that
	// one runs without a deadline, or the browser would end with it.
	go func() { started <- chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
	return func(base string) *browser {
		t.Helper()
		select {
		case err := <-started:
			if err != nil {
				t.Fatalf("start Chromium: %v", err)
			}
		case <-time.After(6 * orbittest.Timeout):
			t.Fatal("Chromium did not start within a minute")
		}
		b := &browser{t: t, ctx: ctx, base: base}
		messages := chromedp.Console(ctx)
		go func() {
			for m, err := range messages {
				if err != nil {
					return
				}
				if m.IsException() {
					b.mu.Lock()
					b.thrown = append(b.thrown, m.String())
					b.mu.Unlock()
				}
			}
		}()
		return b
	}
}

// noExceptions fails the test when a script of the page threw and nothing
// caught it: the console must not break where the test does not look.
func (b *browser) noExceptions() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.thrown {
		b.t.Errorf("the page threw: %s", e)
	}
}

// do runs actions with a deadline, failing the test with what it was
// doing when they fail.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*orbittest.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript condition on the page to hold.
func (b *browser) until(what, js string) {
	b.t.Helper()
	b.do("wait for "+what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(2*orbittest.Timeout)))
}

// text reads an element's text.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*orbittest.Timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) open(hash string) {
	b.t.Helper()
	b.do("open "+hash, chromedp.Navigate(b.base+hash))
}

// screenshot writes the viewport to docs/images/name when
// ORBIT_UPDATE_SCREENSHOTS is set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("ORBIT_UPDATE_SCREENSHOTS") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 2*orbittest.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	writeImage(b.t, name, png)
}

func writeImage(t *testing.T, name string, data []byte) {
	t.Helper()
	if len(data) > 1<<20 {
		t.Fatalf("%s is %d bytes: pictures in git stay under 1 MiB", name, len(data))
	}
	path := filepath.Join("..", "..", "docs", "images", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// copyDir copies the example scripts, so that the test can break them.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		orbittest.WriteFile(t, filepath.Join(to, e.Name()), string(body))
	}
}

// TestConsoleInBrowser drives the console of a sidecar that serves the
// example order workflow behind a token: the token prompt, the list with
// its counts, an instance with its diagram and timeline, sending an event,
// cancelling another and seeing both statuses change, and a load problem
// after a broken reload.
func TestConsoleInBrowser(t *testing.T) {
	newBrowser := startBrowser(t) // skips, or fails under make test, without Chromium
	shop := startShopd(t)
	scripts := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "scripts"), scripts)
	s := serve(t, []string{"SHOP_URL=" + shop, "ORBIT_SCRIPT_ENV=SHOP_URL"}, filepath.Join(t.TempDir(), "orbit.db"),
		"--scripts", scripts, "--plugins", t.TempDir(), "--token", "s3cret")
	s.token = "s3cret"

	order := func(id string, amount int, card string) string {
		return fmt.Sprintf(`{"order":{"id":%q,"amount":%d,"card":%q,"items":[{"sku":"tea","qty":2}]}}`, id, amount, card)
	}
	s.start("place_order", "?id=o-1001&wait=10s", order("o-1001", 120, "4242-4242-4242-4242")).must(t, 200)
	s.start("place_order", "?id=o-1002&wait=10s", order("o-1002", 80, "4000-0000-0000-0002")).must(t, 200)
	s.start("place_order", "?id=o-1003", order("o-1003", 1500, "4242-4242-4242-4242")).must(t, 201)
	s.start("place_order", "?id=o-1004", order("o-1004", 1800, "4000-0000-0000-0119")).must(t, 201)
	s.start("place_order", "?id=o-1005", order("o-1005", 2400, "4242-4242-4242-4242")).must(t, 201)
	for _, id := range []string{"o-1003", "o-1004", "o-1005"} {
		s.waitsFor(id, "event")
	}

	b := newBrowser("http://" + s.addr + "/ui/")

	// The sidecar runs with --token: the console asks for it.
	b.open("#/instances")
	b.until("the token prompt", `document.querySelector('#token-dialog').open`)
	b.do("enter the token", chromedp.SendKeys(chromedp.CSS("#token-input"), "s3cret"))
	b.click(`#token-form button[type=submit]`)

	// The list: every instance, with counts by status.
	b.until("five rows", `document.querySelectorAll('tr[data-id]').length === 5`)
	b.until("the counts", `document.querySelector('[data-status-tab=ALL] .count')?.textContent === '5' &&
		document.querySelector('[data-status-tab=WAITING] .count')?.textContent === '3' &&
		document.querySelector('[data-status-tab=FAILED] .count')?.textContent === '1'`)
	b.screenshot("console-list.png")

	// A filter by status narrows the list to what the tab counts.
	b.click(`[data-status-tab=WAITING]`)
	b.until("the waiting ones only", `document.querySelectorAll('tr[data-id]').length === 3 &&
		[...document.querySelectorAll('tr[data-id] [data-status]')].every(e => e.dataset.status === 'WAITING')`)

	// One instance: its diagram marks the path, the retried step and
	// where it waits; the timeline has each step with its attempts.
	b.click(`tr[data-id="o-1004"] a`)
	b.until("the instance page", `document.querySelector('h1[data-instance="o-1004"]')`)
	b.until("the diagram", `document.querySelector('.diagram svg g.node.current[data-state="Review"]') &&
		document.querySelector('.diagram svg g.node.retried[data-state="Authorize"]') &&
		document.querySelector('.diagram svg path.edge.taken')`)
	b.until("the timeline", `document.querySelector('.step[data-state="Authorize"] [data-attempts="3"]') &&
		document.querySelector('.step[data-state="Route"][data-outcome="ok"]') &&
		document.querySelector('.step[data-state="Review"][data-outcome="current"]')`)
	if w := b.text(".waiting"); !strings.Contains(w, "Waiting for the event review.completed") {
		t.Errorf("waiting says %q", w)
	}
	b.screenshot("console-instance.png")
	svg := s.do("GET", "/v1/instances/o-1004/graph?format=svg", "").must(t, 200)
	if os.Getenv("ORBIT_UPDATE_SCREENSHOTS") != "" {
		writeImage(t, "instance-graph.svg", svg.body)
	}

	// Send the event it waits for, with a payload typed in the editor.
	b.click(`[data-action=send]`)
	b.until("the event name filled in", `document.querySelector('[data-form=send] input').value === 'review.completed'`)
	b.do("type the payload over the one proposed",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-form=send] textarea').select()`),
		chromedp.SendKeys(chromedp.CSS(`[data-form=send] textarea`), `{"approved": true}`))
	b.until("the editor to accept it", `document.querySelector('[data-form=send] .status').textContent === 'Valid JSON.'`)
	b.click(`[data-form=send] button[type=submit]`)
	b.until("the instance to succeed", `document.querySelector('.head [data-status]')?.dataset.status === 'SUCCEEDED'`)
	b.until("the rest of its path", `document.querySelector('.step[data-state="Done"]') &&
		document.querySelector('.diagram svg g.node.visited[data-state="Notify"]')`)
	if a := s.do("GET", "/v1/instances/o-1004", "").must(t, 200); a.str("status") != "SUCCEEDED" {
		t.Fatalf("after the event the API says %s", a.body)
	}

	// Cancel another: the button asks for a second click.
	b.open("#/instances/o-1005")
	b.until("o-1005 waiting", `document.querySelector('h1[data-instance="o-1005"]') && document.querySelector('.head [data-status]')?.dataset.status === 'WAITING'`)
	b.click(`[data-action=cancel]`)
	b.until("the cancel to ask again", `document.querySelector('[data-action=cancel]').classList.contains('armed')`)
	b.click(`[data-action=cancel]`)
	b.until("the instance to be cancelled", `document.querySelector('.head [data-status]')?.dataset.status === 'CANCELLED'`)
	s.status("o-1005", "CANCELLED")

	// The list's counts follow.
	b.open("#/instances")
	b.until("the new counts", `document.querySelector('[data-status-tab=CANCELLED] .count')?.textContent === '1' &&
		document.querySelector('[data-status-tab=SUCCEEDED] .count')?.textContent === '2' &&
		document.querySelector('[data-status-tab=WAITING] .count')?.textContent === '1'`)

	// A broken reload: the banner says so on any page, and the workflows
	// page names the problem at its file and line.
	orbittest.WriteFile(t, filepath.Join(scripts, "zz_broken.lua"), "workflow \"broken\" {\n  start = \"Nowhere\",\n  states = { A = succeed {} },\n}\n")
	b.until("the reload banner", `!document.querySelector('#problems-banner').hidden`)
	b.click(`#problems-banner a`)
	b.until("the problem", `[...document.querySelectorAll('[data-problems] .where')].some(e => /^zz_broken\.lua:\d+$/.test(e.textContent))`)
	b.until("the workflow still served", `document.querySelector('[data-workflow="place_order"] svg')`)
	b.noExceptions()
}
