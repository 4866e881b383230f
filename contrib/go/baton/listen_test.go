// SPDX-License-Identifier: MIT

package baton

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseCount(t *testing.T) {
	good := map[string]uint64{"0": 0, "1": 1, "007": 7, "4096": 4096}
	for s, want := range good {
		if got, ok := parseCount(s, 4096); !ok || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "+1", "-1", " 1", "1 ", "0x1", "1e3", "4097", "99999999999999999999999"} {
		if got, ok := parseCount(s, 4096); ok {
			t.Errorf("parseCount(%q) = %d, accepted", s, got)
		}
	}
}

func TestParseNames(t *testing.T) {
	cases := []struct {
		value string
		set   bool
		n     int
		want  []string
	}{
		{"", false, 2, []string{"unknown", "unknown"}},
		{"", true, 1, []string{"unknown"}},
		{"http", true, 2, []string{"http", "unknown"}},
		{"http:admin", true, 2, []string{"http", "admin"}},
		{":admin", true, 2, []string{"unknown", "admin"}},
		{"a b~", true, 1, []string{"a b~"}},
		{strings.Repeat("x", 255), true, 1, []string{strings.Repeat("x", 255)}},
	}
	for _, c := range cases {
		got, err := parseNames(c.value, c.set, c.n)
		if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("parseNames(%q, %d) = %v, %v; want %v", c.value, c.n, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		value string
		n     int
	}{{"a:b", 1}, {"a::", 2}, {"tab\there", 1}, {"é", 1}, {strings.Repeat("x", 256), 1}} {
		if got, err := parseNames(bad.value, true, bad.n); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("parseNames(%q, %d) = %v, %v; want EINVAL", bad.value, bad.n, got, err)
		}
	}
}

// helperReport is what the adoption helper (this test binary re-run as a child with listeners
// at fds 3…, as a supervisor starts a worker) prints.
type helperReport struct {
	Names  map[string][]string // name -> addresses
	Err    string
	Env    []string // LISTEN_* variables left in the environment
	Fd3    bool     // fd 3 is open after adoption (closed, or reused by Go for a duplicate)
	Cloexc bool     // fd 3 is close-on-exec (when still open)
	Again  bool     // a second Listeners() call returned the same listeners
}

func TestMain(m *testing.M) {
	if os.Getenv("BATON_TEST_HELPER") == "adopt" {
		adoptHelper()
		return
	}
	os.Exit(m.Run())
}

func adoptHelper() {
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())) // the supervisor writes the child's pid
	}
	var r helperReport
	all, err := Listeners()
	if err != nil {
		r.Err = err.Error()
	}
	r.Names = map[string][]string{}
	for name, lns := range all {
		for _, ln := range lns {
			r.Names[name] = append(r.Names[name], ln.Addr().String())
		}
	}
	again, _ := Listeners()
	r.Again = len(again) == len(all)
	for name := range all {
		r.Again = r.Again && len(again[name]) > 0 && again[name][0] == all[name][0]
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			r.Env = append(r.Env, kv)
		}
	}
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, 3, syscall.F_GETFD, 0)
	r.Fd3 = e == 0
	r.Cloexc = e == 0 && flags&syscall.FD_CLOEXEC != 0
	json.NewEncoder(os.Stdout).Encode(r)
}

// adoptIn runs the helper with files at fds 3… and the given LISTEN_* variables.
func adoptIn(t *testing.T, files []*os.File, env ...string) helperReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{"BATON_TEST_HELPER=adopt"}, env...)
	cmd.ExtraFiles = files
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var r helperReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("helper said %q: %v", out, err)
	}
	return r
}

func tcpListener(t *testing.T) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Cleanup(func() { f.Close() })
	return f, addr
}

func TestListenersByName(t *testing.T) {
	f1, a1 := tcpListener(t)
	f2, a2 := tcpListener(t)
	f3, a3 := tcpListener(t)
	r := adoptIn(t, []*os.File{f1, f2, f3}, "LISTEN_PID=self", "LISTEN_FDS=3", "LISTEN_FDNAMES=http:admin:http")
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if strings.Join(r.Names["http"], ",") != a1+","+a3 || strings.Join(r.Names["admin"], ",") != a2 {
		t.Errorf("names = %v; want http=[%s %s] admin=[%s]", r.Names, a1, a3, a2)
	}
	if len(r.Env) != 0 {
		t.Errorf("variables left in the environment: %v", r.Env)
	}
	if r.Fd3 && !r.Cloexc {
		t.Error("fd 3 is inherited by programs the service runs (not close-on-exec)")
	}
	if !r.Again {
		t.Error("a second Listeners() call did not return the same listeners")
	}
}

