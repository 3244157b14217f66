package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Validate rejects what the bolt store rejects, with its messages, so that
// a batch that fails on the default store fails on every store. It only
// reads b.
func (b *Batch) Validate() error {
	for _, in := range b.Instances {
		if in == nil {
			return errors.New("nil instance in batch")
		}
		if err := checkName("instance", in.ID); err != nil {
			return err
		}
		err := checkJSON(in.Input, in.Output, in.Data)
		for _, v := range in.Collected {
			err = cmp.Or(err, checkJSON(v))
		}
		if err != nil {
			return fmt.Errorf("encode instance %q: %w", in.ID, err)
		}
	}
	for _, ev := range b.Events {
		if err := checkName("event instance", ev.Instance); err != nil {
			return err
		}
		if ev.Seq == 0 {
			return fmt.Errorf("event %s of instance %q: seq must start at 1", ev.Type, ev.Instance)
		}
		if err := checkJSON(ev.Input, ev.Output); err != nil {
			return fmt.Errorf("encode event %d of instance %q: %w", ev.Seq, ev.Instance, err)
		}
	}
	for _, ts := range [2][]Timer{b.SetTimers, b.DelTimers} {
		for _, t := range ts {
			if err := checkName("timer instance", t.Instance); err != nil {
				return err
			}
			if strings.IndexByte(t.Kind, 0) >= 0 {
				return fmt.Errorf("timer kind %q: contains a zero byte", t.Kind)
			}
		}
	}
	for _, ps := range [2][]PendingEvent{b.AddPending, b.DelPending} {
		for _, p := range ps {
			if err := checkName("pending event instance", p.Instance); err != nil {
				return err
			}
			if err := checkName("pending event name", p.Name); err != nil {
				return err
			}
		}
	}
	for _, bs := range b.Bundles {
		if bs.Hash == "" {
			return errors.New("bundle: empty id")
		}
	}
	if slices.Contains(b.DeleteBundles, "") {
		return errors.New("delete bundle: empty id")
	}
	for _, id := range b.Purge {
		if err := checkName("purge", id); err != nil {
			return err
		}
	}
	return nil
}

// checkName rejects what bolt's key layout cannot hold: an empty name, or
// one with the zero byte it separates key parts with.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: empty id", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q: contains a zero byte", what, s)
	}
	return nil
}

// checkJSON rejects raw JSON that bolt could not encode; empty means absent.
func checkJSON(raw ...json.RawMessage) error {
	for _, r := range raw {
		if len(r) > 0 && !json.Valid(r) {
			return fmt.Errorf("invalid raw JSON %.40q", r)
		}
	}
	return nil
}
