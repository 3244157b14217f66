package main_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBrowserAttacks sends the cross-site request to
// the real binary, then what --allow-host and ORBIT_ALLOW_ORIGIN let in.
func TestServeRefusesBrowserAttacks(t *testing.T) {
	s := serve(t, append([]string{"ORBIT_ALLOW_ORIGIN=http://ops.test:3000"}, noFlaky...),
		filepath.Join(t.TempDir(), "orbit.db"), "--allow-host", "orbit.test")
	send := func(host, origin, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", "http://"+s.addr+"/v1/workflows/echo/instances", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		host, origin, contentType string
		status                    int
		says                      string
	}{
		{"evil.example:7077", "http://evil.example", "text/plain", 403, `"forbidden"`},
		{"", "http://evil.example", "application/json", 403, "--allow-origin"},
		{"", "", "text/plain", 415, `"unsupported_media_type"`},
		{"orbit.test:7077", "", "application/json", 201, `"RUNNING"`},
		{"", "http://ops.test:3000", "application/json", 201, `"RUNNING"`},
	} {
		if status, body := send(c.host, c.origin, c.contentType, `{"a":1}`); status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("Host %q, Origin %q, %s: %d %s; want %d saying %s", c.host, c.origin, c.contentType, status, body, c.status, c.says)
		}
	}
}
