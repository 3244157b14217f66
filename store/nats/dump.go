package nats

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/orbit-sidecar/orbit/store"
)

var _ store.Dumper = (*Store)(nil)

// Filters of every kept event and every plugin value, across instances
// and namespaces.
func (s subjects) everyPending() string { return s.root + ".x.*.p.*.*" }
func (s subjects) everyKV() string      { return s.root + ".kv.*.*" }

// EachPending calls fn with every kept event, by instance, name, then seq.
func (s *Store) EachPending(fn func(store.PendingEvent) error) error {
	var all []store.PendingEvent
	var bad error
	err := s.scan(s.subj.everyPending(), false, func(subject string, h natsgo.Header, data []byte) {
		if deleted(h) {
			return
		}
		p, err := parsePending(subject)
		if err != nil {
			bad = cmp.Or(bad, err)
			return
		}
		if len(data) > 0 {
			p.Payload = cloneBytes(data)
		}
		all = append(all, p)
	})
	if err := cmp.Or(err, bad); err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b store.PendingEvent) int {
		return cmp.Or(strings.Compare(a.Instance, b.Instance), strings.Compare(a.Name, b.Name), cmp.Compare(a.Seq, b.Seq))
	})
	for _, p := range all {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// parsePending reads a pending event's subject, root.x.<id>.p.<name>.<seq>.
func parsePending(subject string) (store.PendingEvent, error) {
	t := tokens(subject)
	if len(t) != 6 || t[1] != "x" || t[3] != "p" {
		return store.PendingEvent{}, fmt.Errorf("not a pending event subject: %q", subject)
	}
	id, err1 := unescape(t[2])
	name, err2 := unescape(t[4])
	seq, err3 := strconv.ParseUint(t[5], 10, 64)
	if err := cmp.Or(err1, err2, err3); err != nil {
		return store.PendingEvent{}, fmt.Errorf("pending event subject %q: %w", subject, err)
	}
	return store.PendingEvent{Instance: id, Name: name, Seq: seq}, nil
}

// EachKV calls fn with every plugin value, by namespace, then key.
func (s *Store) EachKV(fn func(ns, key string, value []byte) error) error {
	type kv struct {
		ns, key string
		value   []byte
	}
	var all []kv
	var bad error
	err := s.scan(s.subj.everyKV(), false, func(subject string, h natsgo.Header, data []byte) {
		if deleted(h) {
			return
		}
		t := tokens(subject)
		if len(t) != 4 || t[1] != "kv" {
			bad = cmp.Or(bad, fmt.Errorf("not a plugin value subject: %q", subject))
			return
		}
		ns, err1 := unescape(t[2])
		key, err2 := unescape(t[3])
		if err := cmp.Or(err1, err2); err != nil {
			bad = cmp.Or(bad, fmt.Errorf("plugin value subject %q: %w", subject, err))
			return
		}
		all = append(all, kv{ns, key, cloneBytes(data)})
	})
	if err := cmp.Or(err, bad); err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(strings.Compare(a.ns, b.ns), strings.Compare(a.key, b.key)) })
	for _, e := range all {
		if err := fn(e.ns, e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}
