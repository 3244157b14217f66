// Package pdk is the kit for writing Orbit plugins in Go. A plugin is built
// with the standard toolchain as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o score.wasm .
//
// and exports one function per routine or hook through Handle:
//
//	//go:wasmexport score
//	func score(ptr, size uint32) uint64 { return pdk.Handle(ptr, size, scoreOrder) }
//
//	func scoreOrder(in Order) (Score, error) { ... }
//
// Importing the package also exports what the ABI requires of every
// reactor (orbit_alloc, orbit_abi_version). Inside the guest, Log,
// Config, KVGet, KVPut, HTTPRequest and Context reach the host; Fail
// returns a named error that workflows retry and catch by name. A program
// that cannot be a reactor can be a WASI command instead (see Main).
//
// Outside a wasm guest the package still compiles, so that handlers can be
// unit-tested with go test; the host calls then fail with ErrUnavailable.
package pdk
