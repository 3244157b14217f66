package plugins

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/tetratelabs/wazero"
)

// Inspect compiles a module, lists its exports and imports and checks it
// against the ABI; a reactor that passes is also instantiated in the
// sandbox to ask its orbit_abi_version. An error means the bytes are not a
// WebAssembly module at all; a module that merely does not fit is a
// Report with Problems. cacheDir, when not empty, is a compilation cache
// as in Options.
func Inspect(ctx context.Context, wasm []byte, cacheDir string) (*Report, error) {
	h := &Host{log: slog.New(slog.NewTextHandler(io.Discard, nil)), poolSize: 1}
	m := &Manifest{Name: "inspect", MemoryLimit: "4GiB", memoryBytes: maxMemory, Timeout: startTimeout.String(), timeout: startTimeout}
	p := &plugin{m: m, h: h, log: h.log}
	cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true)
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
		}
		defer cache.Close(ctx)
		cfg = cfg.WithCompilationCache(cache)
	}
	p.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	defer p.rt.Close(ctx)
	if err := p.provideImports(ctx); err != nil {
		return nil, err
	}
	compiled, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("not a WebAssembly module: %w", err)
	}
	p.compiled = compiled
	rep := checkModule(compiled)
	p.kind, p.report = rep.Kind, rep
	if !rep.Fits() || rep.Kind != KindReactor {
		return rep, nil
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	inst, version, err := p.instantiate(ctx)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	inst.close()
	rep.ABIVersion = version
	if version != ABIVersion {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s returns %d, this Orbit speaks %d", exportABIVersion, version, ABIVersion))
	}
	return rep, nil
}
