// SPDX-License-Identifier: MIT

// Package baton lets a Go net/http service take part in baton's protocols, which are
// systemd's: it adopts the listening sockets its supervisor passes (socket activation), reports
// readiness and status (sd_notify), and drains without losing a request on SIGTERM.
//
//	ln, err := baton.Listen("http", ":8080") // the supervisor's socket, or :8080 when alone
//	if err != nil {
//		log.Fatal(err)
//	}
//	log.Fatal(baton.Serve(&http.Server{Handler: mux}, ln))
//
// Standard library only. The protocol is described in baton's docs/protocol.md; this package
// follows libbaton (the C implementation) rule for rule.
package baton

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// listenFdsStart is the first fd a supervisor passes (SD_LISTEN_FDS_START).
const listenFdsStart = 3

// fdNameMax is the longest name LISTEN_FDNAMES may give a socket.
const fdNameMax = 255

// UnknownName is the name of a socket passed without one, as systemd calls it.
const UnknownName = "unknown"

var (
	adoptOnce  sync.Once
	adopted    map[string][]net.Listener
	adoptedErr error
)

// Listeners returns the listening sockets passed by the supervisor (baton or systemd), by the
// names in LISTEN_FDNAMES, in the order they were passed. It returns an empty map when the
// process was not given any (LISTEN_PID or LISTEN_FDS unset, or LISTEN_PID naming another
// process: the variables leaked from a parent).
//
// It is strict, like libbaton: a LISTEN_PID or LISTEN_FDS that is not a plain decimal, a count
// of 0 or beyond the fd limit, an announced fd that is not open or not a listening stream
// socket, more names than fds or a name that is not printable ASCII without ':' (at most 255
// characters) are errors. Missing and empty names are "unknown".
//
// The sockets are adopted once: the three variables are removed from the environment (on
// success and failure alike) and fds 3… are replaced by close-on-exec duplicates owned by the
// returned listeners, so programs this process runs inherit neither. Later calls return the
// same result.
func Listeners() (map[string][]net.Listener, error) {
	adoptOnce.Do(func() {
		adopted, adoptedErr = adopt()
	})
	if adoptedErr != nil {
		return nil, adoptedErr
	}
	return adopted, nil
}

// Listen returns the first socket named name that the supervisor passed. A process started
// without sockets (run by hand, in a test, under a plain process manager) listens on addr
// itself with net.Listen("tcp", addr) instead, so the same program works with and without a
// supervisor. When none of the passed sockets has a name (LISTEN_FDNAMES unset), the first
// one is used. A process that was given named sockets but none with this name gets an error:
// binding the address itself would only collide with its supervisor's socket.
func Listen(name, addr string) (net.Listener, error) {
	all, err := Listeners()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return net.Listen("tcp", addr)
	}
	if ln, ok := choose(all, name); ok {
		return ln, nil
	}
	return nil, fmt.Errorf("baton: no listener named %q was passed (LISTEN_FDNAMES; "+
		"under systemd, set FileDescriptorName=%s in the socket unit)", name, name)
}

// choose returns the first socket named name or, when no socket has a name, the first one.
func choose[T any](all map[string][]T, name string) (T, bool) {
	if lns := all[name]; len(lns) > 0 {
		return lns[0], true
	}
	if lns := all[UnknownName]; len(all) == 1 && len(lns) > 0 {
		return lns[0], true
	}
	var none T
	return none, false
}

// errInvalid wraps the variable and value a parse error is about.
func errInvalid(variable, value, why string) error {
	return fmt.Errorf("baton: invalid %s=%q: %s: %w", variable, value, why, syscall.EINVAL)
}

// parseCount parses a whole string as an unsigned decimal no larger than max: no sign, no
// spaces, no leading '+', no trailing characters.
func parseCount(s string, max uint64) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if d > max || v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// listenFdsMax is the most listeners LISTEN_FDS may announce: every one must fit in the fd
// table (RLIMIT_NOFILE).
func listenFdsMax() uint64 {
	max := uint64(1<<31 - 1 - listenFdsStart)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < max+listenFdsStart {
		if rl.Cur > listenFdsStart {
			max = rl.Cur - listenFdsStart
		} else {
			max = 0
		}
	}
	return max
}

// parseNames splits LISTEN_FDNAMES for n sockets: at most n names, each printable ASCII
// without ':' and at most 255 characters; missing and empty names are "unknown".
func parseNames(value string, set bool, n int) ([]string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = UnknownName
	}
	if !set {
		return names, nil
	}
	start, count := 0, 0
	for i := 0; i <= len(value); i++ {
		if i < len(value) && value[i] != ':' {
			if value[i] < 0x20 || value[i] > 0x7e {
				return nil, errInvalid("LISTEN_FDNAMES", value, "a name is not printable ASCII")
			}
			if i-start >= fdNameMax {
				return nil, errInvalid("LISTEN_FDNAMES", value, "a name is longer than 255 characters")
			}
			continue
		}
		if count == n {
			return nil, errInvalid("LISTEN_FDNAMES", value, fmt.Sprintf("more names than the %d fds", n))
		}
		if i > start {
			names[count] = value[start:i]
		}
		count++
		start = i + 1
	}
	return names, nil
}

// adopt reads and removes the variables, validates them, and turns fds 3… into listeners.
func adopt() (map[string][]net.Listener, error) {
	pidStr, pidSet := os.LookupEnv("LISTEN_PID")
	fdsStr, fdsSet := os.LookupEnv("LISTEN_FDS")
	namesStr, namesSet := os.LookupEnv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")

	if !pidSet {
		return map[string][]net.Listener{}, nil
	}
	pid, ok := parseCount(pidStr, 1<<31-1)
	if !ok || pid == 0 {
		return nil, errInvalid("LISTEN_PID", pidStr, "not a pid")
	}
	if int(pid) != os.Getpid() {
		// Meant for another process: a parent that did not clean up.
		return map[string][]net.Listener{}, nil
	}
	if !fdsSet {
		return map[string][]net.Listener{}, nil
	}
	n, ok := parseCount(fdsStr, listenFdsMax())
	if !ok || n == 0 {
		return nil, errInvalid("LISTEN_FDS", fdsStr, "not a count in 1…RLIMIT_NOFILE-3")
	}
	names, err := parseNames(namesStr, namesSet, int(n))
	if err != nil {
		return nil, err
	}
	// Check every fd before taking any: an fd that is not open means the environment lies.
	for fd := listenFdsStart; fd < listenFdsStart+int(n); fd++ {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e != 0 {
			return nil, fmt.Errorf("baton: LISTEN_FDS=%d but fd %d: %w", n, fd, e)
		}
		syscall.CloseOnExec(fd)
	}
	out := map[string][]net.Listener{}
	var firstErr error
	for i := 0; i < int(n); i++ {
		fd := listenFdsStart + i
		f := os.NewFile(uintptr(fd), "LISTEN_FDS:"+names[i])
		// FileListener works on its own close-on-exec duplicate; closing f frees fd 3+i.
		// Closing a copy of a shared listener is harmless: the socket lives on in the others.
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("baton: fd %d (%s) is not a listening stream socket: %w", fd, names[i], err)
			}
			continue
		}
		out[names[i]] = append(out[names[i]], ln)
	}
	if firstErr != nil {
		for _, lns := range out {
			for _, ln := range lns {
				ln.Close()
			}
		}
		return nil, firstErr
	}
	return out, nil
}
