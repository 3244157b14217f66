//go:build wasip1

// Command guest is the test plugin: one reactor whose exports each
// misbehave in one way, so that the tests compile a single module.
package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
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

// spam writes Lines lines of Size bytes through Via ("log", "stdout" or
// "stderr"); Lines 0 with Size n is one write of n bytes with no newline.
//
//go:wasmexport spam
func spam(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct {
		Via         string
		Lines, Size int
	}) (int, error) {
		line := bytes.Repeat([]byte("x"), in.Size)
		write := map[string]func([]byte){
			"log":    func(b []byte) { pdk.Log(pdk.LevelInfo, string(b)) },
			"stdout": func(b []byte) { os.Stdout.Write(append(b, '\n')) },
			"stderr": func(b []byte) { os.Stderr.Write(append(b, '\n')) },
		}[in.Via]
		if in.Lines == 0 {
			os.Stdout.Write(line)
			return 1, nil
		}
		for range in.Lines {
			write(line)
		}
		return in.Lines, nil
	})
}

// kv_fill writes Count values of Size bytes under Prefix0, Prefix1, ...
// and stops at the first refusal, which it names.
//
//go:wasmexport kv_fill
func kvFill(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct {
		Prefix      string
		Count, Size int
	}) (map[string]any, error) {
		value := bytes.Repeat([]byte("v"), in.Size)
		for i := range in.Count {
			if err := pdk.KVPut(in.Prefix+strconv.Itoa(i), value); err != nil {
				return map[string]any{"written": i, "quota": errors.Is(err, pdk.ErrQuota), "error": err.Error()}, nil
			}
		}
		return map[string]any{"written": in.Count}, nil
	})
}

// kv_delete deletes Key.
//
//go:wasmexport kv_delete
func kvDelete(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ Key string }) (any, error) { return nil, pdk.KVDelete(in.Key) })
}

// config looks Key up and names the refusal, if any.
//
//go:wasmexport config
func config(ptr, size uint32) uint64 {
	return pdk.Handle(ptr, size, func(in struct{ Key string }) (any, error) {
		_, err := pdk.KVGet(in.Key)
		v, ok := pdk.Config(in.Key)
		return map[string]any{"value": v, "found": ok, "kv_invalid": errors.Is(err, pdk.ErrInvalid)}, nil
	})
}

// big_reply answers a JSON string of Size bytes without decoding its input.
//
//go:wasmexport big_reply
func bigReply(ptr, size uint32) uint64 {
	return pdk.HandleRaw(ptr, size, func(input []byte) []byte {
		n, _ := strconv.Atoi(string(input))
		buf = append(buf[:0], `{"result":"`...)
		buf = append(buf, bytes.Repeat([]byte("r"), n)...)
		return append(buf, `"}`...)
	})
}
