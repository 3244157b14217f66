package plugins

import (
	"bytes"
	"context"
	"errors"

	"github.com/tetratelabs/wazero/sys"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// maxReply bounds a reply: it is decoded in the sidecar's memory, outside
// the guest's cap (and a command's is buffered there first).
const maxReply = 16 << 20

// boundedBuffer is a command's stdout: a reply that would outgrow the bound
// is refused rather than buffered.
type boundedBuffer struct {
	bytes.Buffer
	over bool
}

// Write buffers p unless the reply would outgrow maxReply.
func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxReply {
		b.over = true
		return 0, errors.New("reply too large")
	}
	return b.Buffer.Write(p)
}

// runCommand runs one call of a command module: a fresh instance with the
// input on stdin, the reply on stdout. Slow (a Go guest starts its runtime
// every time) but open to any language with a WASI target.
func (p *plugin) runCommand(parent, callCtx context.Context, fn string, input []byte, c *flow.Context) (any, error) {
	i := &instance{p: p, flow: c, done: callCtx.Done()}
	var stdout boundedBuffer
	cfg := i.moduleConfig([]string{fn}).WithStdin(bytes.NewReader(input)).WithStdout(&stdout)
	i.beginOutput()
	mod, err := p.rt.InstantiateModule(context.WithValue(callCtx, instanceKey{}, i), p.compiled, cfg)
	i.mod = mod // nil unless the module returned from _start without exiting
	defer i.close()
	var exit *sys.ExitError
	if err == nil || errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = late(callCtx)
	}
	if err != nil {
		return nil, p.failure(parent, callCtx, i, fn, err)
	}
	if stdout.over {
		return nil, flow.Errorf(flow.ErrPluginTrap, "plugin %s: %s wrote a reply over %d bytes", p.m.Name, fn, maxReply)
	}
	out, _, err := p.answer(fn, stdout.Bytes())
	return out, err
}
