#!/bin/sh
# Runs the transport benchmarks of docs/benchmarks-transport.md: server on
# core 0 (GOMAXPROCS=1), load generator on core 1. Every run is bounded.
# Usage: sh transport/internal/loadgen/bench.sh [what] ; what = fixed|sweep|idle|storm|all
set -eu
BIN=${BIN:-/tmp/loadgen}
go build -o "$BIN" ./transport/internal/loadgen
PORT=7200
what=${1:-all}

server() { # impl pairs
	PORT=$((PORT + 1))
	taskset -c 0 env GOMAXPROCS=1 "$BIN" serve -impl "$1" -addr 127.0.0.1:$PORT -pairs "$2" -life 10m >/dev/null 2>&1 &
	SPID=$!
	sleep 1
}
stop() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
load() { taskset -c 1 timeout 600 "$BIN" "$@"; }

if [ "$what" = fixed ] || [ "$what" = all ]; then
	for i in $(seq ${REPS:-5}); do
		for impl in bare mosia; do
			server $impl 1000
			load relay -impl $impl -addr 127.0.0.1:$PORT -pairs 1000 -rate 2000 -duration 10s
			stop
		done
	done
fi
if [ "$what" = sweep ] || [ "$what" = all ]; then
	for i in $(seq ${REPS:-3}); do
		for impl in bare mosia; do
			server $impl 1000
			load relay -impl $impl -addr 127.0.0.1:$PORT -pairs 1000 -rate ${RATES:-4000,8000,12000,16000,20000,25000,30000} -duration 5s
			stop
		done
	done
fi
if [ "$what" = idle ] || [ "$what" = all ]; then
	for i in $(seq ${REPS:-3}); do
		for impl in bare mosia; do
			server $impl 0
			load idle -impl $impl -addr 127.0.0.1:$PORT -n 10000
			stop
		done
	done
fi
if [ "$what" = storm ] || [ "$what" = all ]; then
	for i in $(seq ${REPS:-3}); do
		server mosia 1000
		load storm -addr 127.0.0.1:$PORT -pairs 1000 -backlog 5
		stop
	done
fi
