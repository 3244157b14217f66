package store

// Dumper is a store that can list what Store reads only by name: every
// kept event of every instance and every plugin value of every namespace.
// With the Store interface's own listings (List, History, Timers,
// Bundles) it reaches everything a store holds, which is what moving a
// store's contents into another (orbit export, orbit import) needs.
type Dumper interface {
	// EachPending calls fn with every kept event, by instance, then name,
	// then seq.
	EachPending(fn func(PendingEvent) error) error
	// EachKV calls fn with every plugin value, by namespace, then key.
	EachKV(fn func(ns, key string, value []byte) error) error
}
