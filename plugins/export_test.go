package plugins

import "context"

// IdleMemory is the linear memory of one of a plugin's idle instances, in
// bytes, for the benchmarks' report of what an idle plugin costs.
func IdleMemory(h *Host, plugin string) (uint32, error) {
	p := h.plugins[plugin]
	if err := p.unpark(context.Background()); err != nil {
		return 0, err
	}
	inst, err := p.pool.get(context.Background())
	if err != nil {
		return 0, err
	}
	defer p.pool.put(inst)
	return inst.mod.Memory().Size(), nil
}
