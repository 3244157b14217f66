package orbittest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// OrbitPackage is the import path of the orbit command.
const OrbitPackage = "github.com/orbit-sidecar/orbit/cmd/orbit"

// BuildOptions change how Build builds.
type BuildOptions struct {
	Tags    []string // build tags, for example the fault build's orbitfault
	ModFile string   // an alternative go.mod, for a build against patched dependencies
}

func (o BuildOptions) key(pkg string) string {
	return pkg + "|" + strings.Join(o.Tags, ",") + "|" + o.ModFile
}

var (
	buildMu sync.Mutex
	builds  = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build builds a main package (an import path of this module) once per
// test process and set of options, and returns the executable. The real
// binary is what end-to-end tests and the crash test run.
func Build(tb testing.TB, pkg string, opt BuildOptions) string {
	tb.Helper()
	buildMu.Lock()
	b := builds[opt.key(pkg)]
	if b == nil {
		b = &build{}
		builds[opt.key(pkg)] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		dir, err := MkdirTemp("orbit-e2e-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		args := []string{"build", "-o", b.path}
		if len(opt.Tags) > 0 {
			args = append(args, "-tags", strings.Join(opt.Tags, ","))
		}
		if opt.ModFile != "" {
			args = append(args, "-modfile", opt.ModFile)
		}
		out, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		tb.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.path
}

// Process is a running executable whose standard error is read line by
// line. It is killed when its test ends.
type Process struct {
	*exec.Cmd
	// Lines carries stderr line by line and closes when the process and
	// everything it started have closed stderr. Listening hands what
	// follows its line to Tail instead.
	Lines <-chan string

	exited  chan struct{}
	waitErr error
	logDone chan struct{} // closed when stderr is read to its end

	mu        sync.Mutex
	log       []string // every line
	listening int      // how many lines came up to the startup line; -1 before it
}

// tailLines is how much of a log Tail returns.
const tailLines = 64

// Start runs bin with args and env added to the test's environment.
func Start(tb testing.TB, bin string, env []string, args ...string) *Process {
	tb.Helper()
	p, err := StartProcess(bin, env, args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Process.Kill(); p.Wait() })
	return p
}

// StartProcess is Start for a caller that stops the process itself.
//
// Stderr is a pipe of its own rather than exec's StderrPipe, which Wait
// closes: the last line a process writes before it is killed (a fault
// build's "orbit: fault: ...") must still be read after it died.
func StartProcess(bin string, env []string, args ...string) (*Process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	w.Close() // the child holds its own copy
	lines := make(chan string, 64)
	p := &Process{Cmd: cmd, Lines: lines, exited: make(chan struct{}), logDone: make(chan struct{}), listening: -1}
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.keep(sc.Text())
			lines <- sc.Text()
		}
		close(lines)
		close(p.logDone)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Wait waits for the process to exit and returns what exec's Wait said.
func (p *Process) Wait() error {
	<-p.exited
	return p.waitErr
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Killed reports whether the process ended by SIGKILL, from whomever.
func (p *Process) Killed() bool {
	select {
	case <-p.exited:
	default:
		return false
	}
	ws, ok := p.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill(tb testing.TB) {
	tb.Helper()
	if err := p.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatal(err)
	}
	p.Wait()
}

// WaitForLine reads stderr until a line contains want and returns it.
func (p *Process) WaitForLine(tb testing.TB, want string) string {
	tb.Helper()
	line, err := p.readUntil(want, 30*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	return line
}

func (p *Process) readUntil(want string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.Lines:
			if !ok {
				return "", fmt.Errorf("%s exited before printing %q", filepath.Base(p.Path), want)
			}
			if strings.Contains(line, want) {
				return line, nil
			}
		case <-deadline:
			return "", fmt.Errorf("%s never printed %q in %s", filepath.Base(p.Path), want, timeout)
		}
	}
}

// Listening waits for `orbit serve`'s startup line (text, or a "listening"
// record with --log-format json) and returns the address it names and the
// line. From then on nobody reads Lines: the log is kept for Logged and
// Tail, so that the server never blocks on a full pipe.
func (p *Process) Listening(timeout time.Duration) (addr, banner string, err error) {
	addrs, banner, err := p.ListeningAll(1, timeout)
	if err != nil {
		return "", "", err
	}
	return addrs[0], banner, nil
}

// ListeningAll is Listening for a process that serves n sidecars (orbit
// devcluster): it waits for n startup lines and returns their addresses,
// in the order printed, and the last line.
func (p *Process) ListeningAll(n int, timeout time.Duration) (addrs []string, banner string, err error) {
	deadline := time.After(timeout)
	for len(addrs) < n {
		select {
		case line, ok := <-p.Lines:
			if !ok {
				return nil, "", fmt.Errorf("%s exited before listening; last lines:\n%s", filepath.Base(p.Path), strings.Join(p.Tail(), "\n"))
			}
			if addr := listeningOn(line); addr != "" {
				addrs, banner = append(addrs, addr), line
			}
		case <-deadline:
			return nil, "", fmt.Errorf("%s did not listen %d times in %s; last lines:\n%s", filepath.Base(p.Path), n, timeout, strings.Join(p.Tail(), "\n"))
		}
	}
	p.mu.Lock()
	p.listening = len(p.log)
	p.mu.Unlock()
	go func() {
		for range p.Lines {
		}
	}()
	return addrs, banner, nil
}

// listeningOn is the address a startup line names, or "".
func listeningOn(line string) string {
	if _, rest, found := strings.Cut(line, "orbit: listening on "); found {
		addr, _, _ := strings.Cut(rest, " ")
		return addr
	}
	var rec struct{ Msg, Addr string }
	if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
		return rec.Addr
	}
	return ""
}

func (p *Process) keep(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, line)
}

// Logged returns the lines logged after the startup line.
func (p *Process) Logged() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listening < 0 {
		return nil
	}
	return append([]string(nil), p.log[p.listening:]...)
}

// Log waits until the process has exited and its log is read to the end,
// and returns the log's last lines.
func (p *Process) Log() []string {
	<-p.exited
	<-p.logDone
	return p.Tail()
}

// Tail returns the last lines of the log so far.
func (p *Process) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log[max(0, len(p.log)-tailLines):]...)
}
