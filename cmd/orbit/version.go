package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func init() {
	register("version", "print version and build information", cmdVersion)
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "orbit %s\n", version)
	fmt.Fprintf(stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.time" || s.Key == "vcs.modified" {
				fmt.Fprintf(stdout, "%s: %s\n", s.Key, s.Value)
			}
		}
		for _, dep := range info.Deps {
			switch dep.Path {
			case "github.com/yuin/gopher-lua", "github.com/tetratelabs/wazero", "github.com/valyala/fasthttp", "go.etcd.io/bbolt":
				fmt.Fprintf(stdout, "%s: %s\n", dep.Path, dep.Version)
			}
		}
	}
	return 0
}
