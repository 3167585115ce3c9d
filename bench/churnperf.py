#!/usr/bin/env python3
"""Per-connection costs of one bench/churn-perf.sh run, from perf's output.

    churnperf.py SELF SCRIPT N FREQ KIND

SELF is `perf report -n --no-children --sort dso,sym --stdio -g none`,
SCRIPT is `perf script` (call stacks), N the connections of the run, FREQ
perf's sampling rate. Prints KIND and, in µs per connection: the total,
kernel and user time; the socket calls with the kernel's work under them:
the server's and the client's writes and closes (the client's when the
benchmark's raw-frame client, setupClient, is on the stack), all reads, and
tcp_close within any of them; h2lifecycle's own frames (self time of
lifecycle.*, server.* and internal/frame.*, tests excluded).
"""
import re
import sys

selfp, scriptp, n, freq, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
per = 1e6 / freq / n  # µs per connection of one sample

# Lines of `perf report -n`: overhead, samples, dso, [ring], symbol.
total = kern = user = own = 0
ownsym = re.compile(r"github\.com/h2lifecycle/h2lifecycle/(lifecycle|server|internal/frame)\.")
for line in open(selfp):
    m = re.match(r"\s+[\d.]+%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    k, ring, sym = int(m.group(1)), m.group(3), m.group(4).strip()
    total += k
    if ring == "k":
        kern += k
    else:
        user += k
        if ownsym.match(sym) and "_test" not in sym:
            own += k

calls = dict.fromkeys(["srv_write", "srv_close", "cli_write", "cli_close", "read", "tcp_close"], 0)
for sample in open(scriptp).read().split("\n\n"):
    frames = [re.sub(r"^\s*[0-9a-f]+\s+", "", line).split("+0x")[0].split(" (")[0]
              for line in sample.strip().split("\n")[1:]]
    side = "cli" if any("setupClient" in f for f in frames) else "srv"
    if "syscall.write" in frames:
        calls[side + "_write"] += 1
    elif "syscall.Close" in frames:
        calls[side + "_close"] += 1
    elif "syscall.read" in frames:
        calls["read"] += 1
    if "tcp_close" in frames:
        calls["tcp_close"] += 1

cols = [total, kern, user] + list(calls.values()) + [own]
print(kind, " ".join("%.1f" % (c * per) for c in cols))
