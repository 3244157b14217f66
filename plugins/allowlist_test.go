package plugins

import "testing"

func TestAllowedHosts(t *testing.T) {
	var rules []hostRule
	for _, s := range []string{"risk.internal:8443", "api.example.com", "*.svc.local:80", "127.0.0.1:9000", "[::1]:7000", "[::2]", "h.local:08080"} {
		r, err := parseHostRule(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		rules = append(rules, r)
	}
	cases := map[string]bool{
		"https://risk.internal:8443/score":  true,
		"http://RISK.internal:8443":         true,
		"https://risk.internal/score":       false, // default port is not 8443
		"https://risk.internal:8444/":       false,
		"https://api.example.com/v1":        true,
		"http://api.example.com/v1":         true,
		"https://api.example.com:8443/v1":   false, // no port: the default only
		"https://evil.com/?api.example.com": false,
		"http://a.svc.local/x":              true,
		"http://a.b.svc.local:80/x":         true,
		"http://svc.local/x":                false,
		"http://127.0.0.1:9000/":            true,
		"http://[::1]:7000/":                true,
		"ftp://api.example.com/":            false,
		"http://[::2]/":                     true, // a bracketed rule without a port
		"http://[::2]:8080/":                false,
		"http://h.local:8080/":              true, // the rule's port is a number, not text
		"http://h.local:08080/":             false,
		"https://user:pw@api.example.com/":  false,
		"not a url at all":                  false,
		// Tricks that hope Orbit's check and the HTTP client read a URL
		// differently; each must be refused.
		"http://api.example.com\\@evil.com/":        false,
		"http://evil.com\\@api.example.com/":        false,
		"http://api.example.com%2f@evil.com/":       false,
		"http://api.example.com:80@evil.com/":       false,
		"http://api.example.com%00.evil.com/":       false,
		"http://api.example.com;evil.com/":          false,
		"http://api.example.com,evil.com/":          false,
		"http://[api.example.com]/":                 false,
		"http://api.example.com./":                  false,
		"http://api.example.com/\r\nHost: evil.com": false,
		"http:api.example.com":                      false,
		"http:///api.example.com":                   false,
		"http://evil.com/..//api.example.com":       false,
	}
	for u, want := range cases {
		if err := allowed(rules, u); (err == nil) != want {
			t.Errorf("allowed(%q) = %v, want allowed %v", u, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]uint64{"16MiB": 16 << 20, "1GiB": 1 << 30, "100KiB": 100 << 10, "1MB": 1e6, "65536": 65536,
		"1B": 1, "4GiB": 4 << 30, "1.5KiB": 1536, "0.5B": 1, " 2 MiB ": 2 << 20}
	for s, want := range cases {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1MiB", "lots", "16 XB", "NaN", "Inf", "+Inf", "1e3", "0x10", "1_000", ".5", "5.", "99999999999999GiB"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) accepted", s)
		}
	}
	for n, want := range map[uint64]uint64{1: pageSize, pageSize: pageSize, pageSize + 1: 2 * pageSize} {
		if got := roundToPages(n); got != want {
			t.Errorf("roundToPages(%d) = %d, want %d", n, got, want)
		}
	}
	for n, want := range map[uint64]string{256 << 20: "256MiB", 1536 << 10: "1536KiB", 4 << 30: "4GiB", 1000: "1000B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
