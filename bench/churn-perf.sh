#!/usr/bin/env bash
# Where connection churn's time goes, kernel included: BenchmarkConnSetup
# (bench/churn.sh's workload) under `perf record -e cpu-clock`, stock and
# h2lifecycle alternating, PAIRS runs of each, one fresh process per run on
# CPU 1 with GOMAXPROCS=1 (one thread runs Go code: no spinning threads,
# samples are work). Prints per connection, in µs (samples x period / N;
# bench/churnperf.py reads perf's output): the total, kernel and user time,
# the server's and the client's socket writes and closes with the kernel's
# work under them, all reads, tcp_close, and h2lifecycle's own frames; then
# the median of each over the runs. Loopback only; every process in the foreground.
#
#   bench/churn-perf.sh                       # h2c, N=20000, PAIRS=3
#   TRANSPORT=tls N=3000 bench/churn-perf.sh
#   OUT=dir   keep the perf.data files there (default: a temp dir, removed)
#
# Needs perf (apt-get install -y linux-perf) and kernel samples
# (kernel.perf_event_paranoid <= 1: set to -1 here when run as root).
source "$(dirname "$0")/connlib.sh"
N=${N:-20000}
PAIRS=${PAIRS:-3}
TRANSPORT=${TRANSPORT:-h2c}
FREQ=${FREQ:-4000}
OUT=${OUT:-$work}
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "perf not found: apt-get install -y linux-perf" >&2; exit 1; }
if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 1 ]; then
	echo -1 >/proc/sys/kernel/perf_event_paranoid 2>/dev/null ||
		{ echo "kernel samples need kernel.perf_event_paranoid <= 1" >&2; exit 1; }
fi
machine
echo "BenchmarkConnSetup/$TRANSPORT, $N connections per run, $PAIRS pairs, perf cpu-clock at $FREQ Hz; CPU 1, GOMAXPROCS=1; commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)"
go test -c -o "$work/server.test" ./server

one() { # KIND RUN
	local data=$OUT/perf-$1-$2.data
	wait_quiet
	(cd server && timeout 900 perf record -q -g -e cpu-clock -F "$FREQ" -o "$data" -- \
		taskset -c 1 "$work/server.test" -test.run '^$' -test.bench "^BenchmarkConnSetup/$TRANSPORT/$1\$" \
		-test.benchtime "${N}x" -test.cpu 1) >"$OUT/bench-$1-$2.txt" 2>&1
	perf report -i "$data" -n --no-children --sort dso,sym --stdio -g none 2>/dev/null >"$OUT/self-$1-$2.txt"
	perf script -i "$data" 2>/dev/null >"$OUT/script-$1-$2.txt"
	python3 bench/churnperf.py "$OUT/self-$1-$2.txt" "$OUT/script-$1-$2.txt" "$N" "$FREQ" "$1"
}

rows=$work/rows
: >"$rows"
cols=(kind total kernel user srv_write srv_close cli_write cli_close read tcp_close own)
printf '%-12s' "${cols[0]}"
printf ' %9s' "${cols[@]:1}"
echo
for pair in $(seq "$PAIRS"); do
	if [ $((pair % 2)) = 1 ]; then kinds="stock h2lifecycle"; else kinds="h2lifecycle stock"; fi
	for kind in $kinds; do
		one "$kind" "$pair" | tee -a "$rows" | awk '{printf "%-12s", $1; for (i = 2; i <= NF; i++) printf " %9s", $i; print ""}'
	done
done
echo
echo "medians (µs per connection, client and server):"
for kind in stock h2lifecycle; do
	printf '%-12s' "$kind"
	for col in $(seq 2 ${#cols[@]}); do
		printf ' %9s' "$(awk -v k="$kind" -v c="$col" '$1==k {print $c}' "$rows" | median)"
	done
	echo
done
