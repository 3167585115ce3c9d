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
#   SERVER_ARGS="-response-bytes 65536"    # given to both servers: 64 KiB responses
#   POST_BYTES=16384                       # every request a POST with a body of this size
#   RPS=1000 bench/throughput.sh           # latency at a fixed rate instead: each of h2load's
#                                          # 8 clients sends RPS req/s for 10 s (after 2 s of
#                                          # warm-up); prints the p50 and p99 of the request
#                                          # times (h2load --log-file) and the p99 ratio
#   PIN=1 bench/throughput.sh              # server on CPU 0 (GOMAXPROCS=1), h2load on CPU 1
#   BASELINE=dc0442e bench/throughput.sh   # h2lifecycle against itself at an earlier commit:
#                                          # the "stock" column is examples/server built at
#                                          # that commit (a detached worktree in the temporary
#                                          # directory), to tell a regression from the machine
#   ONE_BINARY=1 bench/throughput.sh       # both columns served by one program, bench/connserver
#                                          # (-kind stock|h2lifecycle -metrics=false), instead
#                                          # of two: no difference but the kind (not with
#                                          # SERVER_ARGS, PROFILE or BASELINE)
#   AA=1 bench/throughput.sh               # the stock server in both columns: the ratios'
#                                          # spread when nothing differs, the noise floor
#                                          # a median of PAIRS pairs can resolve
#   PROFILE=dir bench/throughput.sh        # a CPU profile of every server run into dir, and
#                                          # the tap's share of h2lifecycle's CPU: flat (its own
#                                          # code) and cumulative (its frames on the stack, the
#                                          # I/O under them that stock does too left out)
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
source bench/pproflib.sh
PROFILE=${PROFILE:-}
[ -n "$PROFILE" ] && mkdir -p "$PROFILE"
PAIRS=${PAIRS:-7}
PIN=${PIN:-}
srv_pin=() h2load_pin=()
if [ -n "$PIN" ]; then
	srv_pin=(env GOMAXPROCS=1 taskset -c 0) h2load_pin=(taskset -c 1)
fi
TRANSPORTS=${TRANSPORTS:-h2c tls}
read -r -a H2LOAD_ARGS <<<"${H2LOAD_ARGS:--n 200000 -c 8 -m 32}"
read -r -a SERVER_ARGS <<<"${SERVER_ARGS:-}"
RPS=${RPS:-}
if [ -n "$RPS" ]; then
	H2LOAD_ARGS=(-c 8 -m 8 --rps "$RPS" -D 10 --warm-up-time 2 --log-file "$work/requests.log")
fi
if [ -n "${POST_BYTES:-}" ]; then
	head -c "$POST_BYTES" /dev/zero | tr '\0' x >"$work/post.body"
	H2LOAD_ARGS+=(-d "$work/post.body")
fi

if ! command -v h2load >/dev/null; then
	echo "# h2load missing: apt-get install -y nghttp2-client" >&2
	apt-get install -y nghttp2-client >/dev/null || { apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; }
fi

