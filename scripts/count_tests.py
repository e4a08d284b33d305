#!/usr/bin/env python3
"""Count test cases in meson test logs.

Every test prints TAP; each 'ok'/'not ok' line is one case. A test that
printed no TAP counts as one case by its exit status. A test that crashed
after its last TAP line (or before its plan was complete, or failed a
sanitizer check at exit) adds one failure, named, so nothing hides.
Prints "passed failed skipped" on stdout and the failures on stderr.
"""
import json, re, sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f"no test log at {path}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get('stdout') or ''
        oks = nots = skips = 0
        plan = None
        for l in out.splitlines():
            m = re.match(r'^(not )?ok\b', l)
            if m:
                if '# SKIP' in l or '# skip' in l:
                    skips += 1
                elif m.group(1):
                    nots += 1
                    print(f"  {t['name']}: {l}", file=sys.stderr)
                else:
                    oks += 1
            pm = re.match(r'^1\.\.(\d+)', l)
            if pm:
                plan = (plan or 0) + int(pm.group(1))
        if oks + nots + skips == 0:
            if t['result'] == 'OK':
                passed += 1
            elif t['result'] == 'SKIP':
                skipped += 1
            else:
                failed += 1
                print(f"  {t['name']}: {t['result']}", file=sys.stderr)
            continue
        passed += oks; failed += nots; skipped += skips
        seen = oks + nots + skips
        if (t['result'] not in ('OK', 'SKIP') and nots == 0) or \
           (plan is not None and seen < plan):
            failed += 1
            print(f"  {t['name']}: {t['result']} after {seen} cases "
                  f"(crash, timeout or sanitizer report)", file=sys.stderr)
print(passed, failed, skipped)
