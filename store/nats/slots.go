package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orbit-sidecar/orbit/store"
)

// Concurrency-key slots are shared by every sidecar of the stream: one
// entry per workflow and key, changed by reading it and writing it back on
// condition that it is still the last (Nats-Expected-Last-Subject-Sequence),
// again from the read when another sidecar changed it meanwhile.
//
//	ORBIT.c.<hash of workflow and key>   {"workflow", "key", "limit", "holders", "queue"}
//
// A release writes the entry, the wake-ups of the queued instances it
// admits and the cancel of the releasing instance's takeover guard in one
// atomic batch, so an admitted instance is never left without its
// wake-up. An instance that ended without giving its slot back (its
// sidecar died in between) is woken by its guard and released by whichever
// sidecar takes it; an acquire that finds every slot taken also frees the
// places of instances that ended, or that were never stored.

// slotEntry is one key's slots as stored.
type slotEntry struct {
	Workflow string      `json:"workflow"`
	Key      string      `json:"key"`
	Limit    int         `json:"limit"`
	Holders  []slotPlace `json:"holders,omitempty"`
	Queue    []slotPlace `json:"queue,omitempty"` // in arrival order
}

// slotPlace is an instance holding a slot or waiting for one.
type slotPlace struct {
	ID string `json:"id"`
	// At is when it took its place (Unix ns): a place whose instance is
	// not stored after neverStoredAfter was left by a start that failed.
	At int64 `json:"at"`
}

// slotRetries bounds the re-reads of one acquire or release that keeps
// meeting other sidecars' changes to the same key.
const slotRetries = 50

func (s subjects) slots(k store.SlotKey) string {
	sum := sha256.Sum256([]byte(k.Workflow + "\x00" + k.Key))
	return s.root + ".c." + hex.EncodeToString(sum[:16])
}