ONE_BINARY=${ONE_BINARY:-}
AA=${AA:-}
if [ -n "$ONE_BINARY" ] && { [ ${#SERVER_ARGS[@]} -gt 0 ] || [ -n "$PROFILE" ] || [ -n "${BASELINE:-}" ]; }; then
	echo "ONE_BINARY=1 serves bench/connserver: it takes no SERVER_ARGS, PROFILE or BASELINE" >&2
	exit 2
fi
BASELINE=${BASELINE:-}
if [ -n "$ONE_BINARY" ]; then
	go build -o "$work/connserver" ./bench/connserver
	echo "one binary: both columns are bench/connserver (-kind stock|h2lifecycle -metrics=false)"
elif [ -n "$BASELINE" ]; then
	git worktree add --quiet --detach "$work/baseline" "$BASELINE"
	trap 'git worktree remove --force "$work/baseline" 2>/dev/null || git worktree prune; cleanup' EXIT
	(cd "$work/baseline" && go build -o "$work/stock" ./examples/server)
	echo "baseline: the \"stock\" column is examples/server at $(git rev-parse --short "$BASELINE")"
else
	go build -o "$work/stock" ./bench/h2spec/stock
fi
[ -z "$ONE_BINARY" ] && go build -o "$work/h2lifecycle" ./examples/server
[ -n "$AA" ] && echo "AA=1: the stock server in both columns (the column still says h2lc)"
(cd "$work" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" \
	--host 127.0.0.1 --ecdsa-curve P256 --duration 24h >/dev/null 2>&1)

machine
h2load --version | head -1
echo "h2load ${H2LOAD_ARGS[*]}; servers ${SERVER_ARGS[*]:-(no arguments)}; $PAIRS pairs per transport; a fresh server per run, warmed up with 10000 requests"
if [ -n "$PIN" ]; then echo "pinned: server on CPU 0 with GOMAXPROCS=1, h2load on CPU 1"; fi

# run KIND TRANSPORT: prints req/s of one h2load run against a fresh server
# (with RPS: the p50 and p99 request times in µs).
run() {
	local kind=$1 transport=$2 args=(-addr 127.0.0.1:0 "${SERVER_ARGS[@]}") scheme=http out addr pid
	if [ "$transport" = tls ]; then
		args+=(-tls-cert "$work/cert.pem" -tls-key "$work/key.pem")
		scheme=https
	fi
	if [ -n "$PROFILE" ]; then
		args+=(-cpuprofile "$PROFILE/$kind-$transport-$pair.pprof")
	fi
	out=$work/$kind.out
	rm -f "$out"
	local serve=("$work/$kind")
	[ -n "$AA" ] && serve=("$work/stock")
	if [ -n "$ONE_BINARY" ]; then
		serve=("$work/connserver" -kind "$kind" -metrics=false)
		[ -n "$AA" ] && serve=("$work/connserver" -kind stock -metrics=false)
		# connserver exits at the end of its stdin: a FIFO held open until the run ends.
		rm -f "$work/srv.in" && mkfifo "$work/srv.in"
		"${srv_pin[@]}" "${serve[@]}" "${args[@]}" <"$work/srv.in" >"$out" 2>"$work/$kind.err" &
		pid=$!
		exec 4>"$work/srv.in"
	else
		"${srv_pin[@]}" "${serve[@]}" "${args[@]}" >"$out" 2>"$work/$kind.err" &
		pid=$!
	fi
	started_pids+=("$pid")
	addr=$(await_listening "$out" "$work/$kind.err" "$kind")
	timeout 60 "${h2load_pin[@]}" h2load -n 10000 -c 8 -m 32 "$scheme://$addr/" >/dev/null
	timeout 300 "${h2load_pin[@]}" h2load "${H2LOAD_ARGS[@]}" "$scheme://$addr/" >"$work/h2load.out" 2>&1 || true
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	[ -n "$ONE_BINARY" ] && exec 4>&-
	local rps ok
	rps=$(awk '/^finished in/{gsub(",", "", $4); print $4}' "$work/h2load.out")
	ok=$(awk '/^requests:/{print $8}' "$work/h2load.out")
	want=$(awk '/^requests:/{print $2}' "$work/h2load.out")
	if [ -n "$RPS" ]; then
		# With -D, "total" is not what was started: no request may fail,
		# error or time out.
		want=$(awk '/^requests:/{if ($10 + $12 + $14 == 0 && $8 > 0) print $8}' "$work/h2load.out")
	fi
	if [ -z "$rps" ] || [ "$ok" != "$want" ]; then
		echo "h2load failed against $kind ($transport, pair $pair):" >&2
		cat "$work/h2load.out" >&2
		echo "the server's log (last 50 lines):" >&2
		tail -n 50 "$work/$kind.err" >&2
		return 1
	fi
	if [ -n "$RPS" ]; then
		cut -f3 "$work/requests.log" | sort -n | awk '{t[NR] = $1} END {printf "%d %d\n", t[int(NR * 0.50)], t[int(NR * 0.99)]}'
		return
	fi
	echo "$rps"
}

# metric LINE: what a run is compared by: its req/s, or with RPS its p99.
metric() {
	if [ -n "$RPS" ]; then echo "${1#* }"; else echo "$1"; fi
}

for transport in $TRANSPORTS; do
	echo
	echo "## $transport"
	if [ -n "$RPS" ]; then
		printf '%-5s %18s %18s %9s %6s\n' pair "stock p50/p99 µs" "h2lc p50/p99 µs" "p99 ratio" load
	else
		printf '%-5s %18s %18s %9s %6s\n' pair "stock req/s" "h2lc req/s" ratio load
	fi
	ratios=() stocks=() h2lcs=()
	for pair in $(seq "$PAIRS"); do
		wait_quiet
		load=$(cut -d' ' -f1 /proc/loadavg)
		s=$(run stock "$transport")
		wait_quiet
		h=$(run h2lifecycle "$transport")
		stocks+=("$(metric "$s")") h2lcs+=("$(metric "$h")")
		r=$(awk -v s="${stocks[-1]}" -v h="${h2lcs[-1]}" 'BEGIN{printf "%.4f", h/s}')
		ratios+=("$r")
		printf '%-5s %18s %18s %9s %6s\n' "$pair" "${s/ //}" "${h/ //}" "$r" "$load" # p50/p99 with RPS
	done
	if [ -n "$RPS" ]; then
		echo "p99: stock $(printf '%s\n' "${stocks[@]}" | median) µs, h2lifecycle $(printf '%s\n' "${h2lcs[@]}" | median) µs; median of pair p99 ratios $(printf '%s\n' "${ratios[@]}" | spread) (goal <= 1.05)"
	else
		echo "median: stock $(printf '%s\n' "${stocks[@]}" | median) req/s, h2lifecycle $(printf '%s\n' "${h2lcs[@]}" | median) req/s; median of pair ratios $(printf '%s\n' "${ratios[@]}" | spread) (budget >= 0.98)"
	fi
	if [ -n "$PROFILE" ]; then
		flats=() cums=()
		for p in "$PROFILE"/h2lifecycle-"$transport"-*.pprof; do
			flats+=("$(BIN=$work/h2lifecycle flatshare "$p" "$H2L")")
			cums+=("$(BIN=$work/h2lifecycle share "$p" "$H2L" "$IO")")
		done
		echo "the tap's share of h2lifecycle's CPU per run: flat ${flats[*]}; cumulative without the I/O ${cums[*]}"
		echo "medians: flat $(printf '%s\n' "${flats[@]%\%}" | median)%, cumulative $(printf '%s\n' "${cums[@]%\%}" | median)%"
	fi
done
