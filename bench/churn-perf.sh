#!/usr/bin/env bash
# Where connection churn's time goes, kernel included: BenchmarkConnSetup
# (bench/churn.sh's workload) under `perf record -e cpu-clock`, stock and
# h2lifecycle alternating, PAIRS runs of each, one fresh process per run on
# CPU 1 with GOMAXPROCS=1 (one thread runs Go code: no spinning threads,
# samples are work). Prints per connection, in µs (samples x period / N):
# the total, kernel and user space, the system call paths under the socket
# calls (write, close, read, tcp_close) and h2lifecycle's own frames (self
# time of lifecycle.*, server.* and internal/frame.*); then the median of
# each over the runs. Loopback only; every process in the foreground.
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
	perf report -i "$data" -n --children --sort sym --stdio -g none 2>/dev/null >"$OUT/children-$1-$2.txt"
	python3 - "$OUT/self-$1-$2.txt" "$OUT/children-$1-$2.txt" "$N" "$FREQ" "$1" <<'EOF'
import re, sys
selfp, childp, n, freq, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
per = 1e6 / freq / n  # µs per connection of one sample

# Lines of `perf report -n`: overhead, (children,) samples, [dso,] [ring] symbol.
total = kern = user = own = 0
for line in open(selfp):
    m = re.match(r"\s+[\d.]+%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    n_, ring, sym = int(m.group(1)), m.group(3), m.group(4).strip()
    total += n_
    if ring == "k":
        kern += n_
    else:
        user += n_
        if re.match(r"github\.com/h2lifecycle/h2lifecycle/(lifecycle|server|internal/frame)\.", sym) and "_test" not in sym:
            own += n_
paths = {}
for line in open(childp):
    m = re.match(r"\s+([\d.]+)%\s+[\d.]+%\s+\d+\s+\[.\]\s+(.*)", line)
    if m:
        paths[m.group(2).strip()] = float(m.group(1)) / 100 * total
def us(samples):
    return samples * per
cols = [us(total), us(kern), us(user), us(paths.get("syscall.write", 0)), us(paths.get("syscall.Close", 0)),
        us(paths.get("syscall.read", 0)), us(paths.get("tcp_close", 0)), us(own)]
print(kind, " ".join("%.1f" % c for c in cols))
EOF
}

rows=$work/rows
: >"$rows"
printf '%-12s %8s %8s %8s %8s %8s %8s %9s %8s\n' kind total kernel user write close read tcp_close own
for pair in $(seq "$PAIRS"); do
	if [ $((pair % 2)) = 1 ]; then kinds="stock h2lifecycle"; else kinds="h2lifecycle stock"; fi
	for kind in $kinds; do
		one "$kind" "$pair" | tee -a "$rows" | awk '{printf "%-12s %8s %8s %8s %8s %8s %8s %9s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
	done
done
echo
echo "medians (µs per connection, client and server):"
for kind in stock h2lifecycle; do
	printf '%-12s' "$kind"
	for col in 2 3 4 5 6 7 8 9; do
		printf ' %8s' "$(awk -v k="$kind" -v c="$col" '$1==k {print $c}' "$rows" | median)"
	done
	echo
done
