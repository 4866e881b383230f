// SPDX-License-Identifier: MIT
// go-hello is the classic Go net/http hello world, changed only so that it can be replaced by
// a new version without losing a single request: it serves the socket its supervisor (baton or
// systemd) passes, says READY=1 once it serves, and drains on SIGTERM (contrib/go/baton).
// Run alone, it listens on -listen (:8080) and drains on Ctrl-C. With baton's app.probe it also
// answers GET /healthz on the private listener named "probe".
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"

	"baton.dev/contrib/go/baton"
)

func helloWorld(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Hello, World!")
}

// serveProbe answers baton's app.probe on the worker's own "probe" listener, apart from the
// application's traffic: GET /healthz is 200 "ok" once the process serves.
func serveProbe(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	go http.Serve(ln, mux) // ends when the process does
}

func main() {
	addr := flag.String("listen", ":8080", "address to listen on when not given a socket")
	flag.Parse()
	http.HandleFunc("/", helloWorld)

	all, err := baton.Listeners()
	if err != nil {
		log.Fatal(err)
	}
	if probe := all["probe"]; len(probe) > 0 {
		serveProbe(probe[0])
	}

	ln, err := baton.Listen("http", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Starting server at", ln.Addr())
	// Returns only once every request has been answered: log.Fatal cannot cut one off.
	if err := baton.Serve(&http.Server{}, ln); err != nil {
		log.Fatal(err)
	}
}
