package plugins

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// hostRule is one allowed_hosts entry: "host:port", "host" (the scheme's
// default port only, so that "api.example.com" does not open every port of
// that machine) or "*.example.com[:port]" for any subdomain.
type hostRule struct {
	host     string // lower case, without the "*." of a wildcard
	wildcard bool
	port     string // "" means the scheme's default port
}

func parseHostRule(s string) (hostRule, error) {
	if s == "" || strings.ContainsAny(s, "/?#@ ") {
		return hostRule{}, fmt.Errorf("%q must be \"host\" or \"host:port\" without a scheme or path", s)
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return hostRule{}, fmt.Errorf("%q has a bad port", s)
		}
		// "8080", never "08080": a URL's port is compared as text.
		host, port = h, strconv.Itoa(n)
	} else if inner, ok := strings.CutPrefix(s, "["); ok {
		// "[::1]" names an IPv6 host without a port; a URL's host has no brackets.
		if host, ok = strings.CutSuffix(inner, "]"); !ok {
			return hostRule{}, fmt.Errorf("%q: an IPv6 address is written [addr] or [addr]:port", s)
		}
	}
	r := hostRule{host: strings.ToLower(host), port: port}
	if rest, ok := strings.CutPrefix(r.host, "*."); ok {
		r.host, r.wildcard = rest, true
	}
	if r.host == "" || strings.Contains(r.host, "*") {
		return hostRule{}, fmt.Errorf("%q: only a leading \"*.\" wildcard is allowed", s)
	}
	return r, nil
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// allowed checks a request URL against the rules and says why not.
func allowed(rules []hostRule, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad url %q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: only http and https are allowed", rawURL)
	}
	if u.User != nil {
		return fmt.Errorf("url %q: credentials in the url are not allowed", rawURL)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = defaultPorts[u.Scheme]
	}
	for _, r := range rules {
		want := r.port
		if want == "" {
			want = defaultPorts[u.Scheme]
		}
		if want != port {
			continue
		}
		if r.wildcard && strings.HasSuffix(host, "."+r.host) || !r.wildcard && host == r.host {
			return nil
		}
	}
	return fmt.Errorf("host %s is not in the plugin's allowed_hosts", u.Host)
}
