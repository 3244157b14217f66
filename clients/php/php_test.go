// Package php holds the PHP client of Orbit's HTTP API (a Composer
// package); its Go test runs the client's PHPUnit tests against the real
// sidecar.
package php

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// TestPHPClient runs tests/ClientTest.php with PHPUnit against two real
// `orbit serve` processes. Without php and phpunit it skips, unless
// ORBIT_REQUIRE_PHP is set, as make test sets it after installing them.
func TestPHPClient(t *testing.T) {
	phpunit, err := exec.LookPath("phpunit")
	if err == nil {
		_, err = exec.LookPath("php")
	}
	if err != nil {
		if os.Getenv("ORBIT_REQUIRE_PHP") != "" {
			t.Fatalf("PHPUnit is required (make test installs php-cli, php-curl and phpunit): %v", err)
		}
		t.Skipf("no PHPUnit here (make test installs it): %v", err)
	}
	env := []string{"ORBIT_SCRIPT_ENV=ONCE_URL", "ONCE_URL=" + failsOnce(t)}
	const token = "php-test-token"
	common := []string{"--scripts", "tests/scripts", "--plugins", t.TempDir(), "--token", token}
	addr := orbittest.Serve(t, env, append(common, "--data", filepath.Join(t.TempDir(), "orbit.db"), "--max-payload", "64KiB")...)
	tight := orbittest.Serve(t, env, append(common, "--data", filepath.Join(t.TempDir(), "orbit.db"), "--max-in-flight", "1")...)

	cmd := exec.Command(phpunit, "--configuration", "phpunit.xml")
	cmd.Env = append(os.Environ(), "ORBIT_URL=http://"+addr, "ORBIT_TIGHT_URL=http://"+tight, "ORBIT_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	t.Logf("phpunit:\n%s", out)
	if err != nil {
		t.Fatalf("phpunit: %v", err)
	}
}

// failsOnce is the downstream of the "flaky" workflow: it answers 500 the
// first time it sees a body and {"ok": true} after, so that a redrive of
// the failed instance succeeds.
func failsOnce(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		again := seen[string(body)]
		seen[string(body)] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !again {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error": "down the first time"}`)
			return
		}
		io.WriteString(w, `{"ok": true}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestEveryErrorCodeHasItsException compares the codes OrbitException maps
// to classes, and the class files, with the table of docs/api.md.
func TestEveryErrorCodeHasItsException(t *testing.T) {
	src, err := os.ReadFile("src/Exception/OrbitException.php")
	if err != nil {
		t.Fatal(err)
	}
	var mapped []string
	for _, m := range regexp.MustCompile(`'([a-z_]+)' => ([A-Za-z]+)::class`).FindAllSubmatch(src, -1) {
		mapped = append(mapped, string(m[1]))
		if _, err := os.Stat(filepath.Join("src/Exception", string(m[2])+".php")); err != nil {
			t.Errorf("code %s maps to %s, which has no file: %v", m[1], m[2], err)
		}
	}
	documented := orbittest.ErrorCodes(t, "../../docs/api.md")
	slices.Sort(mapped)
	if !slices.Equal(mapped, documented) {
		t.Fatalf("OrbitException maps %v, docs/api.md documents %v", mapped, documented)
	}
}
