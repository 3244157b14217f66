//go:build wasip1

// Command guest is the test plugin: one reactor whose exports each
// misbehave in one way, so that the tests compile a single module.
package main

import (
	"errors"
	"os"
	"time"

	"github.com/orbit-sidecar/orbit/plugins/pdk"
)

func main() {}

//go:wasmexport echo
func echo(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in any) (any, error) { return in, nil })
}

// echo_raw answers without decoding: the cost of the ABI alone.
//
//go:wasmexport echo_raw
func echoRaw(ptr, size uint32) uint64 {
	return pdk.HandleRaw(ptr, size, func(input []byte) []byte {
		return append(append(append(buf[:0], `{"result":`...), input...), '}')
	})
}

var buf []byte

//go:wasmexport fail
func fail(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ Name, Cause string }) (any, error) { return nil, pdk.Fail(in.Name, in.Cause) })
}

var calls int

// count tells how many calls this instance has served: 1 on a fresh one.
//
//go:wasmexport count
func count(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(any) (int, error) { calls++; return calls, nil })
}

var sink int

//go:wasmexport loop
func loop(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(any) (any, error) {
		for i := 0; ; i++ {
			sink += i
		}
	})
}

//go:wasmexport sleep
func sleep(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(any) (any, error) {
		time.Sleep(time.Hour)
		return "woke", nil
	})
}

var hoard [][]byte

//go:wasmexport bomb
func bomb(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(any) (any, error) {
		for {
			hoard = append(hoard, make([]byte, 8<<20))
		}
	})
}

//go:wasmexport boom
func boom(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(any) (any, error) { panic("boom") })
}

//go:wasmexport open_file
func openFile(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ Path string }) (any, error) {
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return nil, pdk.Fail("File.Denied", err.Error())
		}
		return string(b), nil
	})
}

//go:wasmexport fetch
func fetch(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ URL string }) (any, error) {
		resp, err := pdk.HTTPRequest(pdk.Request{Method: "POST", URL: in.URL, Body: `{"q":1}`})
		switch {
		case errors.Is(err, pdk.ErrDenied):
			return nil, pdk.Fail("Fetch.Denied", err.Error())
		case err != nil:
			return nil, pdk.Fail("Fetch.Failed", err.Error())
		}
		return resp, nil
	})
}

//go:wasmexport host
func host(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ Key, Value string }) (any, error) {
		cfg, _ := pdk.Config("greeting")
		if err := pdk.KVPut(in.Key, []byte(in.Value)); err != nil {
			return nil, err
		}
		got, err := pdk.KVGet(in.Key)
		if err != nil {
			return nil, err
		}
		_, missing := pdk.KVGet("absent")
		tc, err := pdk.Context()
		if err != nil {
			return nil, err
		}
		pdk.Log(pdk.LevelInfo, "host functions exercised")
		return map[string]any{"config": cfg, "kv": string(got), "missing": errors.Is(missing, pdk.ErrNotFound), "context": tc}, nil
	})
}

//go:wasmexport wrong_shape
func wrongShape(a uint32) uint32 { return a }
