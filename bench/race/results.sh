#!/usr/bin/env bash
# Runs the stock-vs-h2lifecycle race matrix behind bench/RESULTS-race.md:
# drain and idle races, h2c and TLS, on the toolchain in use (set
# GOTOOLCHAIN=go1.27.4 for Go 1.27). Loopback only; about 3 minutes on 2 cores.
# Output goes to stdout; nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/race
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/race
go version
for args in \
	"-exp drain -runs 20" \
	"-exp drain -tls -runs 20" \
	"-exp idle -runs 12" \
	"-exp idle -tls -runs 12" \
	"-exp idle -idle-timeout 100ms -workers 64 -requests 50 -runs 3" \
	"-exp idle -tls -idle-timeout 100ms -workers 64 -requests 50 -runs 3"; do
	echo
	echo "\$ go run ./bench/race $args"
	# shellcheck disable=SC2086
	"$bin" $args
done
