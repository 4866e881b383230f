// SPDX-License-Identifier: MIT

package baton

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// notifyTimeout bounds a send to a supervisor whose queue is full, as libbaton does, so a stuck
// supervisor cannot freeze the service.
const notifyTimeout = 2 * time.Second

// Notify sends one message of newline-separated NAME=value assignments ("READY=1\nSTATUS=up")
// as a single datagram to the supervisor's NOTIFY_SOCKET: an absolute path, or an abstract
// socket name written with a leading '@'. With NOTIFY_SOCKET unset or empty the process is not
// supervised: nothing is sent and the result is nil. Other forms are refused (EAFNOSUPPORT).
// A full receiver queue is waited on for at most 2 s (then EAGAIN).
func Notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] != '/' && name[0] != '@' {
		return fmt.Errorf("baton: NOTIFY_SOCKET=%q is neither an absolute path nor @abstract: %w",
			name, syscall.EAFNOSUPPORT)
	}
	// Go's net package reads a leading '@' as Linux's abstract namespace, as systemd does.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("baton: notify: %w", err)
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(notifyTimeout))
	if _, err := conn.Write([]byte(state)); err != nil {
		if os.IsTimeout(err) {
			return fmt.Errorf("baton: notify: receiver queue full: %w", syscall.EAGAIN)
		}
		return fmt.Errorf("baton: notify: %w", err)
	}
	return nil
}

// Ready tells the supervisor that this process serves (READY=1): the supervisor may now drain
// the generation it replaces. Serve sends it by itself; call Ready only when serving another way.
func Ready() error { return Notify("READY=1") }

// Status sets the one line shown by `baton status` and in failure reports (STATUS=text).
// Newlines become spaces, so a status cannot inject other assignments.
func Status(text string) error {
	return Notify("STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(text))
}

// Stopping tells the supervisor that this process began to drain (STOPPING=1). Serve sends it
// by itself when the stop signal arrives.
func Stopping() error { return Notify("STOPPING=1") }
