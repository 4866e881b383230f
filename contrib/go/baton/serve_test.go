// SPDX-License-Identifier: MIT

package baton

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// receiver plays the supervisor's NOTIFY_SOCKET.
type receiver struct {
	conn *net.UnixConn
	msgs chan string
}

func newReceiver(t *testing.T, name string) *receiver {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{conn: conn, msgs: make(chan string, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(r.msgs)
				return
			}
			r.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return r
}

func (r *receiver) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-r.msgs:
		if got != want {
			t.Fatalf("notify message %q; want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no notify message; want %q", want)
	}
}

func TestNotifyPathAndAbstract(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		fmt.Sprintf("@baton-go-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
	} {
		r := newReceiver(t, name)
		if err := Ready(); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "READY=1")
		if err := Status("line one\nREADY=1\r"); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "STATUS=line one READY=1 ")
		if err := Notify("STOPPING=1\nSTATUS=bye"); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "STOPPING=1\nSTATUS=bye")
	}
}

func TestNotifyUnsupervisedAndRefused(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Errorf("empty NOTIFY_SOCKET: %v; want nil (not supervised)", err)
	}
	os.Unsetenv("NOTIFY_SOCKET")
	if err := Ready(); err != nil {
		t.Errorf("unset NOTIFY_SOCKET: %v; want nil (not supervised)", err)
	}
	for _, bad := range []string{"relative/path", "vsock:2:999"} {
		t.Setenv("NOTIFY_SOCKET", bad)
		if err := Ready(); !errors.Is(err, syscall.EAFNOSUPPORT) {
			t.Errorf("NOTIFY_SOCKET=%q: %v; want EAFNOSUPPORT", bad, err)
		}
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody"))
	if err := Ready(); err == nil {
		t.Error("a NOTIFY_SOCKET nobody listens on: no error")
	}
}

// client is one keep-alive HTTP/1.1 connection.
type client struct {
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{conn: c, br: bufio.NewReader(c)}
}

func (c *client) send(path string) error {
	_, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path)
	return err
}

func (c *client) read() (*http.Response, string, error) {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

func (c *client) get(t *testing.T, path string) *http.Response {
	t.Helper()
	if err := c.send(path); err != nil {
		t.Fatal(err)
	}
	resp, body, err := c.read()
	if err != nil || resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("GET %s: %v %q %v", path, resp, body, err)
	}
	return resp
}

// closedCleanly waits for the server to close the connection with a FIN (EOF), not a reset.
func (c *client) closedCleanly(t *testing.T, within time.Duration) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(within))
	n, err := c.br.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Fatalf("connection not closed cleanly within %v: %d bytes, %v", within, n, err)
	}
}

// slowHandler answers "/" at once and "/slow" when release is closed.
func slowHandler(entered chan<- struct{}, release <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "hello")
	})
	return mux
}

func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// The drain of docs/protocol.md §3: a request sent on an idle keep-alive connection after the
// drain began is answered (with Connection: close), a request in flight finishes, idle
// connections are closed cleanly after the grace period, and Serve returns only then.
func TestServeDrainsWithoutLoss(t *testing.T) {
	notify := newReceiver(t, filepath.Join(t.TempDir(), "notify"))
	ln := loopback(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := &http.Server{Handler: slowHandler(entered, release)}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	returned := make(chan error, 1)
	go func() { returned <- ServeContext(ctx, srv, ln) }()
	notify.expect(t, "READY=1")

	idle, busy, silent := dial(t, ln.Addr().String()), dial(t, ln.Addr().String()), dial(t, ln.Addr().String())
	if resp := idle.get(t, "/"); resp.Close {
		t.Fatal("keep-alive refused before the drain")
	}
	busy.send("/slow")
	<-entered

	stop()
	notify.expect(t, "STOPPING=1")
	// The request that Server.Shutdown loses: on a connection that was idle when the drain began.
	if resp := idle.get(t, "/"); !resp.Close {
		t.Error("a request after the drain began was not answered with Connection: close")
	}
	idle.closedCleanly(t, 2*time.Second)
	select {
	case err := <-returned:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if resp, body, err := busy.read(); err != nil || resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("the request in flight at the drain: %v %q %v", resp, body, err)
	}
	// The busy connection, now idle, and the connection that never sent a request are closed
	// after the grace period, with a FIN.
	busy.closedCleanly(t, 3*idleGrace)
	silent.closedCleanly(t, 3*idleGrace)
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Serve returned %v after a clean drain; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last connection closed")
	}
}

