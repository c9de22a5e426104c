#!/usr/bin/env python3
"""Names the frames of a published clp2p's ReadyToRun code in a `perf` profile (docs/performance.md, "Naming the
precompiled code in perf").

perf names the kernel's and the native libraries' frames, and the runtime's perf map
(DOTNET_PerfMapEnabled=1) names what it compiles at run time, but the methods precompiled into the composite image
(clp2p.r2r.dll, where nearly all of a crawl's managed time is) stay bare offsets. crossgen writes a map of that image
when asked (-p:PublishReadyToRunEmitSymbols=true: clp2p.r2r.ni.r2rmap beside it, lines of "RVA size name"); perf
reports an offset into the mapped file, and the image maps its .text section at the file offset of its raw data, so
RVA = offset + (the section's virtual address - its raw data pointer), read here from the image's section table.

  dotnet publish src/Crawler -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true \\
      -p:PublishReadyToRunComposite=true -p:PublishReadyToRunEmitSymbols=true -o out
  perf record -F 999 -g -o perf.data out/clp2p crawl ...
  perf script -i perf.data -F comm,tid,ip,sym,dso --no-inline > perf.txt
  bench/tools/r2r-perf.py out perf.txt self                 # the 60 hottest frames, self time
  bench/tools/r2r-perf.py out perf.txt incl 'ClP2p\\.'        # inclusive time of the frames matching a pattern
  bench/tools/r2r-perf.py out perf.txt callers 'FindValue'  # who calls the frames matching a pattern (self time)
"""
import bisect
import collections
import re
import struct
import sys


def text_delta(image):
    """Virtual address minus raw data pointer of the image's .text section (PE section table)."""
    with open(image, 'rb') as f:
        head = f.read(4096)
    pe = struct.unpack_from('<I', head, 0x3c)[0]
    sections = struct.unpack_from('<H', head, pe + 6)[0]
    optional = struct.unpack_from('<H', head, pe + 20)[0]
    at = pe + 24 + optional
    for i in range(sections):
        name, _, va, _, raw = struct.unpack_from('<8sIIII', head, at + 40 * i)
        if name.rstrip(b'\0') == b'.text':
            return va - raw
    raise SystemExit(f'{image}: no .text section')


def load_map(path):
    entries = []
    for line in open(path, errors='replace'):
        parts = line.rstrip('\n').split(' ', 2)
        if len(parts) < 3:
            continue
        rva, size = int(parts[0], 16), int(parts[1], 16)
        if rva >= 0xF0000000:   # the map's header lines
            continue
        entries.append((rva, size, parts[2]))
    entries.sort()
    return [e[0] for e in entries], entries


def short(name):
    name = re.sub(r'\[[^\]]*\]', '', name)
    return re.sub(r'\(.*\)', '()', name)[:160]


def main():
    if len(sys.argv) < 4 or sys.argv[3] not in ('self', 'incl', 'callers'):
        raise SystemExit(__doc__)
    out, script, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    pattern = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
    if mode == 'callers' and pattern is None:
        raise SystemExit('callers needs a pattern')
    delta = text_delta(f'{out}/clp2p.r2r.dll')
    starts, entries = load_map(f'{out}/clp2p.r2r.ni.r2rmap')

    def frame(ip, sym, dso):
        if dso.endswith('clp2p.r2r.dll'):
            rva = int(ip, 16) + delta
            i = bisect.bisect_right(starts, rva) - 1
            if i >= 0 and rva < entries[i][0] + entries[i][1]:
                return short(entries[i][2])
            return f'clp2p.r2r.dll+{ip}'
        return f"{sym if sym and sym != '[unknown]' else '?'} ({dso.split('/')[-1]})"

    own, inclusive, callers = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    stack = []

    def flush():
        nonlocal total
        if not stack:
            return
        total += 1
        names = [frame(*f) for f in stack]
        own[names[0]] += 1
        for n in set(names):
            inclusive[n] += 1
        if mode == 'callers' and pattern.search(names[0]):
            callers[names[1] if len(names) > 1 else '(none)'] += 1

    for line in open(script, errors='replace'):
        line = line.rstrip('\n')
        if not line.strip() or not line[0].isspace():
            flush()
            stack = []
            continue
        m = re.match(r'\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)$', line)
        if m:
            stack.append((m.group(1), re.sub(r'\+0x[0-9a-f]+$', '', m.group(2)), m.group(3)))
    flush()
    if total == 0:
        raise SystemExit(f'{script}: no samples (perf script -F comm,tid,ip,sym,dso)')

    counts = {'self': own, 'incl': inclusive, 'callers': callers}[mode]
    shown = 0
    for name, n in counts.most_common():
        if mode != 'callers' and pattern is not None and not pattern.search(name):
            continue
        print(f'{100 * n / total:6.2f}% {name}')
        shown += 1
        if shown >= 60:
            break
    print(f'({total} samples)')


if __name__ == '__main__':
    main()
