package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UnmatchedRoute is the route label of a request no route pattern matched.
const UnmatchedRoute = "unmatched"

// methods are the label values of request methods; any other is "other".
var methods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE", "OPTIONS": "OPTIONS",
}

type requestKey struct {
	route, method string
	status        int
}

// requestSeries are the two series one kind of request moves.
type requestSeries struct {
	count prometheus.Counter
	time  prometheus.Observer
}

// OnRequest counts one request to the HTTP API and times it: route is the
// pattern it matched (UnmatchedRoute for none), never its path.
func (m *Metrics) OnRequest(route string, method []byte, status int, took time.Duration) {
	meth, ok := methods[string(method)] // a lookup by string(b) does not allocate
	if !ok {
		meth = "other"
	}
	if status < 100 || status > 999 {
		status = 0
	}
	s := m.reqSeries.get(requestKey{route, meth, status}, func() requestSeries {
		return requestSeries{
			count: m.requests.WithLabelValues(route, meth, strconv.Itoa(status)),
			time:  m.reqTime.WithLabelValues(route, meth),
		}
	})
	s.count.Inc()
	s.time.Observe(took.Seconds())
}
