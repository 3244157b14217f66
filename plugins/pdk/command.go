package pdk

import (
	"io"
	"os"
)

// Main runs a WASI command plugin (built without -buildmode=c-shared): the
// host starts a fresh instance per call with the function's name as the
// first argument and the JSON input on stdin, and reads the reply from
// stdout. It is the slow kind — every call starts the Go runtime — for
// when a reactor is not an option.
//
//	func main() { pdk.Main(map[string]pdk.Handler{"score": pdk.Typed(score)}) }
func Main(handlers map[string]Handler) {
	var fn string
	if len(os.Args) > 1 {
		fn = os.Args[1]
	}
	input, err := io.ReadAll(os.Stdin)
	var reply []byte
	h, ok := handlers[fn]
	switch {
	case err != nil:
		reply = ErrorReply(Fail(errTaskFailed, "reading input: "+err.Error()))
	case !ok:
		reply = ErrorReply(Fail("Plugin.NotFound", "the command has no function "+fn))
	default:
		reply = h(input)
	}
	_, _ = os.Stdout.Write(reply)
}
