#!/usr/bin/env bash
# The Go benchmarks behind BENCHMARKS.md, stock beside h2lifecycle where both
# exist, on the toolchain in use (GOTOOLCHAIN=go1.27.4 bench/gobench.sh for
# Go 1.27). COUNT (default 6) runs of each; pipe through benchstat if you
# have it. Loopback only.
#
#   BenchmarkRequest     one GET over a long-lived h2c connection, end to end (allocs/op: both sides)
#   BenchmarkConnSetup   one whole connection (dial, TLS, preface, SETTINGS, one GET, close)
#   BenchmarkServeSetup  what h2lifecycle builds per connection before ServeConn
#   BenchmarkTapRequest  the tap alone, one request's frames both ways
#   BenchmarkTimers      the tap's per-request work over 1k and 10k supervised conns with timed policies
#   BenchmarkTrackerResponse  the frame tracker alone
#   BenchmarkDrainIdleConns   draining 1,000 idle h2c connections (real sockets)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
echo "# $(go version); $(nproc) cores; $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
go test -run '^$' -bench 'BenchmarkRequest|BenchmarkConnSetup|BenchmarkServeSetup' -benchmem -count "$COUNT" ./server
go test -run '^$' -bench 'BenchmarkTapRequest' -benchmem -count "$COUNT" ./lifecycle
go test -run '^$' -bench 'BenchmarkTimers' -benchtime 3s -benchmem -count "$COUNT" ./lifecycle # long enough for timers to fire
go test -run '^$' -bench 'BenchmarkTrackerResponse' -benchmem -count "$COUNT" ./internal/frame
go test -run '^$' -bench 'BenchmarkDrainIdleConns' -benchtime 5x -count "$COUNT" .
