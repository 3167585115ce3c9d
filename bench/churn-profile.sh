#!/usr/bin/env bash
# The measurements behind BENCHMARKS.md's "Connection churn" claims, stock
# beside h2lifecycle, on the toolchain in use (GOTOOLCHAIN=go1.27.4
# bench/churn-profile.sh for Go 1.27). Loopback only; every process runs in
# the foreground under `timeout` (which ends only its own child), so nothing
# outlives the script.
#
# For each transport (h2c, tls) and kind (stock, h2lifecycle), with
# BenchmarkConnSetup (dial, TLS, preface, SETTINGS, one GET, close; a
# raw-frame client in the same process, so both sides are counted and
# h2lifecycle minus stock is what it adds):
#   1. allocations per connection (-benchmem, CPUN connections) and a CPU
#      profile of the same run; from the profile the shares (fractions of
#      all samples, not seconds: they hold on a loaded machine only as far
#      as the scheduler lets them) of
#        own      samples with one of h2lifecycle's frames on the stack above
#                 the connection's base (server.(*Server).serve and the
#                 serve call under it are below everything the connection's
#                 goroutine does, stock's work too), minus those in I/O
#                 stock does as well (syscalls, crypto/tls)
#        newstack runtime.newstack (stack growth), in all samples, and in
#                 the "own" ones
#   2. instructions per connection with valgrind's callgrind (counts do not
#      depend on the machine's load): two runs of N1 and N2 connections,
#      (I(N2) - I(N1)) / (N2 - N1), so start-up and warm-up cancel out; the
#      same difference for runtime.copystack's inclusive count (stack growth
#      and shrinking; runtime.newstack's inclusive count is meaningless to
#      callgrind, as newstack never returns: it jumps to the grown stack).
#
#   OUT=dir (default a new temp dir)  CPUN=3000  N1=100 N2=300
#   SRC=dir   the module to build (default: this checkout), to measure
#             another commit with the same script (git archive C | tar -x -C dir)
#   TRANSPORTS="h2c tls"  KINDS="stock h2lifecycle"  CALLGRIND=1
#   CG_GODEBUG=adaptivestackstart=0   more GODEBUG settings for the callgrind
#             runs; this one starts every goroutine at 2 KB. By default the
#             runtime starts them at the average stack use it saw at the
#             last GC, which the benchmark's few live goroutines set, and
#             which moves with the kind: the TLS rows' growths per connection
#             differ by 2 with it (5.95 / 7.93) and not without (10.04 both).
#
# Needs valgrind (apt-get install -y valgrind) for step 2; Go's asynchronous
# preemption signals trip callgrind, so it runs with GODEBUG=asyncpreemptoff=1,
# and with GOMAXPROCS=1: with more Ps, idle Ms spin looking for work for as
# long as the (loaded) machine lets the run last, and the totals of two
# identical runs differed 3x; with one P, three runs of 100 connections
# agreed within 0.02 %.
# Step 2 also counts stack growths (calls of runtime.morestack) per
# connection, and by the function whose prologue grew the stack
# ($OUT/growth-*.txt; bench/stackgrowth.py).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/churn-profile.XXXXXX)}
CPUN=${CPUN:-3000}
N1=${N1:-100}
N2=${N2:-300}
TRANSPORTS=${TRANSPORTS:-h2c tls}
KINDS=${KINDS:-stock h2lifecycle}
CALLGRIND=${CALLGRIND:-1}
mkdir -p "$OUT"
BIN=$OUT/server.test
SRC=${SRC:-.}
(cd "$SRC" && go test -c -o "$BIN" ./server)
rev="commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)"
[ "$SRC" != . ] && rev="source $SRC"
echo "# $(go version); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ); $rev; out $OUT"

source bench/pproflib.sh # share, cumshare, $H2L, $IO

# instr N TR KIND: callgrind's total and runtime.copystack's inclusive count.
instr() {
	local n=$1 tr=$2 kind=$3 f=$OUT/callgrind-$2-$3-$1.out
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1${CG_GODEBUG:+,$CG_GODEBUG} timeout 1200 valgrind --tool=callgrind --callgrind-out-file="$f" \
		"$BIN" -test.run '^$' -test.bench "^BenchmarkConnSetup/$tr/$kind\$" -test.benchtime "${n}x" \
		>"$OUT/callgrind-$tr-$kind-$n.txt" 2>"$OUT/callgrind-$tr-$kind-$n.log"
	local total stack
	total=$(sed -n 's/^totals: *//p' "$f")
	callgrind_annotate --inclusive=yes --threshold=100 "$f" >"$f.annotated" 2>/dev/null || true
	stack=$(awk '/stack\.go:runtime\.copystack /{ gsub(",", "", $1); print $1; exit }' "$f.annotated")
	local growths
	python3 bench/stackgrowth.py "$f" 40 >"$OUT/growth-$tr-$kind-$n.txt" # not piped into head: its early exit failed the script (pipefail)
	growths=$(head -n 1 "$OUT/growth-$tr-$kind-$n.txt")
	echo "$total ${stack:-0} ${growths:-0}"
}

printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' transport kind B/conn allocs/conn own% newstack% newstack-in-own% Ir/conn copystack-Ir/conn growths/conn
for tr in $TRANSPORTS; do
	for kind in $KINDS; do
		prof=$OUT/cpu-$tr-$kind.pprof
		timeout 900 "$BIN" -test.run '^$' -test.bench "^BenchmarkConnSetup/$tr/$kind\$" \
			-test.benchtime "${CPUN}x" -test.benchmem -test.cpuprofile "$prof" >"$OUT/bench-$tr-$kind.txt"
		read -r bytes allocs < <(awk '/^BenchmarkConnSetup/ { for (i = 1; i <= NF; i++) { if ($i == "B/op") b = $(i-1); if ($i == "allocs/op") a = $(i-1) } } END { print b, a }' "$OUT/bench-$tr-$kind.txt")
		own=$(share "$prof" "$H2L" "$IO")
		ns=$(share "$prof" 'runtime\.newstack')
		nsown=$(cumshare "$prof" 'runtime\.newstack' "$H2L" "$IO")
		ir=- nsir=- gr=-
		if [ "$CALLGRIND" = 1 ]; then
			read -r i1 s1 g1 < <(instr "$N1" "$tr" "$kind")
			read -r i2 s2 g2 < <(instr "$N2" "$tr" "$kind")
			ir=$(((i2 - i1) / (N2 - N1)))
			nsir=$(((s2 - s1) / (N2 - N1)))
			gr=$(awk -v a="$g1" -v b="$g2" -v n=$((N2 - N1)) 'BEGIN { printf "%.2f", (b - a) / n }')
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tr" "$kind" "$bytes" "$allocs" "${own:-0%}" "${ns:-0%}" "${nsown:-0%}" "$ir" "$nsir" "$gr"
	done
done
