//go:build wasip1

package pdk

import "unsafe"

//go:wasmexport orbit_abi_version
func abiVersion() int32 { return ABIVersion }

// in is the input buffer the host writes into; reply is the last reply,
// kept reachable so that it stays valid until the host has read it. Calls
// into an instance never overlap, so one of each is enough.
var in, reply []byte

//go:wasmexport orbit_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(in)) < size {
		in = make([]byte, size)
	}
	in = in[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in))))
}

// Handle runs one exported call: it decodes the input the host placed at
// ptr, calls fn, and returns the packed reply the ABI expects.
func Handle[In, Out any](ptr, size uint32, fn func(In) (Out, error)) uint64 {
	return HandleRaw(ptr, size, Typed(fn))
}

// HandleRaw is Handle for a Handler that works on the JSON bytes itself,
// for plugins where decoding into Go values costs too much. The input is
// only valid during the call.
func HandleRaw(ptr, size uint32, h Handler) uint64 {
	var input []byte
	if size > 0 {
		input = in[:size] // ptr is where alloc put in
	}
	reply = h(input)
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(reply))))<<32 | uint64(len(reply))
}

//go:wasmimport orbit log
func rawLog(level int32, msg unsafe.Pointer, n uint32)

//go:wasmimport orbit config_get
func rawConfigGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbit kv_get
func rawKVGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbit kv_put
func rawKVPut(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport orbit http_request
func rawHTTPRequest(req unsafe.Pointer, reqLen uint32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbit context_get
func rawContextGet(buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbit read
func rawRead(buf unsafe.Pointer, bufCap uint32) int32
