package devnats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Servers is a set of NATS nodes a test can fail and bring back, whether
// they run in this process (Cluster) or in a child process (Process).
type Servers interface {
	URL() string
	Nodes() int
	Stop(i int)
	Restart(i int) error
	Shutdown()
}

var (
	_ Servers = (*Cluster)(nil)
	_ Servers = (*Process)(nil)
)

// Process is a cluster run by the natsd command in a child process.
type Process struct {
	nodes int
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner

	mu  sync.Mutex
	url string
}

var (
	buildOnce sync.Once
	natsdBin  string
	buildErr  error
)

// natsd builds the natsd command once per process, without the race
// detector, into the user's cache directory, where later runs find it
// built (go build then only checks it is current).
func natsd() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		dir = filepath.Join(dir, "orbit-test")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		natsdBin = filepath.Join(dir, "natsd")
		cmd := exec.Command("go", "build", "-o", natsdBin, "github.com/orbit-sidecar/orbit/internal/devnats/natsd")
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build natsd: %v\n%s", err, out)
		}
	})
	return natsdBin, buildErr
}

// Spawn runs a cluster of opts.Nodes nodes in a child process. Tests built
// with the race detector use it so that the servers run at full speed.
func Spawn(opts Options) (*Process, error) {
	bin, err := natsd()
	if err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	args := []string{"-dir", opts.Dir, "-nodes", fmt.Sprint(opts.Nodes)}
	if opts.SyncAlways {
		args = append(args, "-sync-always")
	}
	p := &Process{nodes: opts.Nodes, cmd: exec.Command(bin, args...)}
	p.cmd.Stderr = os.Stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewScanner(stdout)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	if _, err := p.reply("ready"); err != nil {
		p.Shutdown()
		return nil, err
	}
	return p, nil
}

// reply reads the child's next line, which must start with want.
func (p *Process) reply(want string) (string, error) {
	if !p.out.Scan() {
		return "", fmt.Errorf("natsd exited: %v", p.out.Err())
	}
	verb, rest, _ := strings.Cut(p.out.Text(), " ")
	if verb != want {
		return "", errors.New("natsd: " + p.out.Text())
	}
	p.mu.Lock()
	p.url = rest
	p.mu.Unlock()
	return rest, nil
}

func (p *Process) command(verb string, i int) error {
	if _, err := fmt.Fprintf(p.in, "%s %d\n", verb, i); err != nil {
		return err
	}
	_, err := p.reply("ok")
	return err
}

// URL is the client URLs of the running nodes, comma-separated.
func (p *Process) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

// Nodes is how many nodes the cluster has, running or stopped.
func (p *Process) Nodes() int { return p.nodes }

// Stop shuts node i down, keeping its store for Restart.
func (p *Process) Stop(i int) { p.command("stop", i) }

// Restart starts a stopped node again.
func (p *Process) Restart(i int) error { return p.command("start", i) }

// Shutdown stops every node and the child process.
func (p *Process) Shutdown() {
	p.in.Close()
	p.cmd.Wait()
}
