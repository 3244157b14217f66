package plugins

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
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

// maxManifest bounds what is read of a plugin.json: a real one is a few
// hundred bytes, and a folder dropped in must not make the sidecar read a
// file of any size.
const maxManifest = 1 << 20

// Defaults for limits a manifest leaves out: generous enough for a Go guest
// (its runtime alone takes about 2.5 MiB), small enough that a pool of them
// cannot starve the sidecar. A default above the operator's ceiling is
// lowered to it.
const (
	DefaultMemoryLimit = "64MiB"
	DefaultTimeout     = "1s"
	DefaultKVQuota     = "1MiB"
)

// Limits are the operator's ceilings on what a manifest may ask for, set
// by orbit serve's --plugin-max-* flags; a manifest over one is refused.
// Zero fields take the Default* ceilings.
type Limits struct {
	MaxMemory  uint64        // memory_limit: --plugin-max-memory
	MaxTimeout time.Duration // timeout: --plugin-max-timeout
	MaxKV      uint64        // kv_quota: --plugin-max-kv
	MaxModule  uint64        // the module file's size: --plugin-max-module
}

// The ceilings a zero Limits field stands for.
const (
	DefaultMaxMemory  = 256 << 20
	DefaultMaxTimeout = 30 * time.Second
	DefaultMaxKV      = 64 << 20
	DefaultMaxModule  = 64 << 20
)

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	l.MaxMemory = min(cmp.Or(l.MaxMemory, DefaultMaxMemory), maxMemory)
	l.MaxTimeout = cmp.Or(l.MaxTimeout, DefaultMaxTimeout)
	l.MaxKV = cmp.Or(l.MaxKV, DefaultMaxKV)
	l.MaxModule = cmp.Or(l.MaxModule, DefaultMaxModule)
	return l
}

// Manifest is a plugin folder's plugin.json (SPEC 4).
type Manifest struct {
	Name         string            `json:"name"`
	Module       string            `json:"module"`
	Routines     map[string]string `json:"routines,omitempty"`
	Hooks        []Hook            `json:"hooks,omitempty"`
	AllowedHosts []string          `json:"allowed_hosts,omitempty"`
	MemoryLimit  string            `json:"memory_limit,omitempty"`
	Timeout      string            `json:"timeout,omitempty"`
	KVQuota      string            `json:"kv_quota,omitempty"`
	Config       map[string]string `json:"config,omitempty"`

	// Filled by validation.
	dir         string        // the plugin folder
	modulePath  string        // the module file, symlinks resolved
	memoryBytes uint64        // memory_limit, rounded up to whole pages
	timeout     time.Duration // timeout
	kvQuota     uint64        // kv_quota
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

// maxName bounds a plugin's name: it is a key-value namespace and a label
// on every log line the plugin writes.
const maxName = 128

// LoadManifest reads and validates dir/plugin.json against the operator's
// ceilings. Every problem is reported, each prefixed with the manifest's
// path and the field at fault, so that one edit-and-retry fixes them all.
func LoadManifest(dir string, lim Limits) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := readAtMost(path, maxManifest, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m Manifest
	if err := decodeStrict(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: not a valid manifest: %w", path, err)
	}
	m.dir = dir
	if errs := m.validate(lim.withDefaults()); len(errs) > 0 {
		for i, e := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, e)
		}
		return nil, errors.Join(errs...)
	}
	return &m, nil
}

// readAtMost reads a file that must not be larger than max bytes; flag,
// if any, is the one that sets max.
func readAtMost(path string, max uint64, flag string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	switch {
	case uint64(len(b)) <= max:
		return b, nil
	case flag != "":
		return nil, fmt.Errorf("is over the ceiling of %s set by %s", formatSize(max), flag)
	}
	return nil, fmt.Errorf("is over %s", formatSize(max))
}