// A request that arrives within the grace period restarts it: the connection is closed only
// after it has been idle for the whole grace period since its last response.
func TestServeGraceCountsFromLastResponse(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	ln := loopback(t)
	srv := &http.Server{Handler: slowHandler(nil, nil)}
	ctx, stop := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	go func() { returned <- ServeContext(ctx, srv, ln) }()
	c := dial(t, ln.Addr().String())
	c.get(t, "/")
	start := time.Now()
	stop()
	for !c.get(t, "/").Close {
		// Until the drain has begun. The Connection: close answer ends this connection.
	}
	c.closedCleanly(t, 2*time.Second)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 3*idleGrace {
		t.Errorf("drain took %v", time.Since(start))
	}
}

// Why Serve exists: with plain net/http, srv.Serve returns ErrServerClosed as soon as Shutdown
// begins, while requests still run (log.Fatal(srv.Serve(ln)) then exits and loses them), and
// Shutdown closes idle keep-alive connections at once, so a request the client sends on one
// (it could not know) fails. If a Go release changes either, this test says so.
func TestPlainShutdownIdiomLosesRequests(t *testing.T) {
	ln := loopback(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := &http.Server{Handler: slowHandler(entered, release)}
	returned := make(chan error, 1)
	go func() { returned <- srv.Serve(ln) }()
	idle, busy := dial(t, ln.Addr().String()), dial(t, ln.Addr().String())
	idle.get(t, "/")
	busy.send("/slow")
	<-entered
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Shutdown(context.Background()) }()
	select {
	case err := <-returned:
		if err != http.ErrServerClosed {
			t.Fatalf("srv.Serve returned %v", err)
		}
		// log.Fatal(err) would exit here, with /slow still running.
	case <-time.After(5 * time.Second):
		t.Fatal("srv.Serve did not return at Shutdown: Go changed, revisit the docs")
	}
	// Shutdown closes the idle keep-alive connection at once (with the request in flight still
	// running): a request the client sends on it now, or sent a moment ago, is lost.
	idle.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := idle.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Shutdown did not close the idle connection at once (%d, %v): Go changed, revisit the docs", n, err)
	}
	idle.send("/")
	if _, _, err := idle.read(); err == nil {
		t.Fatal("a request on an idle connection after Shutdown was answered")
	}
	close(release)
	wg.Wait()
}

// A Shutdown called elsewhere makes srv.Serve return ErrServerClosed at once; baton.Serve
// still returns only after the request in flight was answered, and returns nil.
func TestServeWaitsForExternalShutdown(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	ln := loopback(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := &http.Server{Handler: slowHandler(entered, release)}
	returned := make(chan error, 1)
	go func() { returned <- ServeContext(context.Background(), srv, ln) }()
	busy := dial(t, ln.Addr().String())
	busy.send("/slow")
	<-entered
	go srv.Shutdown(context.Background())
	select {
	case err := <-returned:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if resp, _, err := busy.read(); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request in flight: %v %v", resp, err)
	}
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// Serve drains on SIGTERM; a second SIGTERM closes what is left at once.
func TestServeSignals(t *testing.T) {
	notify := newReceiver(t, filepath.Join(t.TempDir(), "notify"))
	ln := loopback(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	srv := &http.Server{Handler: slowHandler(entered, release)}
	returned := make(chan error, 1)
	go func() { returned <- Serve(srv, ln) }()
	notify.expect(t, "READY=1") // sent after signal.Notify: SIGTERM no longer kills the test
	busy := dial(t, ln.Addr().String())
	busy.send("/slow")
	<-entered
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	notify.expect(t, "STOPPING=1")
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after the drain began")
	}
	select {
	case err := <-returned:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second SIGTERM did not end the drain")
	}
	if _, _, err := busy.read(); err == nil {
		t.Error("the forced stop answered the request in flight")
	}
}
