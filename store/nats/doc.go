// Package nats is Orbit's shared store on NATS JetStream, for many
// sidecars that serve the same instances (servers 2.12 or newer).
//
// Layout. Everything lives in one stream (default ORBIT) whose subjects
// all start with the stream's name, so that one atomic batch can write any
// mix of entries. The stream keeps one message per subject
// (MaxMsgsPerSubject 1): a subject is a key, and a write replaces its
// value. Names that go into a subject token are escaped (subjects.go).
//
//	ORBIT.x.<id>.r                   instance record (JSON), index fields in headers
//	ORBIT.x.<id>.h.<seq>             history event (JSON)
//	ORBIT.x.<id>.t.<at ns>.<kind>    timer (no data)
//	ORBIT.x.<id>.p.<name>.<seq>      pending event (its payload)
//	ORBIT.b.<hash>                   bundle sources (JSON)
//	ORBIT.kv.<namespace>.<key>       plugin value
//	ORBIT.c.<hash>                   a concurrency key's slots and queue (slots.go)
//
// Every entry of an instance shares the prefix ORBIT.x.<id>, so a purge
// of ORBIT.x.<id>.> removes all of it. A record's headers carry its
// status, workflow, version, start and end, so that List, Count,
// Unfinished and Ended read headers only and load just the records a page
// shows. Numbers in subjects are zero-padded to 20 digits.
//
// Deletion. A deleted timer, pending event, bundle or plugin value is
// replaced by a marker (header Orbit-Deleted) that readers treat as absent
// and that the server drops after ten minutes (a per-message TTL), so a
// deletion is an ordinary write and can join an atomic batch.
//
// Writes. Commit validates and encodes its batch in the caller's
// goroutine and queues it. Two committers each take the first queued
// batch plus every batch that queued meanwhile, up to the server's limit of
// 1000 messages for one atomic batch, and publish them as one atomic batch
// (the Nats-Batch-* headers): the stream stores all of it or none. Commit
// returns once the servers acknowledged the batch, which with replicas
// means a majority stored it. Requests that time out or meet a leader
// election are retried for Options.RetryFor.
//
// Reads go to the stream leader (direct gets are off), so a read sees
// every write acknowledged before it. One entry is read by subject; a few
// (an instance's history or pending events) one request at a time; many
// (all records, timers or bundles) through a short-lived consumer that
// delivers the last message of each subject.
//
// Durability. A NATS server acknowledges a write once it is in its
// operating system's buffers and, with replicas, on a majority of
// servers; it flushes to disk every two minutes unless it runs with
// sync_interval: always. Replicas are the protection against a crash;
// the scale-out page of the documentation says what each setting costs.
package nats
