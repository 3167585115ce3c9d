#!/usr/bin/env bash
# Drain time, stock vs h2lifecycle (bench/connserver, h2c, loopback).
#
#   bench/drain/run.sh                  # both parts; results in $OUT (default bench/drain/results)
#   PART=count COUNTS="1000 5000 10000" REPS=3 bench/drain/run.sh
#   PART=inflight LS="0 10ms 50ms 100ms 500ms" REPS=5 bench/drain/run.sh
#   GOTOOLCHAIN=go1.27.4 bench/drain/run.sh
#   REPORTS=0 bench/drain/run.sh        # h2lifecycle without a lifecycle.Metrics (connserver
#                                       # -metrics=false): nothing built at a close, no phases
#   PROFILE=dir bench/drain/run.sh      # a CPU profile of every drain (start to last close)
#
# Part "count": N idle connections from bench/idleclient (another process: it
# ACKs PINGs and closes on EOF, like curl and nghttp2; CLIENTS="eof goaway"
# adds a run where it closes on the first GOAWAY, like Go's client), then one
# drain: stock http.Server.Shutdown, h2lifecycle server.Server.Shutdown. It
# records how long the call took and when the connections closed (net/http's
# StateClosed, from the start), and the clients' own view.
#
# Part "inflight": one connection with one GET in flight whose handler takes
# L, drained once the handler runs; h2lifecycle's report gives each phase:
# notice (start to PING ACK: one RTT plus the write), settle
# (drain.Config.Settle, 20 ms), final (final GOAWAY to the stream's end),
# closing (our FIN to the close: one RTT).
#
# Then bench/drain/plot draws drain time against connection count
# ($OUT/drain-count.svg). Before every run it waits for a 1-minute load
# average below QUIET_LOAD (see bench/connlib.sh). Bounded: every step has a
# timeout.
source "$(dirname "$0")/../connlib.sh"
PART=${PART:-count inflight}
COUNTS=${COUNTS:-1000 5000 10000}
LS=${LS:-0 10ms 50ms 100ms 500ms}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-eof goaway}
OUT=${OUT:-bench/drain/results}
mkdir -p "$OUT"
[ -n "${PROFILE:-}" ] && mkdir -p "$PROFILE"
build_conn_tools
machine | tee "$OUT/machine-$(go env GOVERSION).txt"
gover=$(go env GOVERSION)

# one KIND N CLIENTMODE [INFLIGHT]: one drain; prints the server's and the
# client's JSON on one line, separated by a tab.
one() {
	local kind=$1 n=$2 mode=$3 inflight=${4:-0} cargs=() i res cres
	cargs=(-addr "" -n "$n" -timeout 3m)
	[ "$mode" = goaway ] && cargs+=(-close-on-goaway)
	[ "$inflight" != 0 ] && cargs+=(-inflight "$inflight")
	local sargs=()
	[ "${REPORTS:-1}" = 0 ] && sargs+=(-metrics=false)
	[ -n "${PROFILE:-}" ] && sargs+=(-drainprofile "$PROFILE/$kind-$mode-$n-$inflight-$rep.pprof")
	srv_start "$kind" "${sargs[@]}"
	cargs[1]=$srv_addr
	rm -f "$work/cli.out" "$work/cli.err"
	# With streams in flight, the server drains as soon as every handler
	# runs: it waits for them before the client even starts.
	[ "$inflight" = 0 ] || echo "drain-inflight $n" >&3
	"$work/idleclient" "${cargs[@]}" >"$work/cli.out" 2>"$work/cli.err" &
	cli_pid=$!
	started_pids+=("$cli_pid")
	for i in $(seq 1200); do
		grep -q '^ready' "$work/cli.out" 2>/dev/null && break
		kill -0 "$cli_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^ready' "$work/cli.out" || { echo "client not ready" >&2; cat "$work/cli.err" >&2; return 1; }
	if [ "$inflight" = 0 ]; then
		# Idle connections older than drain.Config.FirstStreamWait (100 ms),
		# as in production: a brand-new connection that has carried no
		# stream waits for its first one before draining.
		sleep 1
		res=$(srv_cmd drain)
	else
		for i in $(seq 1200); do
			grep -q '"kind"' "$work/srv.out" && break
			sleep 0.05
		done
		res=$(grep '"kind"' "$work/srv.out" | tail -n 1)
	fi
	for i in $(seq 600); do
		kill -0 "$cli_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$cli_pid" 2>/dev/null || true
	wait "$cli_pid" 2>/dev/null || true
	cres=$(tail -n 1 "$work/cli.out")
	srv_stop
	printf '%s\t%s\n' "$res" "$cres"
}

