#!/usr/bin/env bash
# The gRPC measurements of bench/RESULTS-interop.md, at a larger scale than
# the test suite's: seed 003 (empty DATA(END_STREAM) through a gRPC reverse
# proxy), seed 001 (the MAX_CONCURRENT_STREAMS race, also with CPU-burning
# goroutines), gRPC through drains and idle closes, and stream latency
# through the proxy with and without HoldHeaderFlush. Without -race (the
# race detector slows everything and hides the races being measured).
#
#   bench/interop/grpc.sh [SCALE [SPIN]]             # default 10 and 2
#   GOTOOLCHAIN=go1.27.4 bench/interop/grpc.sh       # Go 1.27
#   H2LIFECYCLE_PENDING_FIXES=1 bench/interop/grpc.sh  # with the pending core fixes' cases
set -euo pipefail
# The gRPC tests are in their own module (examples/grpc), so that the core
# never requires grpc.
cd "$(dirname "$0")/../../examples/grpc/interop"
scale=${1:-10}
spin=${2:-2}
echo "machine: $(nproc) cores, $(uname -sr); $(go version)"
run() {
	echo
	echo "\$ $*"
	env "$@" 2>&1 | grep -E '^\s+interop_test.go:[0-9]+: |^(ok|FAIL|---)' | sed -E 's/^\s+interop_test.go:[0-9]+: /    /'
}
run H2LIFECYCLE_INTEROP_SCALE="$scale" go test -count=1 -run 'TestGRPCProxyTrailersOnly' -v .
run H2LIFECYCLE_INTEROP_SCALE="$scale" go test -count=1 -run 'TestMaxConcurrentStreamsRace' -v -timeout 30m .
run H2LIFECYCLE_INTEROP_SCALE="$scale" H2LIFECYCLE_INTEROP_SPIN="$spin" go test -count=1 -run 'TestMaxConcurrentStreamsRace' -v -timeout 30m .
run H2LIFECYCLE_INTEROP_SCALE="$scale" go test -count=1 -run 'TestGRPCThroughDrains|TestGRPCIdleRace' -v .
run H2LIFECYCLE_INTEROP_SCALE=4 go test -count=1 -run 'TestGRPCProxyStreamLatency' -v .
