package plugins

import "context"

// pool bounds how many instances of one plugin run at once and keeps the
// idle ones warm. The bound is also a memory bound: at most size ×
// memory_limit per plugin. A call that finds every slot busy waits for one
// (or for its deadline) instead of instantiating without limit.
type pool struct {
	slots chan struct{}  // one token per running call
	idle  chan *instance // warm instances ready for a call
	new   func(ctx context.Context) (*instance, error)
}

func newPool(size int, create func(ctx context.Context) (*instance, error)) *pool {
	return &pool{slots: make(chan struct{}, size), idle: make(chan *instance, size), new: create}
}

// warm makes one instance so that the first call does not pay for
// instantiation (about 5 ms for a Go guest, mostly its runtime's start-up).
// More are made as concurrent calls need them and then kept: an idle
// sidecar holds one instance per plugin, not one per core.
func (p *pool) warm(ctx context.Context) error {
	inst, err := p.new(ctx)
	if err != nil {
		return err
	}
	p.idle <- inst
	return nil
}

// get takes a slot and an instance, making a fresh one when none is idle.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	inst, err := p.new(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return inst, nil
}

// put returns a healthy instance for reuse.
func (p *pool) put(inst *instance) {
	select {
	case p.idle <- inst:
	default:
		inst.close()
	}
	<-p.slots
}

// discard drops an instance that failed: after a trap, a timeout or a
// memory error its state cannot be trusted, even when it looks usable.
func (p *pool) discard(inst *instance) {
	inst.close()
	<-p.slots
}

// drain closes the idle instances; the runtime's close takes the rest.
func (p *pool) drain() {
	for {
		select {
		case inst := <-p.idle:
			inst.close()
		default:
			return
		}
	}
}
