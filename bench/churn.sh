#!/usr/bin/env bash
# Connection churn, stock vs h2lifecycle: BenchmarkConnSetup (dial, TLS,
# preface, SETTINGS, one GET, its response, close; a raw-frame client in the
# same process) run PAIRS times for each kind, a fresh test process for each
# run, stock and h2lifecycle alternating, in the order A B B A A B ... so
# that a steady drift of the machine cancels out. (Not -count: it runs every
# stock round before the first h2lifecycle one, and the machine drifts
# meanwhile — TIME_WAIT sockets pile up.) Prints connections per
# second per run, the ratio h2lifecycle/stock of each pair, and the median
# ratio with its range, per transport, on the toolchain in use
# (GOTOOLCHAIN=go1.27.4 bench/churn.sh for Go 1.27). Loopback only.
#
#   bench/churn.sh                 # 7 pairs, h2c and TLS
#   PAIRS=9 BENCHTIME=2s bench/churn.sh
#   PIN=1 bench/churn.sh          # the process on CPU 1 with GOMAXPROCS=1:
#                                 # no spinning threads, CPU = wall time
#   AA=1 bench/churn.sh           # stock in both columns (the h2lc column's runs are
#                                 # stock's, relabelled): the ratios' spread when
#                                 # nothing differs, the noise floor of PAIRS pairs
#
# The client's work is in every number (same client for both), so the
# ratio understates the server-side difference; bench/churn-profile.sh
# separates the server's CPU and counts instructions. Also printed: the
# medians of the process's user and system CPU per connection (getrusage
# around the timed loop, client and server both), to tell a cost in CPU
# from one in waiting.
source "$(dirname "$0")/connlib.sh"
PAIRS=${PAIRS:-7}
BENCHTIME=${BENCHTIME:-1s}
PIN=${PIN:-}
AA=${AA:-}
pin=()
cpu=()
if [ -n "$PIN" ]; then
	pin=(taskset -c 1)
	cpu=(-test.cpu 1)
fi

machine
echo "BenchmarkConnSetup, $PAIRS rounds of -benchtime $BENCHTIME; commit $(git rev-parse --short HEAD)${PIN:+; pinned: CPU 1, GOMAXPROCS=1}${AA:+; AA=1: stock in both columns}"
go test -c -o "$work/server.test" ./server
one() { # KIND
	local bench=$1
	local -a relabel=(cat)
	if [ -n "$AA" ] && [ "$1" = h2lifecycle ]; then
		bench=stock
		relabel=(sed 's|^\(BenchmarkConnSetup/[^/]*\)/stock|\1/h2lifecycle|')
	fi
	wait_quiet
	(cd server && "${pin[@]}" "$work/server.test" -test.run '^$' -test.bench "BenchmarkConnSetup/.*/$bench\$" -test.benchtime "$BENCHTIME" "${cpu[@]}") |
		"${relabel[@]}" | tee -a "$work/bench.out"
}
for pair in $(seq "$PAIRS"); do
	if [ $((pair % 2)) = 1 ]; then
		one stock
		one h2lifecycle
	else
		one h2lifecycle
		one stock
	fi
done

# BenchmarkConnSetup/h2c/stock-2   7512   160123 ns/op   10016 B/op   130 allocs/op
awk '
/^BenchmarkConnSetup\// {
	split($1, name, "/"); tr = name[2]; kind = name[3]; sub(/-[0-9]+$/, "", kind)
	n[tr, kind]++; ns[tr, kind, n[tr, kind]] = $3
	for (f = 4; f < NF; f++) {
		if ($(f+1) == "user-µs/op") user[tr, kind, n[tr, kind]] = $f
		if ($(f+1) == "sys-µs/op") sys[tr, kind, n[tr, kind]] = $f
	}
	if (!(tr in seen)) { seen[tr] = 1; order[++ntr] = tr }
}
function median(a, k,    i, j, t) {
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	for (t = 1; t <= ntr; t++) {
		tr = order[t]; k = n[tr, "stock"]
		printf "\n## %s\n%-5s %14s %14s %8s\n", tr, "pair", "stock conn/s", "h2lc conn/s", "ratio"
		delete r
		for (i = 1; i <= k; i++) {
			s = 1e9 / ns[tr, "stock", i]; h = 1e9 / ns[tr, "h2lifecycle", i]
			r[i] = h / s
			printf "%-5d %14.0f %14.0f %8.4f\n", i, s, h, r[i]
		}
		lo = 1e9; hi = 0
		for (i = 1; i <= k; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
		printf "median of pair ratios %.4f [%.4f-%.4f] (goal >= 0.97)\n", median(r, k), lo, hi
		if ((tr, "stock", 1) in user) {
			printf "CPU per connection, medians (client and server): %-5s %8s %8s\n", "", "user µs", "sys µs"
			for (j = 1; j <= 2; j++) {
				kind = j == 1 ? "stock" : "h2lifecycle"
				delete u; delete y
				for (i = 1; i <= k; i++) { u[i] = user[tr, kind, i]; y[i] = sys[tr, kind, i] }
				printf "  %-12s %8.1f %8.1f\n", kind, median(u, k), median(y, k)
			}
		}
	}
}' "$work/bench.out"
