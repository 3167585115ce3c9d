#!/usr/bin/env python3
"""Instructions per request by function, stock against h2lifecycle, from
bench/request-callgrind.sh's callgrind files.

    cgdiff.py DIR TRANSPORT N1 N2 [ROWS]

Reads DIR/TRANSPORT-KIND-N.out for both kinds and both counts (through
callgrind_annotate, self cost only: callgrind's inclusive costs are wrong
for Go, whose goroutine switches it takes for calls that never return),
prints the total per request of each kind, the share of h2lifecycle's own
functions, the totals without the runtime's stack walks, and the ROWS
functions (default 30) whose instructions per request differ most.

The stack walks (a goroutine's stack copied when it grows, and the GC's
scans of stacks) are counted apart: how often x/net's handler goroutines
grow depends on the size the runtime starts new goroutines at, which it
derives at every GC from the stacks it saw (GODEBUG=adaptivestackstart), so
it swings between runs of the same server by thousands of instructions per
request, in either direction.
"""
import re
import subprocess
import sys

LINE = re.compile(r'\s*([\d,]+) \([ \d.]+%\).*?\s(\S+?):(\S+)(?: \[\S*\])?$')


def self_costs(path):
    out = subprocess.run(['callgrind_annotate', '--threshold=100', '--auto=no', path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m and m.group(3) != 'TOTALS':
            name = m.group(3)
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(',', ''))
    return costs


STACK = re.compile(r'^runtime\.(pcvalue|step|findfunc|funcMaxSPDelta|adjust\w+|copystack|newstack|'
                   r'morestack|\(\*stkframe\)\.\w+|\(\*unwinder\)\.\w+|\(\*moduledata\)\.textAddr|'
                   r'pcdatavalue\w*|funcdata|funcspdelta|readvarint|fillstack|stackalloc|stackfree|'
                   r'stackcache\w*|getStackMap|funcInfo\.\w+|findmoduledatap)(\'\d+)?$')


def per_request(d, transport, kind, n1, n2):
    a = self_costs(f'{d}/{transport}-{kind}-{n1}.out')
    b = self_costs(f'{d}/{transport}-{kind}-{n2}.out')
    return {k: (b.get(k, 0) - a.get(k, 0)) / (n2 - n1) for k in set(a) | set(b)}


def main():
    d, transport, n1, n2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rows = int(sys.argv[5]) if len(sys.argv) > 5 else 30
    s = per_request(d, transport, 'stock', n1, n2)
    h = per_request(d, transport, 'h2lifecycle', n1, n2)
    own = sum(v for k, v in h.items() if 'h2lifecycle/h2lifecycle/' in k)
    print(f'total per request: stock {sum(s.values()):.0f}, h2lifecycle {sum(h.values()):.0f}; '
          f"h2lifecycle's own functions {own:.0f} ({100 * own / sum(h.values()):.2f} %)")
    walk_s = sum(v for k, v in s.items() if STACK.match(k))
    walk_h = sum(v for k, v in h.items() if STACK.match(k))
    rest_s, rest_h = sum(s.values()) - walk_s, sum(h.values()) - walk_h
    print(f'stack walks per request: stock {walk_s:.0f}, h2lifecycle {walk_h:.0f}; '
          f'without them: stock {rest_s:.0f}, h2lifecycle {rest_h:.0f} ({100 * (rest_h / rest_s - 1):+.2f} %)')
    keys = sorted(set(s) | set(h), key=lambda k: -abs(h.get(k, 0) - s.get(k, 0)))
    for k in keys[:rows]:
        print(f'{s.get(k, 0):9.0f} {h.get(k, 0):9.0f} {h.get(k, 0) - s.get(k, 0):+8.0f}  {k}')


if __name__ == '__main__':
    main()
