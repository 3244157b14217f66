//go:build !wasip1

package pdk

import "unsafe"

// Handle runs one exported call. Outside a wasm guest there is no host to
// call it, so it panics; test handlers through Typed instead.
func Handle[In, Out any](ptr, size uint32, fn func(In) (Out, error)) uint64 {
	panic("pdk: Handle is only usable in a wasm guest; test the handler with pdk.Typed")
}

// HandleRaw is Handle for a raw Handler; it too panics outside a guest.
func HandleRaw(ptr, size uint32, h Handler) uint64 {
	panic("pdk: HandleRaw is only usable in a wasm guest; test the Handler directly")
}

// Outside a guest every host function is unavailable.

func rawLog(int32, unsafe.Pointer, uint32) {}

func rawConfigGet(unsafe.Pointer, uint32, unsafe.Pointer, uint32) int32 { return codeUnavailable }

func rawKVGet(unsafe.Pointer, uint32, unsafe.Pointer, uint32) int32 { return codeUnavailable }

func rawKVPut(unsafe.Pointer, uint32, unsafe.Pointer, uint32) int32 { return codeUnavailable }

func rawHTTPRequest(unsafe.Pointer, uint32, unsafe.Pointer, uint32) int32 { return codeUnavailable }

func rawContextGet(unsafe.Pointer, uint32) int32 { return codeUnavailable }

func rawRead(unsafe.Pointer, uint32) int32 { return codeNoData }
