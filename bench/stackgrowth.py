#!/usr/bin/env python3
# Stack growths in a callgrind output file: calls of runtime.morestack*, in
# all and by the function whose prologue made them (the first line is the
# total; then the top N callers). Used by bench/churn-profile.sh.
#   bench/stackgrowth.py callgrind.out [N]
import sys, re, collections
def parse(path):
    names = {}
    fn = cfn = None
    by = collections.Counter()
    pending = False
    for line in open(path, errors='replace'):
        if line.startswith(('fn=', 'cfn=')):
            key, rest = line.rstrip('\n').split('=', 1)
            m = re.match(r'\((\d+)\)(?: (.*))?', rest)
            if m:
                i, name = m.group(1), m.group(2)
                if name: names[i] = name
                name = names.get(i, '?')
            else:
                name = rest
            if key == 'fn': fn = name
            else: cfn = name
        elif line.startswith('calls='):
            n = int(line.split('=', 1)[1].split()[0])
            if cfn and cfn.startswith('runtime.morestack'):
                by[fn] += n
    return by
by = parse(sys.argv[1])
top = int(sys.argv[2]) if len(sys.argv) > 2 else 0
print(sum(v for k, v in by.items() if not k.startswith('runtime.morestack')))
for k, v in by.most_common(top):
    if not k.startswith('runtime.morestack'):
        print(v, k)
