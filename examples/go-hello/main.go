// go-hello is the classic Go net/http hello world, changed only so that it can be replaced
// by a new version without losing a single request:
//
//   - it takes its listening socket from its supervisor (baton or systemd) when given one,
//   - it says READY=1 once it serves, and
//   - on SIGTERM it drains: stops accepting, finishes what it has, and exits.
//
// Everything here is the standard library; the protocol is systemd's (see docs/protocol.md).
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func helloWorld(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Hello, World!")
}

func main() {
	http.HandleFunc("/", helloWorld)

	ln, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-hello:", err)
		os.Exit(1)
	}
	conns := &tracker{conns: map[net.Conn]idleSince{}}
	srv := &http.Server{Handler: closeWhenDraining(http.DefaultServeMux), ConnState: conns.track}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)

	fmt.Println("Starting server at", ln.Addr())
	go srv.Serve(ln)
	// The socket was listening before Serve started, so connections made before this point
	// wait in the kernel's queue: saying READY now loses nothing.
	if err := notify("READY=1"); err != nil {
		fmt.Fprintln(os.Stderr, "go-hello: notify:", err)
	}

	<-stop
	notify("STOPPING=1")
	drain(srv, ln, conns)
}

// listener returns the socket passed as fd 3 by a supervisor (systemd's LISTEN_FDS and
// LISTEN_PID), or listens on :8080 as the original program did.
func listener() (net.Listener, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	// Children of this program must not think the sockets are theirs.
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid != os.Getpid() || n < 1 {
		return net.Listen("tcp", ":8080")
	}
	f := os.NewFile(3, "listener")
	defer f.Close() // FileListener works on its own duplicate
	return net.FileListener(f)
}

// notify sends one message to the supervisor's NOTIFY_SOCKET, if there is one. Go's net
// package reads a leading '@' as Linux's abstract socket namespace, as systemd does.
func notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// Why not just srv.Shutdown(ctx)? Shutdown (and SetKeepAlivesEnabled(false), which does the
// same) closes idle keep-alive connections at once. A client may have sent its next request
// on such a connection a moment earlier: the request is in flight or in our receive buffer,
// and the close turns it into a reset. That is how servers lose requests on reload.
//
// Instead: stop accepting (the other generation accepts on the same socket), answer every
// request from now on with "Connection: close" so busy connections end at a request boundary,
// and close a connection only after it has been idle for idleGrace since the drain began,
// long enough for a request already on its way to arrive and be answered.
const idleGrace = time.Second

var draining atomic.Bool

func closeWhenDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close") // net/http then closes after the reply
		}
		h.ServeHTTP(w, r)
	})
}

func drain(srv *http.Server, ln net.Listener, conns *tracker) {
	draining.Store(true)
	ln.Close()
	start := time.Now()
	for conns.closeIdle(start, idleGrace) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing is left: Shutdown only tidies up. The supervisor's drain timeout bounds the
	// whole drain (it sends SIGKILL), so no deadline of our own is needed here.
	srv.Shutdown(context.Background())
}

// tracker knows, for each open connection, whether it is between requests and since when.
type tracker struct {
	mu    sync.Mutex
	conns map[net.Conn]idleSince
}

// idleSince is the time a connection went idle (or was accepted); zero while it is busy.
type idleSince time.Time

func (t *tracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateNew, http.StateIdle:
		t.conns[c] = idleSince(time.Now())
	case http.StateActive:
		t.conns[c] = idleSince{}
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	}
}

// closeIdle closes the connections that have been idle for grace, counting from the later of
// their last request and the start of the drain. It returns how many connections remain.
func (t *tracker) closeIdle(drainStart time.Time, grace time.Duration) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, since := range t.conns {
		idle := time.Time(since)
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
