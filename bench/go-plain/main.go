// SPDX-License-Identifier: MIT
// go-plain is the plain Go net/http hello world that bench/http measures baton-web and nginx
// against: the standard library, default GOMAXPROCS, one process, nothing tuned.
//
//	go-plain 127.0.0.1:8080
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-plain HOST:PORT")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Hello, World!")
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, "go-plain:", err)
		os.Exit(1)
	}
}
