#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one run of the QEMU test bed.

Reads the results channel (TAP from the kselftests, KTAP from the KUnit
suites, framed by init's ##SUITE/##END markers) and the kernel console log,
prints one table row per suite and the line 'N passed, N failed, N skipped',
and exits non-zero when a test failed, an expected suite did not run or did
not finish, a test skipped without a reason listed in harness/expected, the
guest did not reach the end, or the kernel log holds a splat.

An expected file may also list features the series does not carry
(`notcarried <suite> <test glob> <feature: reason>`, used for mainline's
own selftests): a failing or skipping test that a glob matches is counted
as not carried instead of failing the run, and an entry that matches no
failing or skipping test fails the run as stale.
"""

import argparse
import fnmatch
import re
import sys

RESULT = re.compile(r'^(?P<indent>\s*)(?P<ok>not ok|ok)\s+(?P<num>\d+)\s*'
                    r'(?:-\s*)?(?P<name>[^#]*?)\s*'
                    r'(?:#\s*(?P<directive>\S+)\s*(?P<reason>.*))?$')
PLAN = re.compile(r'^(?P<indent>\s*)1\.\.(?P<count>\d+)\s*$')

# Kernel log lines that mean a bug, whatever the tests said.
SPLATS = [
    (re.compile(r'------------\[ cut here \]------------'), 'WARN/BUG'),
    (re.compile(r'\bWARNING: '), 'WARNING'),
    (re.compile(r'\bBUG: '), 'BUG'),
    (re.compile(r'\bUBSAN: '), 'UBSAN'),
    (re.compile(r'\bKASAN: '), 'KASAN'),
    (re.compile(r'possible (circular|recursive) locking|inconsistent lock state|'
                r'suspicious RCU usage|INFO: possible .*lock|'
                r'DEBUG_LOCKS_WARN_ON|turning off the locking correctness'),
     'lockdep'),
    (re.compile(r'INFO: task .* blocked for more than'), 'hung task'),
    (re.compile(r'new suspected memory leaks?'), 'kmemleak'),
    (re.compile(r'kmemleak: .*(disabled|Out of memory)'), 'kmemleak off'),
    (re.compile(r'Internal error: |\bOops\b'), 'Oops'),
    (re.compile(r'Unable to handle kernel'), 'Oops'),
    (re.compile(r'Kernel panic'), 'panic'),
    (re.compile(r'soft lockup|rcu_sched detected stalls|rcu: INFO'), 'stall'),
]
# Lines that contain a pattern above but are not reports.
NOT_SPLATS = []


class Suite:
    def __init__(self, kind, name):
        self.kind = kind
        self.name = name
        self.lines = []
        self.rc = None
        self.ms = None
        self.passed = self.failed = self.skipped = 0
        self.planned = None
        self.failures = []
        self.skips = []
        self.problems = []
        self.times = []     # ms since start, before each top-level result
        self.durations = []  # (ms, test name)
        self.results = []   # (test name, 'pass' | 'fail' | 'skip')
        self.notcarried = 0
        self.nc_failed = 0  # failures counted as not carried


def parse_channel(path):
    suites, current, done = [], None, False
    kmemleak = []
    in_kmemleak = False
    try:
        text = open(path, errors='replace').read()
    except OSError as e:
        return suites, False, ['cannot read results: %s' % e]
    for line in text.splitlines():
        line = line.replace('\r', '')
        if line.startswith('##SUITE '):
            _, kind, name = line.split(None, 2)
            current = Suite(kind, name.strip())
            suites.append(current)
            in_kmemleak = False
            continue
        m = re.match(r'^##END (\S+) rc=(-?\d+) ms=(\d+)', line)
        if m and current:
            current.rc, current.ms = int(m.group(2)), int(m.group(3))
            current = None
            continue
        if line.startswith('##KMEMLEAK'):
            in_kmemleak = int(line.split()[1]) > 0
            continue
        if line.startswith('##DONE'):
            done = True
            in_kmemleak = False
            continue
        if line.startswith('##T ') and current:
            current.times.append(int(line.split()[1]))
            continue
        if line.startswith('##'):
            continue
        if in_kmemleak:
            kmemleak.append(line)
        elif current:
            current.lines.append(line)
    return suites, done, kmemleak


def judge_tap(s):
    """kselftest TAP: results at the smallest indentation are the tests."""
    results = [m for m in map(RESULT.match, s.lines) if m]
    plans = [m for m in map(PLAN.match, s.lines) if m]
    if not results:
        s.problems.append('no test results')
        return
    top = min(len(m.group('indent')) for m in results)
    if s.kind == 'ktap':
        # debugfs KTAP: "ok 1 <suite>" at the top, the cases one level in
        inner = sorted({len(m.group('indent')) for m in results})
        if len(inner) > 1:
            top = inner[1]
    cases = [m for m in results if len(m.group('indent')) == top]
    plan = [p for p in plans if len(p.group('indent')) == top]
    if plan:
        s.planned = int(plan[0].group('count'))
    if s.kind == 'tap' and len(s.times) == len(cases):
        prev = 0
        for t, m in zip(s.times, cases):
            s.durations.append((t - prev, m.group('name').strip()))
            prev = t
    for m in cases:
        name = m.group('name').strip()
        directive = (m.group('directive') or '').upper()
        if directive in ('SKIP', 'XFAIL'):
            # an expected failure is not a pass: it needs a reason too
            s.skipped += 1
            reason = m.group('reason').strip()
            s.skips.append((name, reason if directive == 'SKIP'
                            else 'XFAIL ' + reason))
            s.results.append((name, 'skip'))
        elif m.group('ok') == 'ok' and directive != 'XPASS':
            s.passed += 1
            s.results.append((name, 'pass'))
        else:
            s.failed += 1
            s.failures.append(name)
            s.results.append((name, 'fail'))
    if s.planned is not None and len(cases) != s.planned:
        s.problems.append('%d of %d planned tests reported'
                          % (len(cases), s.planned))


def scan_console(path):
    try:
        lines = open(path, errors='replace').read().splitlines()
    except OSError as e:
        return [('console', 'cannot read console log: %s' % e)]
    found = []
    for line in lines:
        if any(p.search(line) for p in NOT_SPLATS):
            continue
        for pat, what in SPLATS:
            if pat.search(line):
                found.append((what, line.strip()))
                break
    return found


def load_expected(path):
    suites, skips, notcarried = [], {}, []
    for raw in open(path):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        words = line.split(None, 3)
        if words[0] == 'suite' and len(words) >= 3:
            suites.append((words[1], words[2]))
        elif words[0] == 'skip' and len(words) == 4:
            skips[(words[1], words[2])] = words[3]
        elif words[0] == 'notcarried' and len(words) == 4:
            notcarried.append([words[1], words[2], words[3], 0])
        else:
            sys.exit('results: bad line in %s: %s' % (path, raw.rstrip()))
    return suites, skips, notcarried


def not_carried(notcarried, suite, test):
    """The notcarried entry whose glob matches @test of @suite, if any."""
    for entry in notcarried:
        if entry[0] == suite and fnmatch.fnmatchcase(test, entry[1]):
            return entry
    return None


def fixture_table(suites):
    """Per fixture (the first part of a kselftest test name): counts."""
    fmt = '%-36s %7s %7s %8s %11s'
    print(fmt % ('fixture', 'passed', 'failed', 'skipped', 'notcarried'))
    for s in suites:
        rows = {}
        for name, verdict in s.results:
            row = rows.setdefault('%s: %s' % (s.name, name.split('.')[0]),
                                  [0, 0, 0, 0])
            row[{'pass': 0, 'fail': 1, 'skip': 2, 'nc': 3}[verdict]] += 1
        for fixture, row in rows.items():
            print(fmt % ((fixture,) + tuple(row)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', default='test')
    ap.add_argument('--expect', required=True)
    ap.add_argument('--console', required=True)
    ap.add_argument('--results', action='append', required=True)
    ap.add_argument('--fixtures', action='store_true',
                    help='also print a table per test fixture')
    args = ap.parse_args()

    suites, done, kmemleak = [], False, []
    for path in args.results:
        s, d, k = parse_channel(path)
        suites += s
        done = done or d
        kmemleak += k
    splats = scan_console(args.console)
    errors = []

    if args.mode == 'run':
        demo = [s for s in suites if s.kind == 'demo']
        for s in demo:
            print('\n'.join(s.lines))
        if not demo or demo[0].rc != 0:
            errors.append('the demo did not complete')
    else:
        want, allowed_skips, notcarried = load_expected(args.expect)
        if args.mode == 'fuzz':
            want, allowed_skips, notcarried = [('tap', 'iommufd_fuzz')], {}, []
        seen = {(s.kind, s.name) for s in suites}
        for kind, name in want:
            if (kind, name) not in seen:
                errors.append('suite %s did not run' % name)
        fmt = '%-6s %-28s %7s %7s %8s %8s  %s'
        print(fmt % ('kind', 'suite', 'passed', 'failed', 'skipped',
                     'time', 'status') +
              ('  not carried' if notcarried else ''))
        tot = [0, 0, 0]
        for s in suites:
            judge_tap(s)
            for i, (name, verdict) in enumerate(s.results):
                entry = verdict != 'pass' and not_carried(notcarried, s.name,
                                                          name)
                if not entry:
                    continue
                entry[3] += 1
                s.results[i] = (name, 'nc')
                s.notcarried += 1
                if verdict == 'fail':
                    s.failed -= 1
                    s.nc_failed += 1
                    s.failures.remove(name)
                else:
                    s.skipped -= 1
                    s.skips = [k for k in s.skips if k[0] != name]
            if s.rc is None:
                s.problems.append('did not finish')
            elif (s.kind == 'tap' and s.rc not in (0, 4) and not s.failed and
                  not (s.rc == 1 and s.nc_failed)):
                # a kselftest exits 1 when a test failed, not-carried ones too
                s.problems.append('exit code %d' % s.rc)
            for name, reason in s.skips:
                if (s.name, name) not in allowed_skips:
                    s.problems.append('unexpected skip of %s (%s)'
                                      % (name, reason))
            status = 'ok'
            if s.failed or s.problems:
                status = 'FAILED'
                for f in s.failures:
                    errors.append('%s: %s failed' % (s.name, f))
                for p in s.problems:
                    errors.append('%s: %s' % (s.name, p))
            t = '-' if not s.ms else '%.1fs' % (s.ms / 1000.0)
            print(fmt % (s.kind, s.name, s.passed, s.failed, s.skipped, t,
                         status) +
                  ('  %d' % s.notcarried if notcarried else ''))
            tot[0] += s.passed
            tot[1] += s.failed
            tot[2] += s.skipped
        slow = sorted((d for s in suites for d in s.durations), reverse=True)
        if slow:
            print('slowest tests: ' + ', '.join(
                '%s %.1fs' % (n, ms / 1000.0) for ms, n in slow[:5]))
        for suite, glob, reason, hits in notcarried:
            if not hits:
                errors.append('stale notcarried entry %s %s: no failing or '
                              'skipping test matches it' % (suite, glob))
            else:
                print('not carried: %s %s (%d): %s'
                      % (suite, glob, hits, reason))
        if args.fixtures:
            fixture_table(suites)
        for s in suites:
            for name, reason in s.skips:
                if (s.name, name) in allowed_skips:
                    print('skipped %s/%s: %s (expected: %s)'
                          % (s.name, name, reason,
                             allowed_skips[(s.name, name)]))

    if not done:
        errors.append('the guest stopped before the end of the run')
    if kmemleak:
        errors.append('kmemleak reported leaks')
        print('kmemleak report:')
        print('\n'.join(kmemleak[:60]))
    for what, line in splats[:20]:
        errors.append('kernel log: %s: %s' % (what, line))
    if len(splats) > 20:
        errors.append('kernel log: %d more splat lines' % (len(splats) - 20))
    print('kernel log: %s' % ('clean' if not splats else
                              '%d splat line(s)' % len(splats)))

    for e in errors:
        print('ERROR: ' + e)
    if args.mode != 'run':
        nc = sum(s.notcarried for s in suites)
        print('%d passed, %d failed, %d skipped' % tuple(tot) +
              (', %d not carried' % nc if nc else ''))
    if errors:
        print('see %s and %s' % (args.console, ' '.join(args.results)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
