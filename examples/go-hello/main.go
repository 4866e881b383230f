// SPDX-License-Identifier: MIT
// go-hello is the classic Go net/http hello world, changed only so that it can be replaced by
// a new version without losing a single request: it serves the socket its supervisor (baton or
// systemd) passes, says READY=1 once it serves, and drains on SIGTERM (contrib/go/baton).
// Run alone, it listens on -listen (:8080) and drains on Ctrl-C.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"

	"baton.dev/contrib/go/baton"
)

func helloWorld(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Hello, World!")
}

func main() {
	addr := flag.String("listen", ":8080", "address to listen on when not given a socket")
	flag.Parse()
	http.HandleFunc("/", helloWorld)

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
