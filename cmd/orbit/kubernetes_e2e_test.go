package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKubernetesExample reads examples/kubernetes/orbit.yaml: its
// documents are the ConfigMap of scripts, the token's Secret and the
// Deployment; every flag and ORBIT_ variable of the orbit container is
// one `orbit serve` takes; its readiness probe asks /readyz; and the
// scripts it ships validate.
func TestKubernetesExample(t *testing.T) {
	raw, err := os.ReadFile("../../examples/kubernetes/orbit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	var kinds []string
	for _, doc := range strings.Split(text, "\n---\n") {
		if m := regexp.MustCompile(`(?m)^kind: (\w+)$`).FindStringSubmatch(doc); m != nil {
			kinds = append(kinds, m[1])
		}
	}
	if !slices.Equal(kinds, []string{"ConfigMap", "Secret", "Deployment"}) {
		t.Errorf("documents %v, want ConfigMap, Secret, Deployment", kinds)
	}

	_, help, _ := runOrbit(t, nil, "serve", "--help")
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z-]+)`).FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	if !flags["store"] || !flags["nats-url"] {
		t.Fatalf("serve --help lists no --store or --nats-url:\n%s", help)
	}

	orbit := containerBlock(t, text, "orbit")
	if !strings.Contains(orbit, "restartPolicy: Always") {
		t.Error("the orbit container is not a native sidecar (restartPolicy: Always)")
	}
	args := regexp.MustCompile(`(?m)^\s+- (serve|--[a-z-]+)`).FindAllStringSubmatch(orbit, -1)
	if len(args) == 0 || args[0][1] != "serve" {
		t.Fatalf("the orbit container does not run serve: %v", args)
	}
	for _, a := range args[1:] {
		if !flags[strings.TrimPrefix(a[1], "--")] {
			t.Errorf("flag %s is not a flag of orbit serve", a[1])
		}
	}
	envs := regexp.MustCompile(`(?m)^\s+- name: (ORBIT_[A-Z_]+)`).FindAllStringSubmatch(orbit, -1)
	if len(envs) == 0 {
		t.Error("the orbit container sets no ORBIT_ variable")
	}
	for _, e := range envs {
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e[1], "ORBIT_"), "_", "-"))
		if !flags[flag] {
			t.Errorf("%s names no flag of orbit serve (--%s)", e[1], flag)
		}
	}
	if !regexp.MustCompile(`readinessProbe:\s+httpGet:\s+path: /readyz`).MatchString(orbit) {
		t.Error("the orbit container's readiness probe does not ask /readyz")
	}

	// The scripts of the ConfigMap validate.
	m := regexp.MustCompile(`(?s)orders\.lua: \|\n(.*?)\n---`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no orders.lua in the ConfigMap")
	}
	var src strings.Builder
	for _, line := range strings.Split(m[1], "\n") {
		src.WriteString(strings.TrimPrefix(line, "    "))
		src.WriteByte('\n')
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.lua"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runOrbit(t, nil, "validate", dir); code != 0 {
		t.Errorf("the ConfigMap's scripts do not validate: %s%s", out, errOut)
	}
}

// containerBlock is the part of a manifest that describes the container
// of that name: its "- name:" line and every line indented deeper.
func containerBlock(t *testing.T, text, name string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != "- name: "+name {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		end := i + 1
		for end < len(lines) {
			l := lines[end]
			if strings.TrimSpace(l) != "" && len(l)-len(strings.TrimLeft(l, " ")) <= indent {
				break
			}
			end++
		}
		return strings.Join(lines[i:end], "\n")
	}
	t.Fatalf("no container %q", name)
	return ""
}
