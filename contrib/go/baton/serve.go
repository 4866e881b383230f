// SPDX-License-Identifier: MIT

package baton

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IdleGrace is how long a keep-alive connection must have been idle, counted from the later of
// its last response and the start of the drain, before a draining server closes it: long
// enough for a request the client had already sent to arrive and be answered.
const IdleGrace = time.Second

// idleGrace is IdleGrace; the tests shorten it.
var idleGrace = IdleGrace

// pollInterval is how often a drain looks for connections that have become idle long enough.
const pollInterval = 25 * time.Millisecond

// Serve serves HTTP on ln with srv until SIGTERM (or SIGINT), then drains without losing a
// request and returns nil once nothing is left; any other return is an error from srv.Serve.
// It sends READY=1 once it serves and STOPPING=1 when the drain begins; when READY=1 cannot be
// sent (a NOTIFY_SOCKET nobody listens on), it drains at once and returns that error.
//
// The drain, as docs/protocol.md §3 asks:
//
//  1. it closes ln, this process's copy of the shared socket: the other generation goes on
//     accepting on the same socket, so no connection is refused;
//  2. every request from now on is answered with "Connection: close", so busy keep-alive
//     connections end at a request boundary;
//  3. a connection that is idle is closed only once it has been idle for IdleGrace since the
//     later of its last response and the start of the drain (a request already on the wire
//     arrives meanwhile and is answered, with "Connection: close");
//  4. Serve returns when no connection is left.
//
// It does not use Server.Shutdown or SetKeepAlivesEnabled(false) to drain: both close idle
// keep-alive connections at once, and a request the client had just sent on one is reset. Nor
// does it return when srv.Serve does (srv.Serve returns http.ErrServerClosed at the start of a
// Shutdown, with requests still running): Serve returns only after the last connection closed,
// so `log.Fatal(baton.Serve(srv, ln))` and `os.Exit` after it lose nothing. A Shutdown or
// Close called elsewhere is waited for the same way and returns nil.
//
// A second stop signal during the drain closes every connection at once (srv.Close), busy or
// not, and Serve returns without waiting for the handlers still running. The
// supervisor bounds a drain by app.drain_timeout anyway. Serve sets srv.Handler (nil means
// http.DefaultServeMux) and srv.ConnState to wrappers that call the ones already set.
// Hijacked connections (WebSockets) are the application's to close. For TLS, pass a
// tls.NewListener.
func Serve(srv *http.Server, ln net.Listener) error {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	stop, force, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer close(done)
	go func() {
		for _, ch := range []chan struct{}{stop, force} {
			select {
			case <-sig:
				close(ch)
			case <-done:
				return
			}
		}
	}()
	return serve(srv, ln, stop, force)
}

// ServeContext is Serve with the drain started by ctx instead of a signal (for a service that
// handles signals itself: signal.NotifyContext). It has no forced stop; cancel nothing else.
func ServeContext(ctx context.Context, srv *http.Server, ln net.Listener) error {
	return serve(srv, ln, ctx.Done(), nil)
}

// tracker knows, for each open connection, since when it has been idle (zero while busy).
type tracker struct {
	mu       sync.Mutex
	conns    map[net.Conn]time.Time
	draining atomic.Bool
}

func (t *tracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateNew, http.StateIdle:
		t.conns[c] = time.Now()
	case http.StateActive:
		t.conns[c] = time.Time{}
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	}
}

// closeIdle closes the connections idle for grace since the later of their last response and
// drainStart, and returns how many connections remain.
func (t *tracker) closeIdle(drainStart time.Time, grace time.Duration) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, idle := range t.conns {
		if idle.IsZero() {
			continue
		}
		if idle.Before(drainStart) {
			idle = drainStart
		}
		if time.Since(idle) >= grace {
			c.Close()
			delete(t.conns, c)
		}
	}
	return len(t.conns)
}

func serve(srv *http.Server, ln net.Listener, stop, force <-chan struct{}) error {
	t := &tracker{conns: map[net.Conn]time.Time{}}
	inner := srv.Handler
	if inner == nil {
		inner = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.draining.Load() {
			w.Header().Set("Connection", "close") // net/http closes after this response
		}
		inner.ServeHTTP(w, r)
	})
	userState := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		t.track(c, s)
		if userState != nil {
			userState(c, s)
		}
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// ln listened before Serve started: connections made before this point wait in the
	// kernel's queue, so saying READY now loses nothing.
	readyErr := Ready()

	var err error
	serving := true
	if readyErr == nil {
		select {
		case <-stop:
		case err = <-served:
			serving = false
		}
	}
	t.draining.Store(true)
	start := time.Now()
	ln.Close()
	Stopping() // after the close: STOPPING=1 means this process no longer accepts
	if serving {
		// srv.Serve registers each connection (StateNew) before it accepts the next one, so
		// once it has returned every accepted connection is tracked.
		err = <-served
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil // a drain, ours or a Shutdown/Close called elsewhere
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for t.closeIdle(start, idleGrace) > 0 {
		select {
		case <-tick.C:
		case <-force:
			// Closes every connection, busy or not; handlers still running are abandoned.
			srv.Close()
			return err
		}
	}
	// Nothing is left: Shutdown only runs the RegisterOnShutdown hooks and marks srv closed.
	srv.Shutdown(context.Background())
	if readyErr != nil {
		return readyErr
	}
	return err
}
