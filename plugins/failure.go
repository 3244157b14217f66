package plugins

import (
	"context"
	"errors"
	"strings"

	"github.com/tetratelabs/wazero/sys"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// failure names what went wrong in a call (SPEC 4): the task's own
// deadline or cancellation first (the engine decides what those mean), then
// the plugin's timeout, then the memory cap, and anything else the guest
// did is a trap. inst is nil when no instance was reached.
func (p *plugin) failure(parent, callCtx context.Context, inst *instance, fn string, err error) error {
	name := p.m.Name
	switch {
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		return flow.Errorf(flow.ErrTimeout, "plugin %s: %s: the task's timeout expired", name, fn)
	case parent.Err() != nil:
		return flow.Errorf(flow.ErrCancelled, "plugin %s: %s: cancelled", name, fn)
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) || (isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded) {
		return flow.Errorf(flow.ErrPluginTimeout, "plugin %s: %s ran past its timeout of %s", name, fn, p.m.Timeout)
	}
	if inst == nil {
		return flow.Errorf(flow.ErrPluginTrap, "plugin %s: %s: no instance: %v", name, fn, err)
	}
	said := inst.stderr.summary()
	if inst.memoryFull() {
		return flow.Errorf(flow.ErrPluginMemory, "plugin %s: %s ran out of its memory_limit of %s%s", name, fn, p.m.MemoryLimit, suffix(said))
	}
	if isExit {
		return flow.Errorf(flow.ErrPluginTrap, "plugin %s: %s exited with status %d%s", name, fn, exit.ExitCode(), suffix(said))
	}
	return flow.Errorf(flow.ErrPluginTrap, "plugin %s: %s trapped: %s%s", name, fn, firstLine(err.Error()), suffix(said))
}

// firstLine drops wazero's wasm stack trace: useful to a plugin author
// with a debugger, noise in an instance's error.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
