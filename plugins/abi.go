package plugins

// This file is the ABI between Orbit and a plugin module, version 1. The
// plugin guide (docs/plugins.md) explains it for authors; this is the
// reference the host and the authoring kits (plugins/pdk) implement.
//
// # Module kinds
//
// A reactor (the fast kind) is a WASI preview 1 module that does not export
// `_start`. It exports:
//
//	memory                                   its linear memory
//	orbit_abi_version() -> i32               must return ABIVersion (1)
//	orbit_alloc(size i32) -> i32             a buffer of size bytes the host may write
//	<func>(ptr i32, len i32) -> i64          one per routine or hook
//	_initialize()                            optional; run once per instance
//
// One instance serves many calls, one at a time. A call is: the host
// writes the JSON input into an input buffer and calls <func>(ptr, len).
// The function returns (replyPtr << 32) | replyLen; the reply must stay
// readable until the next call into the instance (a guest keeps one
// growing buffer for it). An empty input is passed as (0, 0).
//
// The input buffer comes from orbit_alloc(n): it holds n bytes and stays
// reserved for input until the next orbit_alloc, so the host reuses it for
// every input of up to n bytes and calls orbit_alloc only for a larger
// one. The guest reads the input only during the call.
//
// A command (the portable kind, for languages that cannot export
// functions) exports `_start` and `memory`. Each call runs a fresh instance
// with the JSON input on stdin and the arguments [plugin name, func]; the
// reply is what it writes to stdout. A non-zero exit status is a trap.
//
// # Reply
//
// A reply is one UTF-8 JSON object, either {"result": <any JSON>} or
// {"error": "<Name>", "cause": "<text>"}, of at most 16 MiB. An empty reply
// means a null result. A named error is matched by retry and catch like any other; a
// reply that is neither is Plugin.Trap.
//
// # Host functions (import module "orbit")
//
//	log(level i32, ptr i32, len i32)                          level: 0 debug, 1 info, 2 warn, 3 error
//	config_get(key_ptr, key_len, buf_ptr, buf_cap i32) -> i32 the manifest's config[key]
//	kv_get(key_ptr, key_len, buf_ptr, buf_cap i32) -> i32     the plugin's key-value store
//	kv_put(key_ptr, key_len, val_ptr, val_len i32) -> i32     0 on success; an empty value deletes
//	http_request(req_ptr, req_len, buf_ptr, buf_cap i32) -> i32
//	context_get(buf_ptr, buf_cap i32) -> i32                  the task's context as JSON
//	read(buf_ptr, buf_cap i32) -> i32                         the pending value (see below)
//
// A function that yields a value returns its full length n >= 0. When
// n <= buf_cap the value was written to buf; otherwise nothing was written
// and the value is held as pending: the guest allocates n bytes and calls
// read. A negative return is an error code (Code*), and an explanation is
// pending for read. Each host call replaces what was pending.
//
// http_request takes {"method", "url", "headers": {..}, "body": "<text>",
// "timeout_ms": n} and yields {"status", "headers": {..}, "body": "<text>"}.
// Only hosts in the manifest's allowed_hosts are reachable; the call carries
// the task's Idempotency-Key, Orbit-* and traceparent headers unless the
// guest sets them. A non-2xx status is a response, not an error.
//
// Keys are at most 1 KiB, values 1 MiB, a request and a response body
// 16 MiB each, and a plugin's keys and values together at most its
// manifest's kv_quota (CodeQuota).
//
// context_get yields {"instance", "workflow", "version", "state",
// "attempt", "visit", "idempotency_key", "traceparent"}.
//
// # WASI
//
// Instances get WASI preview 1 with: no preopened directories (every file
// open fails), no sockets, no environment, real wall and monotonic clocks,
// cryptographic random bytes, stdout and stderr into Orbit's log (with log,
// at most 256 lines and 64 KiB per call; the rest is dropped and counted),
// and sleeps that end with the call's deadline.

// ABIVersion is the ABI version this host implements; a reactor's
// orbit_abi_version must return it.
const ABIVersion = 1

// Host function result codes (negative returns of the orbit imports).
const (
	CodeNotFound = -1 // config key or KV key absent
	CodeDenied   = -2 // the URL's host is not in allowed_hosts
	CodeInvalid  = -3 // malformed request, or a pointer outside memory
	CodeFailed   = -4 // the operation failed (connection error, store error)
	CodeNoData   = -5 // read with nothing pending
	CodeQuota    = -6 // kv_put would take the plugin over its kv_quota
)

// Names of the ABI's exports and import modules.
const (
	exportMemory     = "memory"
	exportABIVersion = "orbit_abi_version"
	exportAlloc      = "orbit_alloc"
	exportInitialize = "_initialize"
	exportStart      = "_start"
	importOrbit      = "orbit"
	importWASI       = "wasi_snapshot_preview1"
)

// Kinds of module.
const (
	KindReactor = "reactor" // exports functions; pooled instances serve many calls
	KindCommand = "command" // exports _start; a fresh instance per call
)
