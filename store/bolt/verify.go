package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// VerifyReport says what Verify checked in a data file that passed.
type VerifyReport struct {
	File      *FileReport
	Instances int // instance records
	Events    int // history events
	Hashed    int // history events that carry a chain hash
	Chains    int // instances whose history is hashed
	Pending   int // events kept for instances that do not await them yet
	Timers    int
	Bundles   int
}

// Verify checks everything a data file holds, without writing to it: its
// pages (CheckFile), then every record: each instance record decodes and
// agrees with its index entries, each instance's history is contiguous
// from event 1 and matches its hash chain up to the head the record keeps
// (store.ChainChecker), and every history event, kept event, timer and
// bundle belongs to something and decodes. It stops at the first problem
// and returns it: a *FileError for the file's structure, a
// *store.DamagedError for a record that does not decode or disagrees with
// its indexes, a *store.ChainError for a broken history chain. A file in
// use by a running Orbit cannot be verified (its lock is held); back it up
// over HTTP and verify the copy.
func Verify(path string) (*VerifyReport, error) {
	file, err := CheckFile(path)
	if err != nil {
		return nil, err
	}
	if err := pendingLog(path); err != nil {
		// Not damage: the next start applies the log. But what is checked
		// here is the file alone.
		file.Warnings = append(file.Warnings, err.Error()+"; verify checked the data file alone")
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	defer b.Close()
	rep := &VerifyReport{File: file}
	err = b.View(func(tx *bbolt.Tx) error {
		for _, name := range bucketNames {
			if tx.Bucket(name) == nil {
				return &store.DamagedError{Record: "bucket " + string(name), Err: errors.New("it is missing")}
			}
		}
		v := verifier{tx: tx, rep: rep}
		for _, step := range []func() error{v.instances, v.pending, v.timers, v.bundles} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// verifier walks one read transaction.
type verifier struct {
	tx  *bbolt.Tx
	rep *VerifyReport
}

// instances walks the instance records and, alongside, the history: both
// are in id order (a history chunk's key starts with "id 0x00", and ids
// hold no zero byte), so one pass of each cursor finds every instance's
// events and every event that belongs to no instance.
func (v *verifier) instances() error {
	hist := bucket(v.tx, bHistory).Cursor()
	hk, hv := hist.First()
	unfinished, list, ended := bucket(v.tx, bUnfinished), bucket(v.tx, bList), bucket(v.tx, bEnded)
	var key []byte
	c := bucket(v.tx, bInstances).Cursor()
	for k, rec := c.First(); k != nil; k, rec = c.Next() {
		id := string(k)
		in, err := decodeInstance(id, rec)
		if err != nil {
			return err
		}
		v.rep.Instances++
		damaged := func(format string, args ...any) error {
			return &store.DamagedError{Instance: id, Record: "instance", Err: fmt.Errorf(format, args...)}
		}
		start, end, _ := parseHeader(rec)
		if start != store.UnixNanos(in.StartedAt) || end != endNanos(in) {
			return damaged("its header's times (%d, %d) are not those of its JSON (%d, %d)", start, end, store.UnixNanos(in.StartedAt), endNanos(in))
		}
		if (unfinished.Get(k) != nil) == in.Status.Terminal() {
			return damaged("it is %s, but the index of unfinished instances says otherwise", in.Status)
		}
		if key = appendListKey(key[:0], start, id); list.Get(key) == nil {
			return damaged("the listing index has no entry for it")
		}
		if key = appendEndedKey(key[:0], end, id); in.Status.Terminal() && ended.Get(key) == nil {
			return damaged("it ended, but the index of ended instances has no entry for it")
		}

		if hk, err = v.orphans(hist, hk, id); err != nil {
			return err
		}
		chain := store.NewChainChecker(id)
		prefix := appendPrefix(nil, id)
		r := chunkReader{id: id, prefix: len(prefix)}
		for ; hk != nil && bytes.HasPrefix(hk, prefix); hk, hv = hist.Next() {
			if err := r.chunk(hk, hv, 0, chain.Add); err != nil {
				return err
			}
		}
		if err := chain.Finish(in); err != nil {
			return err
		}
		v.rep.Events += int(chain.Events())
		v.rep.Hashed += int(chain.Hashed())
		if chain.Hashed() > 0 {
			v.rep.Chains++
		}
	}
	_, err := v.orphans(hist, hk, "")
	return err
}

// orphans fails on a history event at hk that belongs to an instance
// before id in key order ("" : any), which has no record.
func (v *verifier) orphans(hist *bbolt.Cursor, hk []byte, id string) ([]byte, error) {
	if hk == nil {
		return nil, nil
	}
	i := bytes.IndexByte(hk, sep)
	if i < 0 {
		return nil, &store.DamagedError{Record: "history", Err: fmt.Errorf("malformed key %x", hk)}
	}
	if id != "" && string(hk[:i]) >= id {
		return hk, nil
	}
	return nil, &store.DamagedError{Instance: string(hk[:i]), Record: "history",
		Err: errors.New("it belongs to an instance that has no record")}
}

// pending checks that every kept event names its instance and holds JSON.
func (v *verifier) pending() error {
	return bucket(v.tx, bPending).ForEach(func(k, val []byte) error {
		i := bytes.IndexByte(k, sep)
		if i < 0 || len(k) < i+1+1+8 || k[len(k)-9] != sep {
			return &store.DamagedError{Record: "kept event", Err: fmt.Errorf("malformed key %x", k)}
		}
		id := string(k[:i])
		if bucket(v.tx, bInstances).Get(k[:i]) == nil {
			return &store.DamagedError{Instance: id, Record: "kept event", Err: errors.New("it belongs to an instance that has no record")}
		}
		if !json.Valid(val) {
			return &store.DamagedError{Instance: id, Record: fmt.Sprintf("kept event %q", k[i+1:len(k)-9]),
				Err: errors.New("its payload is not JSON")}
		}
		v.rep.Pending++
		return nil
	})
}

// timers checks that every timer key can be read.
func (v *verifier) timers() error {
	return bucket(v.tx, bTimers).ForEach(func(k, _ []byte) error {
		if _, ok := parseTimerKey(k); !ok {
			return &store.DamagedError{Record: "timer", Err: fmt.Errorf("malformed key %x", k)}
		}
		v.rep.Timers++
		return nil
	})
}

// bundles checks that every kept bundle decodes and is filed under its
// own hash.
func (v *verifier) bundles() error {
	return bucket(v.tx, bBundles).ForEach(func(k, val []byte) error {
		var bs store.BundleSources
		if err := json.Unmarshal(val, &bs); err != nil {
			return &store.DamagedError{Record: fmt.Sprintf("bundle %s", printable(k)), Err: err}
		}
		if bs.Hash != string(k) {
			return &store.DamagedError{Record: fmt.Sprintf("bundle %s", printable(k)), Err: fmt.Errorf("it names bundle %q", bs.Hash)}
		}
		v.rep.Bundles++
		return nil
	})
}
