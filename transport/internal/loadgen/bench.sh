#!/bin/sh
# Runs the transport benchmarks of docs/benchmarks-transport.md: server on
# core 0 (GOMAXPROCS=1), load generator on core 1. Every run is bounded.
# Usage: sh transport/internal/loadgen/bench.sh [what] ; what = fixed|sweep|halves|floor|idle|storm|all
# sweep takes RATES (both), or BARE_RATES and MOSIA_RATES, comma-separated;
# halves takes RATES (the bare relay's; mosia runs at half of each); floor
# is halves with the acknowledging relay (impl acked) run at R as well.
# sweep and halves take DURATION per run (default 5s).
# Summarize a run's output (medians per rate, and for halves mosia's CPU per
# message at R/2 against the bare relay's at R):
#   sh transport/internal/loadgen/bench.sh halves > out.txt; go run ./transport/internal/loadgen summary out.txt
set -eu
BIN=${BIN:-/tmp/loadgen}
go build -o "$BIN" ./transport/internal/loadgen
PORT=7200
what=${1:-all}

server() { # impl pairs
	PORT=$((PORT + 1))
	taskset -c 0 env GOMAXPROCS=1 "$BIN" serve -impl "$1" -addr 127.0.0.1:$PORT -pairs "$2" -life 10m >/dev/null 2>&1 &
	SPID=$!
	# Wait until it answers (at most 10 s) rather than for a fixed time.
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$PORT/cpu" && return 0
		sleep 0.1
	done
	echo "bench.sh: server on port $PORT did not start" >&2
	exit 1
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
	# A fresh server for every rate: the memory store keeps every message in
	# the server's heap, so one server across the rates would make each rate
	# pay for the messages (and the longer collections) of the ones before.
	RATES=${RATES:-8000,12000,16000,20000,24000,28000,32000}
	for i in $(seq ${REPS:-3}); do
		for impl in bare mosia; do
			if [ $impl = bare ]; then rates=${BARE_RATES:-$RATES}; else rates=${MOSIA_RATES:-$RATES}; fi
			for rate in $(echo "$rates" | tr , ' '); do
				server $impl 1000
				load relay -impl $impl -addr 127.0.0.1:$PORT -pairs 1000 -rate "$rate" -duration "${DURATION:-5s}"
				stop
			done
		done
	done
fi
if [ "$what" = halves ] || [ "$what" = all ]; then
	# The throughput target as a paired test: bare at R, then mosia at R/2,
	# one after the other, so both see the same machine. Mosia holds half
	# the bare relay's throughput when, at the highest R the bare relay
	# holds (median p99 < 50 ms), mosia holds R/2.
	for i in $(seq ${REPS:-5}); do
		for rate in $(echo "${RATES:-20000,22000,24000,26000,28000}" | tr , ' '); do
			server bare 1000
			load relay -impl bare -addr 127.0.0.1:$PORT -pairs 1000 -rate "$rate" -duration "${DURATION:-5s}"
			stop
			server mosia 1000
			load relay -impl mosia -addr 127.0.0.1:$PORT -pairs 1000 -rate "$((rate / 2))" -duration "${DURATION:-5s}"
			stop
		done
	done
fi
if [ "$what" = floor ]; then
	# Halves plus the bare relay that also writes each frame back to its
	# sender, at R: the reply every command is owed, priced on its own.
	for i in $(seq ${REPS:-5}); do
		for rate in $(echo "${RATES:-20000,22000,24000}" | tr , ' '); do
			for impl in bare acked; do
				server $impl 1000
				load relay -impl $impl -addr 127.0.0.1:$PORT -pairs 1000 -rate "$rate" -duration "${DURATION:-5s}"
				stop
			done
			server mosia 1000
			load relay -impl mosia -addr 127.0.0.1:$PORT -pairs 1000 -rate "$((rate / 2))" -duration "${DURATION:-5s}"
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
