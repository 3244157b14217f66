package main

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// keptVersions tells which versions of a workflow the kept bundles carry,
// for GET /v1/workflows. A version label is set in the scripts, so a kept
// bundle is compiled once to read its labels; the labels are remembered by
// bundle hash, since a hash always names the same sources.
type keptVersions struct {
	store   store.Store
	compile func([]flow.Source) (*flow.Bundle, error)
	log     *slog.Logger

	mu     sync.Mutex
	byHash map[string]map[string]string // bundle hash → workflow → version
}

func newKeptVersions(st store.Store, compile func([]flow.Source) (*flow.Bundle, error), log *slog.Logger) *keptVersions {
	return &keptVersions{store: st, compile: compile, log: log, byHash: map[string]map[string]string{}}
}

// versions lists the workflow's versions, oldest bundle first, each once.
func (k *keptVersions) versions(workflow string) []string {
	kept, err := k.store.Bundles()
	if err != nil {
		k.log.Warn("list kept bundles", "err", err)
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, b := range kept {
		labels, ok := k.byHash[b.Hash]
		if !ok {
			labels = k.labels(b)
			k.byHash[b.Hash] = labels
		}
		if v, ok := labels[workflow]; ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// remember records a bundle already compiled (the one serve loaded).
func (k *keptVersions) remember(b *flow.Bundle) {
	k.mu.Lock()
	k.byHash[b.Hash] = workflowVersions(b)
	k.mu.Unlock()
}

// labels compiles kept sources (the compiler orders the files) and reads
// each workflow's version.
func (k *keptVersions) labels(b store.BundleSources) map[string]string {
	files := make([]flow.Source, 0, len(b.Files))
	for path, body := range b.Files {
		files = append(files, flow.Source{Path: path, Body: body})
	}
	compiled, err := k.compile(files)
	if err != nil {
		k.log.Warn("kept bundle does not compile", "bundle", b.Hash, "err", err)
		return map[string]string{}
	}
	return workflowVersions(compiled)
}

func workflowVersions(b *flow.Bundle) map[string]string {
	labels := make(map[string]string, len(b.Workflows))
	for name, wf := range b.Workflows {
		labels[name] = wf.Version
	}
	return labels
}
