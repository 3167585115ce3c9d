#!/usr/bin/env bash
# Memory and goroutines per idle HTTP/2 connection, stock vs h2lifecycle.
#
#   bench/memory/run.sh                       # N=10000 connections, 3 pairs
#   N=2000 PAIRS=1 PROFILE=dir bench/memory/run.sh   # + heap profiles (every allocation sampled)
#   GOTOOLCHAIN=go1.27.4 bench/memory/run.sh
#   PIPE=1 N=50000 bench/memory/run.sh        # in-memory connections, past the open-file limit
#
# For each server (bench/connserver, h2c, the tiny handler), alternating
# stock and h2lifecycle: start it, measure (after a GC that returns freed
# memory to the OS), open N idle h2c connections from bench/idleclient in
# another process (it ACKs SETTINGS and PINGs and holds the connections),
# wait 2 s, measure again. Per connection = (loaded - empty) / N. Prints one
# row per run, then the medians and h2lifecycle minus stock. Loopback only;
# bounded (each step has a timeout).
#
# PIPE=1 serves net.Pipe connections that connserver opens itself ("open N")
# instead of TCP from idleclient: no descriptor per connection, so N can pass
# the 20,000 open files a process may have here. The client ends and the
# pipes are then in the measured process, the same for both servers: the
# per-connection figures are higher than over TCP, h2lifecycle minus stock
# is still h2lifecycle's own.
source "$(dirname "$0")/../connlib.sh"
N=${N:-10000}
PAIRS=${PAIRS:-3}
PROFILE=${PROFILE:-}
PIPE=${PIPE:-0}
build_conn_tools
machine
transport=TCP
[ "$PIPE" = 1 ] && transport="in-memory (net.Pipe)"
echo "connections: $N idle h2c over $transport; pairs: $PAIRS"
[ -n "$PROFILE" ] && mkdir -p "$PROFILE"

rows=()
printf '%-12s %8s %12s %12s %12s %12s %10s\n' server conns heapB/conn stackB/conn rssB/conn objs/conn gor/conn
for pair in $(seq "$PAIRS"); do
	for kind in stock h2lifecycle; do
		wait_quiet
		args=()
		[ -n "$PROFILE" ] && args=(-memprofilerate 1)
		[ "$PIPE" = 1 ] && args+=(-pipe)
		srv_start "$kind" "${args[@]}"
		empty=$(srv_cmd stats)
		if [ "$PIPE" = 1 ]; then
			opened=$(srv_cmd "open $N")
			grep -q '"ok"' <<<"$opened" || { echo "open $N: $opened" >&2; exit 1; }
		else
			rm -f "$work/cli.out" "$work/cli.err"
			"$work/idleclient" -addr "$srv_addr" -n "$N" -timeout 5m >"$work/cli.out" 2>"$work/cli.err" &
			cli_pid=$!
			started_pids+=("$cli_pid")
			for i in $(seq 1200); do
				grep -q '^ready' "$work/cli.out" && break
				kill -0 "$cli_pid" 2>/dev/null || { cat "$work/cli.err" >&2; exit 1; }
				sleep 0.1
			done
			grep -q '^ready' "$work/cli.out" || { echo "client not ready after 120s" >&2; exit 1; }
		fi
		sleep 2
		loaded=$(srv_cmd stats)
		if [ -n "$PROFILE" ]; then
			srv_cmd "heap $PROFILE/heap-$kind-$(go env GOVERSION).pprof" >/dev/null
			srv_cmd "goroutines $PROFILE/goroutines-$kind-$(go env GOVERSION).txt" >/dev/null
		fi
		if [ "$PIPE" != 1 ]; then
			kill -TERM "$cli_pid"
			wait "$cli_pid" || true
		fi
		srv_stop
		conns=$(json conns <<<"$loaded")
		row=$(awk -v n="$conns" -v k="$kind" \
			-v h0="$(json heap_inuse <<<"$empty")" -v h1="$(json heap_inuse <<<"$loaded")" \
			-v s0="$(json stack_inuse <<<"$empty")" -v s1="$(json stack_inuse <<<"$loaded")" \
			-v r0="$(json rss <<<"$empty")" -v r1="$(json rss <<<"$loaded")" \
			-v o0="$(json heap_objects <<<"$empty")" -v o1="$(json heap_objects <<<"$loaded")" \
			-v g0="$(json goroutines <<<"$empty")" -v g1="$(json goroutines <<<"$loaded")" \
			'BEGIN { printf "%-12s %8d %12.0f %12.0f %12.0f %12.1f %10.3f", k, n, (h1-h0)/n, (s1-s0)/n, (r1-r0)/n, (o1-o0)/n, (g1-g0)/n }')
		echo "$row"
		rows+=("$row")
	done
done

echo
echo "medians:"
for kind in stock h2lifecycle; do
	printf '%-12s' "$kind"
	for col in 3 4 5 6 7; do
		printf ' %12s' "$(printf '%s\n' "${rows[@]}" | awk -v k="$kind" -v c="$col" '$1==k {print $c}' | median)"
	done
	echo
done
printf '%-12s' added
for col in 3 4 5 6 7; do
	s=$(printf '%s\n' "${rows[@]}" | awk -v c="$col" '$1=="stock" {print $c}' | median)
	h=$(printf '%s\n' "${rows[@]}" | awk -v c="$col" '$1=="h2lifecycle" {print $c}' | median)
	printf ' %12s' "$(awk -v s="$s" -v h="$h" 'BEGIN{printf "%.3f", h-s}')"
done
echo
echo "(columns: heap B, stack B, RSS B, heap objects, goroutines per connection; budget: added heap+stack <= 2048 B, goroutines 0)"
