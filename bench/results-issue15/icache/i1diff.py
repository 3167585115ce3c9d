# Instruction-cache misses (I1mr) per connection by function, stock against
# h2lifecycle: (N=500 - N=300) / 200 from callgrind_annotate --show=I1mr.
import re
def load(f):
    d = {}
    for l in open(f):
        m = re.match(r'\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$', l)
        if not m:
            continue
        name = re.sub(r' \[.*\]$', '', m.group(2).strip())
        if ':' in name:
            name = name.split(':', 1)[1]
        d[name] = d.get(name, 0) + int(m.group(1).replace(',', ''))
    return d
per = {}
for k in ('stock', 'h2lifecycle'):
    a, b = load(f'ann-{k}-300.txt'), load(f'ann-{k}-500.txt')
    per[k] = {n: (b.get(n, 0) - a.get(n, 0)) / 200 for n in set(a) | set(b) if n != 'PROGRAM TOTALS'}
own = sum(v for n, v in per['h2lifecycle'].items() if 'h2lifecycle/' in n)
print(f"I1 misses per connection in h2lifecycle's own functions: {own:.0f}")
rows = sorted(set(per['stock']) | set(per['h2lifecycle']), key=lambda n: -(per['h2lifecycle'].get(n, 0) - per['stock'].get(n, 0)))
print('   stock  h2lifecycle  difference  function (the 25 largest increases)')
for n in rows[:25]:
    s, h = per['stock'].get(n, 0), per['h2lifecycle'].get(n, 0)
    print(f'{s:8.1f} {h:12.1f} {h - s:+11.1f}  {n}')
