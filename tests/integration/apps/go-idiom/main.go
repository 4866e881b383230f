// SPDX-License-Identifier: MIT
// go-idiom serves the hello world either with the usual Go idiom for a graceful stop (Shutdown
// on SIGTERM, log.Fatal when Serve returns) or, with -baton, with log.Fatal(baton.Serve(...)).
// Both adopt their socket and say READY=1 with contrib/go/baton, so only the drain differs.
// tests/integration/test_load_reload_contrib.py shows that the first loses requests on every
// reload and the second none.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"baton.dev/contrib/go/baton"
)

func main() {
	useBaton := flag.Bool("baton", false, "serve with baton.Serve instead of the usual idiom")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, World!")
	})
	ln, err := baton.Listen("http", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{}
	if *useBaton {
		log.Fatal(baton.Serve(srv, ln))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Shutdown(context.Background())
	}()
	baton.Ready()
	log.Fatal(srv.Serve(ln))
}
