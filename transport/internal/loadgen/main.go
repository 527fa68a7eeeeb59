// Command loadgen measures the transport against a bare coder/websocket
// relay on loopback. It is not part of go test; see
// docs/benchmarks-transport.md for the commands and the figures.
//
//	loadgen serve -impl mosia|bare -addr 127.0.0.1:7001 [-pairs N]
//	loadgen relay -impl mosia|bare -addr 127.0.0.1:7001 -pairs 1000 -rate 2000 -duration 10s
//	loadgen idle  -impl mosia|bare -addr 127.0.0.1:7001 -n 10000
//	loadgen storm -addr 127.0.0.1:7001 -pairs 1000 -backlog 5
//	loadgen summary [file ...]   (bench.sh output; standard input without files)
//
// The server side prints nothing per message; GET /mem on it forces a GC
// and reports heap in use, RSS and goroutines. Every load loop is bounded
// by a count or a duration.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen serve|relay|idle|storm|summary [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "relay":
		err = relay(os.Args[2:])
	case "idle":
		err = idle(os.Args[2:])
	case "storm":
		err = storm(os.Args[2:])
	case "summary":
		err = summarize(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
