package httpcall

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is the client's fasthttp.RoundTripper: fasthttp's own round
// trip on a pooled connection (write the request, read the answer), made
// interruptible, so that a call runs on its caller's goroutine instead of
// one started per call, and a cancelled context still ends it at once.
// The exchange holds the connection while it writes and reads; a
// cancellation sets the connection's deadlines into the past, which wakes
// the write or read blocked on it, and the connection is closed.
//
// Only taking an idle connection is done inline: dialing one, or waiting
// for one to come free, cannot be interrupted, so a call that finds no
// idle connection is refused with errNoIdleConn and roundTrip makes it
// aside, as a call that cannot be interrupted is made. The take itself
// neither waits nor dials (idleOnly): another call may take the idle
// connection seen, and a call that then waited or dialed would not see
// its cancellation until a connection came.
type transport struct{}

// exchangeKey is the request's user value that names its exchange.
type exchangeKey struct{}

// exchangeOf is the exchange req belongs to, nil for a request of none.
func exchangeOf(req *fasthttp.Request) *exchange {
	if req == nil {
		return nil
	}
	x, _ := req.UserValue(exchangeKey{}).(*exchange)
	return x
}

// errNoIdleConn refuses an inline call that would have to dial or wait
// for a connection.
var errNoIdleConn = errors.New("httpcall: no idle connection to take inline")

// idleOnly is the wait of an inline call's AcquireConn: it takes an idle
// connection or fails at once, its wait for one to come free bounded by
// idleOnly and its dial refused by dial.
const idleOnly = time.Nanosecond

// dial opens the pool's connections as fasthttp's own dialer does, and
// refuses the dial of an inline call (idleOnly), which must not block.
func dial(addr string, timeout time.Duration) (net.Conn, error) {
	switch {
	case timeout == idleOnly:
		return nil, errNoIdleConn
	case timeout > 0:
		return fasthttp.DialTimeout(addr, timeout)
	}
	return fasthttp.Dial(addr)
}

// errInterrupted ends a call whose context was cancelled.
var errInterrupted = errors.New("httpcall: call interrupted")

// longAgo is a deadline in the past: it wakes a blocked read or write.
var longAgo = time.Unix(1, 0)

// RoundTrip makes the call of req on a connection of hc.
func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	x := exchangeOf(req)
	if x == nil || resp.StreamBody || hc.MaxConnDuration > 0 {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	wait := time.Until(x.deadline)
	if x.inline {
		if hc.IdleConnsCount() == 0 {
			return false, errNoIdleConn
		}
		if idleSeenHook != nil {
			idleSeenHook()
		}
		wait = idleOnly
	}
	cc, err := hc.AcquireConn(wait, req.ConnectionClose())
	if err != nil {
		if x.inline {
			return false, errNoIdleConn // taken by another call since
		}
		return false, err
	}
	conn := cc.Conn()
	// The deadlines are set before the connection is held, so that an
	// interruption's deadline in the past is never set over.
	if err := setDeadlines(hc, conn, x.deadline); err != nil {
		hc.CloseConn(cc)
		return true, err
	}
	if !x.hold(conn) {
		hc.ReleaseConn(cc) // nothing was written on it
		return false, errInterrupted
	}
	x.sent++
	retry, err = exchangeOn(hc, conn, req, resp)
	interrupted := x.letGo()
	if !interrupted && err == nil && !req.ConnectionClose() && !resp.ConnectionClose() {
		hc.ReleaseConn(cc)
		return false, nil
	}
	hc.CloseConn(cc)
	switch {
	case err == nil:
		// Answered, even if an interruption came as it was read: the
		// answer stands, the connection does not.
		return false, nil
	case interrupted:
		return false, errInterrupted
	}
	return retry, err
}

// setDeadlines bounds a call's write and read on conn by its deadline, as
// fasthttp's own transport does, the write by Client.WriteTimeout too.
func setDeadlines(hc *fasthttp.HostClient, conn net.Conn, deadline time.Time) error {
	if hc.WriteTimeout > 0 {
		if d := time.Now().Add(hc.WriteTimeout); d.Before(deadline) {
			if err := conn.SetWriteDeadline(d); err != nil {
				return err
			}
			return conn.SetReadDeadline(deadline)
		}
	}
	return conn.SetDeadline(deadline) // one call sets both
}

// exchangeOn writes req on conn and reads its answer into resp, as
// fasthttp's own transport does; retry says whether a failure may be
// resent.
func exchangeOn(hc *fasthttp.HostClient, conn net.Conn, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	resp.ParseNetConn(conn)
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		if isTimeout(err) {
			err = fasthttp.ErrTimeout
		}
		return true, err
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	if hc.DisableHeaderNamesNormalizing {
		resp.Header.DisableNormalizing()
	}
	br := hc.AcquireReader(conn)
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		// The same answer would come again: a body too large is not resent.
		return err != fasthttp.ErrBodyTooLarge, err
	}
	return false, nil
}

// interruptible is what an exchange of the pool, inline or aside, shares
// with the cancellation of its context.
type interruptible struct {
	mu          sync.Mutex
	conn        net.Conn // the connection the call holds, while it holds one
	interrupted bool
	// stopped hears that interrupt ran, when the context's AfterFunc
	// could not be stopped in time: the exchange is reused only after.
	stopped chan struct{}
}

// interrupt ends the call: the connection it holds, if any, is woken with
// a deadline in the past, and it takes none after this.
func (i *interruptible) interrupt() {
	i.mu.Lock()
	i.interrupted = true
	if i.conn != nil {
		i.conn.SetDeadline(longAgo)
	}
	i.mu.Unlock()
}

// hold records the connection the call writes and reads on; false when
// the call was interrupted already.
func (i *interruptible) hold(c net.Conn) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.interrupted {
		return false
	}
	i.conn = c
	return true
}

// letGo forgets the connection, reporting whether the call was
// interrupted while it held it (the connection is then closed).
func (i *interruptible) letGo() (interrupted bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.conn = nil
	return i.interrupted
}

// idleSeenHook, when set by a test, runs between an inline call's seeing
// an idle connection and its taking one; nil costs one comparison.
var idleSeenHook func()
