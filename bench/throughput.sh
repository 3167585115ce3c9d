#!/usr/bin/env bash
# Throughput, stock vs h2lifecycle: h2load against the stock server
# (bench/h2spec/stock: net/http + http2.ConfigureServer) and against
# examples/server (h2lifecycle), both answering "ok" on "/" through a
# ServeMux, alternating stock and h2lifecycle run by run (A B A B ...), a
# fresh server process for every run, over h2c and TLS. Prints req/s per run,
# the ratio h2lifecycle/stock of each pair, and the median ratio.
#
#   bench/throughput.sh                    # 7 pairs, h2c and TLS
#   PAIRS=5 TRANSPORTS=h2c bench/throughput.sh
#   GOTOOLCHAIN=go1.27.4 bench/throughput.sh
#   H2LOAD_ARGS="-n 200000 -c 8 -m 32" (the default)
#   PIN=1 bench/throughput.sh              # server on CPU 0 (GOMAXPROCS=1), h2load on CPU 1
#
# On a 2-core machine the server and h2load compete for the same cores and
# single runs vary by ±15 %; PIN=1 gives each its own core, which makes the
# pairs far steadier (BENCHMARKS.md has both).
#
# Before every run it waits until the 1-minute load average is below
# QUIET_LOAD (default 1.0), polling every minute for at most QUIET_WAIT
# seconds (default 3600); QUIET_LOAD=inf skips the wait. Installs
# nghttp2-client (h2load) with apt-get if it is missing. Loopback only;
# every step is bounded.
source "$(dirname "$0")/connlib.sh"
PAIRS=${PAIRS:-7}
PIN=${PIN:-}
srv_pin=() h2load_pin=()
if [ -n "$PIN" ]; then
	srv_pin=(env GOMAXPROCS=1 taskset -c 0) h2load_pin=(taskset -c 1)
fi
TRANSPORTS=${TRANSPORTS:-h2c tls}
read -r -a H2LOAD_ARGS <<<"${H2LOAD_ARGS:--n 200000 -c 8 -m 32}"

if ! command -v h2load >/dev/null; then
	echo "# h2load missing: apt-get install -y nghttp2-client" >&2
	apt-get install -y nghttp2-client >/dev/null || { apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; }
fi

go build -o "$work/stock" ./bench/h2spec/stock
go build -o "$work/h2lifecycle" ./examples/server
(cd "$work" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" \
	--host 127.0.0.1 --ecdsa-curve P256 --duration 24h >/dev/null 2>&1)

machine
h2load --version | head -1
echo "h2load ${H2LOAD_ARGS[*]}; $PAIRS pairs per transport; a fresh server per run, warmed up with 10000 requests"
if [ -n "$PIN" ]; then echo "pinned: server on CPU 0 with GOMAXPROCS=1, h2load on CPU 1"; fi

# run KIND TRANSPORT: prints req/s of one h2load run against a fresh server.
run() {
	local kind=$1 transport=$2 args=(-addr 127.0.0.1:0) scheme=http out addr pid
	if [ "$transport" = tls ]; then
		args+=(-tls-cert "$work/cert.pem" -tls-key "$work/key.pem")
		scheme=https
	fi
	out=$work/$kind.out
	rm -f "$out"
	"${srv_pin[@]}" "$work/$kind" "${args[@]}" >"$out" 2>"$work/$kind.err" &
	pid=$!
	started_pids+=("$pid")
	addr=$(await_listening "$out" "$work/$kind.err" "$kind")
	timeout 60 "${h2load_pin[@]}" h2load -n 10000 -c 8 -m 32 "$scheme://$addr/" >/dev/null
	timeout 300 "${h2load_pin[@]}" h2load "${H2LOAD_ARGS[@]}" "$scheme://$addr/" >"$work/h2load.out" 2>&1 || true
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	local rps ok
	rps=$(awk '/^finished in/{gsub(",", "", $4); print $4}' "$work/h2load.out")
	ok=$(awk '/^requests:/{print $8}' "$work/h2load.out")
	want=$(awk '/^requests:/{print $2}' "$work/h2load.out")
	if [ -z "$rps" ] || [ "$ok" != "$want" ]; then
		echo "h2load failed against $kind:" >&2
		cat "$work/h2load.out" >&2
		return 1
	fi
	echo "$rps"
}

for transport in $TRANSPORTS; do
	echo
	echo "## $transport"
	printf '%-5s %14s %14s %8s %6s\n' pair "stock req/s" "h2lc req/s" ratio load
	ratios=()
	stocks=()
	h2lcs=()
	for pair in $(seq "$PAIRS"); do
		wait_quiet
		load=$(cut -d' ' -f1 /proc/loadavg)
		s=$(run stock "$transport")
		wait_quiet
		h=$(run h2lifecycle "$transport")
		r=$(awk -v s="$s" -v h="$h" 'BEGIN{printf "%.4f", h/s}')
		printf '%-5s %14s %14s %8s %6s\n' "$pair" "$s" "$h" "$r" "$load"
		ratios+=("$r")
		stocks+=("$s")
		h2lcs+=("$h")
	done
	ms=$(printf '%s\n' "${stocks[@]}" | median)
	mh=$(printf '%s\n' "${h2lcs[@]}" | median)
	mr=$(printf '%s\n' "${ratios[@]}" | median)
	echo "median: stock $ms req/s, h2lifecycle $mh req/s; median of pair ratios $mr (budget >= 0.98)"
done
