//go:build wasip1

// Command command is the test plugin of the command kind: a fresh
// instance per call, input on stdin, reply on stdout.
package main

import "github.com/orbit-sidecar/orbit/plugins/pdk"

func main() {
	pdk.Main(map[string]pdk.Handler{
		"echo": pdk.Typed(func(in any) (any, error) { return in, nil }),
		"fail": pdk.Typed(func(in struct{ Name, Cause string }) (any, error) { return nil, pdk.Fail(in.Name, in.Cause) }),
	})
}