func TestListenersUnnamed(t *testing.T) {
	f1, a1 := tcpListener(t)
	r := adoptIn(t, []*os.File{f1}, "LISTEN_PID=self", "LISTEN_FDS=1")
	if r.Err != "" || strings.Join(r.Names["unknown"], ",") != a1 {
		t.Errorf("got %+v; want unknown=[%s]", r, a1)
	}
}

func TestListenersNotForUs(t *testing.T) {
	f1, _ := tcpListener(t)
	for _, env := range [][]string{
		{"LISTEN_FDS=1"},                 // no LISTEN_PID
		{"LISTEN_PID=1", "LISTEN_FDS=1"}, // another process's
		{"LISTEN_PID=self"},              // no LISTEN_FDS
	} {
		r := adoptIn(t, []*os.File{f1}, env...)
		if r.Err != "" || len(r.Names) != 0 {
			t.Errorf("%v: got %+v; want no listeners and no error", env, r)
		}
		if !r.Fd3 {
			t.Errorf("%v: fd 3 was touched although it is not ours", env)
		}
		if len(r.Env) != 0 {
			t.Errorf("%v: variables left in the environment: %v", env, r.Env)
		}
	}
}

func TestListenersMalformed(t *testing.T) {
	f1, _ := tcpListener(t)
	for _, env := range [][]string{
		{"LISTEN_PID=12x", "LISTEN_FDS=1"},
		{"LISTEN_PID=0", "LISTEN_FDS=1"},
		{"LISTEN_PID=", "LISTEN_FDS=1"},
		{"LISTEN_PID=self", "LISTEN_FDS=0"},
		{"LISTEN_PID=self", "LISTEN_FDS=+1"},
		{"LISTEN_PID=self", "LISTEN_FDS= 1"},
		{"LISTEN_PID=self", "LISTEN_FDS=1 "},
		{"LISTEN_PID=self", "LISTEN_FDS=0x1"},
		{"LISTEN_PID=self", "LISTEN_FDS=99999999999"},
		{"LISTEN_PID=self", "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b"},
		{"LISTEN_PID=self", "LISTEN_FDS=1", "LISTEN_FDNAMES=new\nline"},
	} {
		r := adoptIn(t, []*os.File{f1}, env...)
		if !strings.Contains(r.Err, syscall.EINVAL.Error()) {
			t.Errorf("%q: got %+v; want an EINVAL error", env, r)
		}
		if len(r.Env) != 0 {
			t.Errorf("%q: variables left in the environment: %v", env, r.Env)
		}
	}
}

func TestListenersFdNotOpen(t *testing.T) {
	f1, _ := tcpListener(t)
	r := adoptIn(t, []*os.File{f1}, "LISTEN_PID=self", "LISTEN_FDS=2")
	if !strings.Contains(r.Err, syscall.EBADF.Error()) {
		t.Errorf("got %+v; want EBADF for fd 4", r)
	}
}

func TestListenersNotASocket(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := adoptIn(t, []*os.File{f}, "LISTEN_PID=self", "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
	if !strings.Contains(r.Err, "not a listening stream socket") {
		t.Errorf("got %+v; want an error for a regular file", r)
	}
}

func TestListenFallsBackWithoutSupervisor(t *testing.T) {
	// This test process was started without LISTEN_* (go test), so Listen binds by itself.
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, set := os.LookupEnv(v); set {
			t.Skipf("%s is set in the test's environment", v)
		}
	}
	ln, err := Listen("http", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("fallback listener does not accept: %v", err)
	}
	c.Close()
}

func TestListenChoosesByName(t *testing.T) {
	for _, c := range []struct {
		names map[string][]string
		want  string
	}{
		{map[string][]string{"http": {"a"}, "admin": {"b"}}, "a"},
		{map[string][]string{"unknown": {"a", "b"}}, "a"},
		{map[string][]string{"admin": {"b"}}, ""},
		{map[string][]string{"unknown": {"a"}, "admin": {"b"}}, ""},
	} {
		got, ok := choose(c.names, "http")
		if got != c.want || ok != (c.want != "") {
			t.Errorf("choose(%v, http) = %q; want %q", c.names, got, c.want)
		}
	}
}
