package httpcall

import (
	"encoding/hex"
	"math/rand/v2"
)

// NewTraceParent returns a fresh W3C traceparent (version 00, sampled) for
// an instance that was started without one.
func NewTraceParent() string {
	// Trace ids need to be unique, not secret, so the fast runtime generator
	// is enough; all-zero ids are invalid and redrawn.
	var id [24]byte
	for {
		for i := 0; i < len(id); i += 8 {
			u := rand.Uint64()
			for j := range 8 {
				id[i+j] = byte(u >> (8 * j))
			}
		}
		if !allZero(id[:16]) && !allZero(id[16:]) {
			break
		}
	}
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], id[:16])
	b[35] = '-'
	hex.Encode(b[36:52], id[16:])
	copy(b[52:], "-01")
	return string(b[:])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// The attributes of an HTTP call's span, as OpenTelemetry's semantic
// conventions name them. The URL goes without its query, which may carry
// credentials expanded from the environment.
const (
	AttrMethod = "http.request.method"
	AttrURL    = "url.full"
	AttrStatus = "http.response.status_code"
)