func (m *Manifest) validate(lim Limits) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case m.Name == "":
		bad("name", "is required")
	case len(m.Name) > maxName:
		bad("name", "is %d bytes long; at most %d", len(m.Name), maxName)
	case !namePattern.MatchString(m.Name):
		bad("name", "%q may hold only letters, digits, '_', '.' and '-'", m.Name)
	}
	switch {
	case m.Module == "":
		bad("module", "is required (the .wasm file in the plugin folder)")
	case filepath.IsAbs(m.Module) || !filepath.IsLocal(m.Module):
		bad("module", "%q must be a path inside the plugin folder", m.Module)
	default:
		path, err := resolveInside(m.dir, m.Module)
		if err != nil {
			bad("module", "%q %v", m.Module, err)
			break
		}
		switch st, err := os.Stat(path); {
		case err != nil:
			bad("module", "%q cannot be read: %v (build the plugin first)", m.Module, err)
		case st.IsDir():
			bad("module", "%q is a directory", m.Module)
		case uint64(st.Size()) > lim.MaxModule:
			bad("module", "%q is %s, over the ceiling of %s (--plugin-max-module)", m.Module, formatSize(uint64(st.Size())), formatSize(lim.MaxModule))
		default:
			m.modulePath = path
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
	if n, err := m.size("memory_limit", &m.MemoryLimit, DefaultMemoryLimit, lim.MaxMemory, "--plugin-max-memory"); err != nil {
		errs = append(errs, err)
	} else {
		m.memoryBytes = roundToPages(n)
	}
	if n, err := m.size("kv_quota", &m.KVQuota, DefaultKVQuota, lim.MaxKV, "--plugin-max-kv"); err != nil {
		errs = append(errs, err)
	} else {
		m.kvQuota = n
	}
	if err := m.duration(lim.MaxTimeout); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// size reads a size field, filling in its default (lowered to the
// ceiling), and refuses one over the ceiling set by flag.
func (m *Manifest) size(field string, v *string, def string, ceiling uint64, flag string) (uint64, error) {
	if *v == "" {
		if n, _ := parseSize(def); n > ceiling {
			*v = formatSize(ceiling)
		} else {
			*v = def
		}
	}
	n, err := parseSize(*v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: %v", field, err)
	case n > ceiling:
		return 0, fmt.Errorf("%s: %q is over the ceiling of %s set by %s", field, *v, formatSize(ceiling), flag)
	}
	return n, nil
}

// duration reads timeout, filling in its default (lowered to the ceiling).
func (m *Manifest) duration(ceiling time.Duration) error {
	if m.Timeout == "" {
		m.Timeout = DefaultTimeout
		if d, _ := time.ParseDuration(DefaultTimeout); d > ceiling {
			m.Timeout = ceiling.String()
		}
	}
	d, err := time.ParseDuration(m.Timeout)
	switch {
	case err != nil || d <= 0:
		return fmt.Errorf("timeout: %q is not a positive duration (for example \"250ms\")", m.Timeout)
	case d > ceiling:
		return fmt.Errorf("timeout: %q is over the ceiling of %s set by --plugin-max-timeout", m.Timeout, ceiling)
	}
	m.timeout = d
	return nil
}

// resolveInside follows rel from dir through every symlink and refuses a
// path that ends outside dir: a module is the plugin's own file, never
// one elsewhere on the machine that a link points at.
func resolveInside(dir, rel string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("cannot be read: %v", err)
	}
	path, err := filepath.EvalSymlinks(filepath.Join(root, rel))
	if err != nil {
		return "", fmt.Errorf("cannot be read: %v (build the plugin first)", err)
	}
	if inner, err := filepath.Rel(root, path); err != nil || !filepath.IsLocal(inner) {
		return "", fmt.Errorf("resolves to %s, outside the plugin folder (a symlink may not lead out of it)", path)
	}
	return path, nil
}

// maxMemory is the most a 32-bit WebAssembly memory can address, and so
// the highest --plugin-max-memory.
const maxMemory = 4 << 30

// maxSize keeps sizes far from overflow; no ceiling comes near it.
const maxSize = 1 << 40

// sizePattern is a size's number: digits with an optional fraction. Not
// strconv.ParseFloat, which also takes "NaN", "Inf", "1e9" and hex.
var sizePattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// parseSize reads "16MiB", "512KiB", "1.5GiB", "16MB" or a byte count,
// rounding a fraction of a byte up.
func parseSize(s string) (uint64, error) {
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	if !sizePattern.MatchString(num) {
		return 0, fmt.Errorf("%q is not a size: want a number of bytes, or a number with KiB, MiB, GiB, KB, MB or GB (for example \"16MiB\")", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil { // digits only: cannot happen
		return 0, fmt.Errorf("%q: %v", s, err)
	}
	n := math.Ceil(f * float64(mult))
	switch {
	case n == 0:
		return 0, fmt.Errorf("%q is zero", s)
	case n > maxSize:
		return 0, fmt.Errorf("%q is too large", s)
	}
	return uint64(n), nil
}

// roundToPages rounds a memory size up to whole WebAssembly pages.
func roundToPages(n uint64) uint64 { return (n + pageSize - 1) / pageSize * pageSize }

// formatSize writes n bytes as parseSize reads them: "256MiB", "1536KiB", "1000".
func formatSize(n uint64) string {
	for i := 2; i >= 0; i-- { // GiB, MiB, KiB
		if u := sizeUnits[i]; n >= u.mult && n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10) + "B"
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