// readSlots reads a key's entry from the stream leader and its sequence
// (0: none), on which the next write is conditioned.
func (s *Store) readSlots(ctx context.Context, k store.SlotKey) (slotEntry, uint64, error) {
	e := slotEntry{Workflow: k.Workflow, Key: k.Key}
	var m *jetstream.RawStreamMsg
	err := s.retry(ctx, "read slots of "+k.Workflow+" key "+k.Key, func(ctx context.Context) (err error) {
		m, err = s.stream.GetLastMsgForSubject(ctx, s.subj.slots(k))
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, 0, nil
	}
	if err != nil {
		return e, 0, err
	}
	if deleted(m.Header) {
		return e, m.Sequence, nil
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, 0, fmt.Errorf("nats: slots of %s key %s: %w", k.Workflow, k.Key, err)
	}
	return e, m.Sequence, nil
}

// writeSlots writes a key's entry on condition that seq is still its
// last, with extra messages in the same atomic batch. An entry nobody
// holds or waits for is replaced by a deletion marker.
func (s *Store) writeSlots(ctx context.Context, k store.SlotKey, e *slotEntry, seq uint64, extra ...*natsgo.Msg) error {
	h := natsgo.Header{}
	var data []byte
	if len(e.Holders) == 0 && len(e.Queue) == 0 {
		h = marker()
	} else {
		var err error
		if data, err = json.Marshal(e); err != nil {
			return err
		}
	}
	h.Set(hdrExpectLastSubj, strconv.FormatUint(seq, 10))
	msgs := append([]*natsgo.Msg{{Subject: s.subj.slots(k), Header: h, Data: data}}, extra...)
	err := s.retry(ctx, "write slots of "+k.Workflow+" key "+k.Key, func(ctx context.Context) error {
		_, err := s.publishAtomic(ctx, msgs)
		return err
	})
	if err == nil {
		s.commits.Add(1)
	}
	return err
}

// AcquireSlot gives id a slot of k, or a place in its queue.
func (s *Store) AcquireSlot(ctx context.Context, k store.SlotKey, limit int, id string) (bool, error) {
	for try := 0; ; try++ {
		e, seq, err := s.readSlots(ctx, k)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(e.Holders, isPlace(id)) {
			return true, nil
		}
		e.Limit = max(limit, 1)
		now := time.Now().UnixNano()
		changed := false
		if !slices.ContainsFunc(e.Queue, isPlace(id)) {
			e.Queue = append(e.Queue, slotPlace{ID: id, At: now})
			changed = true
		}
		if len(e.Holders) >= e.Limit {
			// Every slot is taken: free those of instances that are gone.
			freed, err := s.dropGone(&e.Holders, now)
			if err != nil {
				return false, err
			}
			changed = changed || freed
		}
		queued := len(e.Queue)
		wake, admitted, err := s.admit(&e, id, now)
		if err != nil {
			return false, err
		}
		changed = changed || admitted || len(e.Queue) != queued
		if !changed {
			return false, nil
		}
		err = s.writeSlots(ctx, k, &e, seq, s.wakeMsgs(wake)...)
		if err == nil {
			return slices.ContainsFunc(e.Holders, isPlace(id)), nil
		}
		if !wrongSequence(err) || try == slotRetries {
			return false, err
		}
	}
}

// ReleaseSlot gives id's slot or queue place of k back and wakes the
// queued instances that get a slot, in one write that also cancels id's
// takeover guard.
func (s *Store) ReleaseSlot(ctx context.Context, k store.SlotKey, id string) error {
	for try := 0; ; try++ {
		e, seq, err := s.readSlots(ctx, k)
		if err != nil {
			return err
		}
		subject, h := s.guardMsg(id, false)
		unguard := &natsgo.Msg{Subject: subject, Header: h}
		held, queued := slices.IndexFunc(e.Holders, isPlace(id)), slices.IndexFunc(e.Queue, isPlace(id))
		switch {
		case held >= 0:
			e.Holders = slices.Delete(e.Holders, held, held+1)
		case queued >= 0:
			e.Queue = slices.Delete(e.Queue, queued, queued+1)
		default:
			// Freed already (another sidecar found the instance ended):
			// only the guard is left to cancel.
			return s.retry(ctx, "cancel the takeover guard of "+id, func(ctx context.Context) error {
				_, err := s.js.PublishMsg(ctx, unguard)
				return err
			})
		}
		wake, _, err := s.admit(&e, "", time.Now().UnixNano())
		if err != nil {
			return err
		}
		err = s.writeSlots(ctx, k, &e, seq, append(s.wakeMsgs(wake), unguard)...)
		if err == nil || !wrongSequence(err) || try == slotRetries {
			return err
		}
	}
}

// admit moves queued instances into free slots, in arrival order,
// dropping the places of instances that are gone. One whose start is not
// stored yet keeps its place and is passed over: its starter asks again
// once it stored it. It returns the ones to wake (all but self, whose
// caller runs it) and whether self was admitted.
func (s *Store) admit(e *slotEntry, self string, now int64) (wake []string, admitted bool, err error) {
	limit := max(e.Limit, 1)
	kept := e.Queue[:0]
	for _, p := range e.Queue {
		if len(e.Holders) >= limit {
			kept = append(kept, p)
			continue
		}
		if p.ID != self {
			st, err := s.placeOf(p, now)
			if err != nil {
				return nil, false, err
			}
			if st == placeGone {
				continue
			}
			if st == placeUnstored {
				kept = append(kept, p)
				continue
			}
			wake = append(wake, p.ID)
		} else {
			admitted = true
		}
		e.Holders = append(e.Holders, slotPlace{ID: p.ID, At: now})
	}
	clear(e.Queue[len(kept):])
	e.Queue = kept
	return wake, admitted, nil
}

// dropGone removes the places of instances that are gone and reports
// whether it removed any.
func (s *Store) dropGone(places *[]slotPlace, now int64) (bool, error) {
	kept := (*places)[:0]
	for _, p := range *places {
		st, err := s.placeOf(p, now)
		if err != nil {
			return false, err
		}
		if st != placeGone {
			kept = append(kept, p)
		}
	}
	dropped := len(kept) < len(*places)
	clear((*places)[len(kept):])
	*places = kept
	return dropped, nil
}

// placeState is what became of the instance of a slot place.
type placeState int

const (
	placeLive     placeState = iota // stored and not ended
	placeUnstored                   // not stored yet: its start is being written
	placeGone                       // ended, or not stored long after it took its place
)

// placeOf reads a place's instance. One never stored although it took
// its place long ago was left by a start that failed, or by a sidecar
// that died before storing it.
func (s *Store) placeOf(p slotPlace, now int64) (placeState, error) {
	in, err := s.Instance(p.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if time.Duration(now-p.At) > s.neverStoredAfter() {
			return placeGone, nil
		}
		return placeUnstored, nil
	case errors.Is(err, store.ErrDamaged):
		return placeLive, nil // it keeps its place until it is repaired or deleted
	case err != nil:
		return placeLive, err
	case in.Status.Terminal():
		return placeGone, nil
	}
	return placeLive, nil
}

// neverStoredAfter is how long a place waits for its instance's first
// checkpoint: longer than a start's write may be retried.
func (s *Store) neverStoredAfter() time.Duration {
	return s.opts.RetryFor + 2*s.leaseTTL
}

func (s *Store) wakeMsgs(ids []string) []*natsgo.Msg {
	msgs := make([]*natsgo.Msg, 0, len(ids)+1)
	for _, id := range ids {
		msgs = append(msgs, &natsgo.Msg{Subject: s.subj.wake(id), Header: natsgo.Header{}})
	}
	return msgs
}

func isPlace(id string) func(slotPlace) bool {
	return func(p slotPlace) bool { return p.ID == id }
}
