package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// ManifestFile is the name of a plugin folder's manifest.
const ManifestFile = "plugin.json"

// Defaults for limits a manifest leaves out: generous enough for a Go guest
// (its runtime alone takes about 2.5 MiB), small enough that a pool of them
// cannot starve the sidecar.
const (
	DefaultMemoryLimit = "64MiB"
	DefaultTimeout     = "1s"
)

// Manifest is a plugin folder's plugin.json (SPEC 4).
type Manifest struct {
	Name         string            `json:"name"`
	Module       string            `json:"module"`
	Routines     map[string]string `json:"routines,omitempty"`
	Hooks        []Hook            `json:"hooks,omitempty"`
	AllowedHosts []string          `json:"allowed_hosts,omitempty"`
	MemoryLimit  string            `json:"memory_limit,omitempty"`
	Timeout      string            `json:"timeout,omitempty"`
	Config       map[string]string `json:"config,omitempty"`

	// Filled by validation.
	dir         string        // the plugin folder
	memoryBytes uint64        // memory_limit, rounded up to whole pages
	timeout     time.Duration // timeout
	hosts       []hostRule    // allowed_hosts
}

// Hook is a manifest hook: a plugin function run as an observer (SPEC 1.4).
type Hook struct {
	Workflow string          `json:"workflow"`
	On       store.EventType `json:"on"`
	State    string          `json:"state,omitempty"`
	Func     string          `json:"func"`
}

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	exportPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.$-]*$`)
)

// LoadManifest reads and validates dir/plugin.json. Every problem is
// reported, each prefixed with the manifest's path and the field at fault,
// so that one edit-and-retry fixes them all.
func LoadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt limit must not silently fall back to the default
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a valid manifest: %w", path, err)
	}
	m.dir = dir
	if errs := m.validate(); len(errs) > 0 {
		for i, e := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, e)
		}
		return nil, errors.Join(errs...)
	}
	return &m, nil
}

func (m *Manifest) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case m.Name == "":
		bad("name", "is required")
	case !namePattern.MatchString(m.Name):
		bad("name", "%q may hold only letters, digits, '_', '.' and '-'", m.Name)
	}
	switch {
	case m.Module == "":
		bad("module", "is required (the .wasm file in the plugin folder)")
	case filepath.IsAbs(m.Module) || !filepath.IsLocal(m.Module):
		bad("module", "%q must be a path inside the plugin folder", m.Module)
	default:
		if st, err := os.Stat(filepath.Join(m.dir, m.Module)); err != nil {
			bad("module", "%q cannot be read: %v (build the plugin first)", m.Module, err)
		} else if st.IsDir() {
			bad("module", "%q is a directory", m.Module)
		}
	}
	for _, name := range sortedKeys(m.Routines) {
		if name == "" {
			bad("routines", "a routine name is empty")
		}
		if fn := m.Routines[name]; !exportPattern.MatchString(fn) {
			bad("routines."+name, "%q is not an export name", fn)
		}
	}
	for i, h := range m.Hooks {
		field := fmt.Sprintf("hooks[%d]", i)
		if h.Workflow == "" {
			bad(field+".workflow", "is required (a workflow name or \"*\")")
		}
		if !h.On.Valid() {
			bad(field+".on", "%q is not a history event type (for example \"StateExited\")", h.On)
		}
		if !exportPattern.MatchString(h.Func) {
			bad(field+".func", "%q is not an export name", h.Func)
		}
	}
	for i, h := range m.AllowedHosts {
		r, err := parseHostRule(h)
		if err != nil {
			bad(fmt.Sprintf("allowed_hosts[%d]", i), "%v", err)
			continue
		}
		m.hosts = append(m.hosts, r)
	}
	if m.MemoryLimit == "" {
		m.MemoryLimit = DefaultMemoryLimit
	}
	if n, err := parseSize(m.MemoryLimit); err != nil {
		bad("memory_limit", "%v", err)
	} else {
		m.memoryBytes = n
	}
	if m.Timeout == "" {
		m.Timeout = DefaultTimeout
	}
	if d, err := time.ParseDuration(m.Timeout); err != nil || d <= 0 {
		bad("timeout", "%q is not a positive duration (for example \"250ms\")", m.Timeout)
	} else {
		m.timeout = d
	}
	return errs
}

// maxMemory is the most a 32-bit WebAssembly memory can address.
const maxMemory = 4 << 30

// parseSize reads "16MiB", "512KiB", "1GiB", "16MB" or a byte count, and
// rounds it up to whole 64 KiB WebAssembly pages.
func parseSize(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a size (for example \"16MiB\")", s)
	}
	n := uint64(f * float64(mult))
	if n > maxMemory {
		return 0, fmt.Errorf("%q is over the 4GiB a WebAssembly memory can address", s)
	}
	return (n + pageSize - 1) / pageSize * pageSize, nil
}

// pageSize is the WebAssembly page size.
const pageSize = 1 << 16

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