if [[ " $PART " == *" count "* ]]; then
	tsv=$OUT/count-$gover.tsv
	printf 'kind\tclient\tconns\trep\tapi_ms\tfirst_ms\tmedian_ms\tp99_ms\tlast_ms\tclient_last_ms\tclean\tfailed\tgoaways\tnotice_ms\tsettle_ms\tclosing_ms\n' >"$tsv"
	echo
	echo "## drain time against connection count ($gover)"
	printf '%-12s %-7s %6s %4s %9s %9s %9s %9s %11s %6s %6s\n' server client conns rep api_ms median_ms p99_ms last_ms client_last clean failed
	for mode in $CLIENTS; do
		for n in $COUNTS; do
			for rep in $(seq "$REPS"); do
				for kind in stock h2lifecycle; do
					wait_quiet
					line=$(one "$kind" "$n" "$mode")
					s=${line%%$'\t'*}
					c=${line#*$'\t'}
					start=$(json start_unix_ns <<<"$s")
					clast=$(json last_close_unix_ns <<<"$c")
					cl=$(awk -v a="$clast" -v b="$start" 'BEGIN{ if (a>0) printf "%.1f", (a-b)/1e6; else print "-" }')
					row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$kind" "$mode" "$(json conns <<<"$s")" "$rep" \
						"$(json api_ms <<<"$s")" "$(json first_close_ms <<<"$s")" "$(json median_close_ms <<<"$s")" \
						"$(json p99_close_ms <<<"$s")" "$(json last_close_ms <<<"$s")" "$cl" \
						"$(json clean <<<"$c")" "$(json failed <<<"$c")" "$(json goaways <<<"$c")" \
						"$(json notice_ms <<<"$s")" "$(json settle_ms <<<"$s")" "$(json closing_ms <<<"$s")")
					echo "$row" >>"$tsv"
					awk -F'\t' '{printf "%-12s %-7s %6s %4s %9s %9s %9s %9s %11s %6s %6s\n", $1, $2, $3, $4, $5, $7, $8, $9, $10, $11, $12}' <<<"$row"
				done
			done
		done
	done
	go run ./bench/drain/plot -in "$tsv" -out "$OUT/drain-count-$gover.svg" -title "Drain time of N idle h2c connections, $gover, $(nproc) cores, loopback"
	echo "plot: $OUT/drain-count-$gover.svg"
fi

if [[ " $PART " == *" inflight "* ]]; then
	tsv=$OUT/inflight-$gover.tsv
	printf 'kind\tL\trep\tinflight_age_ms\tapi_ms\tlast_ms\tnotice_ms\tsettle_ms\tfinal_ms\tclosing_ms\ttotal_ms\trtt_ms\tresponses\n' >"$tsv"
	echo
	echo "## one connection, one stream of length L in flight ($gover)"
	printf '%-12s %6s %4s %8s %9s %9s %9s %9s %9s %10s %8s\n' server L rep age_ms api_ms last_ms notice settle final closing rtt_ms
	for L in $LS; do
		for rep in $(seq "$REPS"); do
			for kind in stock h2lifecycle; do
				wait_quiet
				line=$(one "$kind" 1 eof "$L")
				s=${line%%$'\t'*}
				c=${line#*$'\t'}
				row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$kind" "$L" "$rep" \
					"$(json inflight_age_ms <<<"$s")" "$(json api_ms <<<"$s")" "$(json last_close_ms <<<"$s")" \
					"$(json notice_ms <<<"$s")" "$(json settle_ms <<<"$s")" "$(json final_ms <<<"$s")" \
					"$(json closing_ms <<<"$s")" "$(json total_ms <<<"$s")" "$(json rtt_ms <<<"$s")" "$(json responses <<<"$c")")
				echo "$row" >>"$tsv"
				awk -F'\t' '{printf "%-12s %6s %4s %8s %9s %9s %9s %9s %9s %10s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12}' <<<"$row"
			done
		done
	done
fi
