package main

import "runtime/debug"

// settle hands back, once the sidecar serves, the memory that starting it
// took and serving does not use: the heap that loading scripts, plugins
// and the store left unreachable (the runtime would return it over
// minutes), and the executable's pages that only the start ran or read
// (dropStartupPages).
func settle() {
	debug.FreeOSMemory()
	dropStartupPages()
}
