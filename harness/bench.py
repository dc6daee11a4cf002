# SPDX-License-Identifier: GPL-2.0
"""make bench's report (see harness/bench.sh): reads each boot's ##BENCH
lines, prints the table and writes DIR/results.tsv.

Kinds of row:
  ab       the same figure on both kernels; per pair the ratio base time /
           series time (above 1: the series is faster), min/median/max
  series   a ratio between two figures of the same series boot (the base
           has no nesting, nor msi-iommu), or a series figure as it is
           (bytes per MSI), one per series boot
  cmds     SMMU commands one map+unmap on a nest parent issues (QEMU's
           log of the counting boot, DIR/cmds); the value is the
           whole-VMID TLBIs among them, which the target wants at 0
  text     text size of an object, series / base (above 1: bigger), once
"""
import argparse
import os
import statistics
import subprocess
import sys

# figure: (what it exercises, target: the median must be >= it, or None)
AB = {
    'map_4k_mock': ('IOAS_MAP+UNMAP 4 KiB, mock domain', 0.98),
    'map_2m_mock': ('IOAS_MAP+UNMAP 2 MiB hugetlb, mock domain', 0.98),
    'pin_64k_access': ('mock access pin+unpin of 16 pages', 0.98),
    'rw_64b_access': ('mock access rw of 64 bytes', 0.98),
    'map_4k_smmu': ('IOAS_MAP+UNMAP 4 KiB, SMMUv3 domain of an edu', 0.98),
    'map_2m_smmu': ('IOAS_MAP+UNMAP 2 MiB hugetlb, SMMUv3 domain', 0.98),
    'msi_edu': ('VFIO_DEVICE_SET_IRQS MSI enable+disable, edu', None),
    'attach_edu': ('attach+detach of an edu, MSI off', 0.98),
    'attach_msi_edu': ('attach+detach of an edu with MSI on', 0.98),
    'msi_edu_attach': ('of attach_msi_edu: the attach alone', None),
    'msi_edu_detach': ('of attach_msi_edu: the detach alone', None),
    'replace_msi_edu': ('HWPT replace there and back, MSI on', 0.98),
    'rebind_msix_rng': ('virtio-rng driver unbind+bind, MSI-X in a DMA domain',
                        None),
    'msix_vfio_rng': ('VFIO MSI-X enable (2 vectors)+disable, virtio-rng',
                      None),
}

# name: (numerator figure, denominator figure, what, target: (op, value))
DERIVED = {
    'nested_gain_4k': ('parent_map_4k_n1', 'guest_map_4k',
                       'IOAS map+unmap per page / guest S1 map + TLBI_NH_VA',
                       ('>=', 5.0)),
    'nested_gain_4k_x16': ('parent_map_4k_n1', 'guest_map_4k_x16',
                           'the same, the guest invalidating 16 pages a call',
                           ('>=', 5.0)),
    'parent_unmap_n2_n1': ('parent_map_4k_n2', 'parent_map_4k_n1',
                           'nest parent map+unmap, 2 nested devices / 1',
                           None),
    'doorbell_bind_2048_1': ('db_bind_u2048_d1', 'db_bind_u1_d1',
                             'msi-iommu bind+unbind, 2048 users / 1, '
                             'one doorbell', ('<=', 1.2)),
    'doorbell_bind_2048_16': ('db_bind_u2048_d16', 'db_bind_u1_d16',
                              'the same over 16 doorbells', ('<=', 1.2)),
    'doorbell_lookup_2048_1': ('db_lookup_u2048_d1', 'db_lookup_u1_d1',
                               'msi-iommu lookup, 2048 users / 1, one '
                               'doorbell', ('<=', 1.2)),
    'doorbell_lookup_2048_16': ('db_lookup_u2048_d16', 'db_lookup_u1_d16',
                                'the same over 16 doorbells', ('<=', 1.2)),
}

# series figures reported as they are: (what, target)
PLAIN = {
    'bytes_per_msi': ('slab bytes per bound MSI user (2048 bound)',
                      ('<', 128)),
}

# SMMU commands of one map+unmap on a nest parent (QEMU's log, between
# bench.c's two marker TLBIs): what they may contain
CMDS = {
    'parent_map_4k_n1': 'commands per map+unmap on a nest parent, 1 nested '
                        'device',
    'parent_map_4k_n2': 'the same, 2 nested devices',
}
WHOLE_VMID = ('TLBI_S12_VMALL', 'TLBI_NSNH_ALL')
MARK_START, MARK_END = 'addr=0x7be000', 'addr=0x7ef000'


def read_kunit(path, figs):
    """msi-iommu-bench lines of the kernel log into figs"""
    try:
        with open(os.path.join(path, 'console.log'), errors='replace') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        if 'msi-iommu-bench: ' not in line:
            continue
        kv = dict(w.split('=', 1) for w in
                  line.split('msi-iommu-bench: ', 1)[1].split() if '=' in w)
        if 'users' in kv:
            tag = 'u%s_d%s' % (kv['users'], kv['doorbells'])
            figs['db_bind_' + tag] = int(kv['bind+unbind'])
            figs['db_lookup_' + tag] = int(kv['lookup'])
        elif 'bytes-per-user' in kv:
            figs['bytes_per_msi'] = int(kv['bytes-per-user'])


def read_cmds(path, calls):
    """{figure: {opcode: count per call}} from QEMU's SMMU command log"""
    try:
        with open(os.path.join(path, 'smmu.log'), errors='replace') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    out, order = {}, [fig for fig, _ in calls]
    counts, idx = None, 0
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == 'smmuv3_range_inval' and MARK_START in words:
            counts = {}
        elif words[0] == 'smmuv3_range_inval' and MARK_END in words:
            if counts is not None and idx < len(order):
                # the end marker's own TLBI, the start marker's SYNC
                for op in ('TLBI_NH_VA', 'SYNC'):
                    if counts.get(op):
                        counts[op] -= 1
                n = dict(calls)[order[idx]]
                out[order[idx]] = {k: v / n for k, v in counts.items() if v}
                idx += 1
            counts = None
        elif words[0] == 'smmuv3_cmdq_opcode' and counts is not None:
            # QEMU names them SMMU_CMD_<name>
            op = words[-1]
            for prefix in ('SMMU_CMD_', 'CMD_'):
                if op.startswith(prefix):
                    op = op[len(prefix):]
            counts[op] = counts.get(op, 0) + 1
    return out


def read_boot(path):
    """{figure: ns} of one boot, [failures], {figure: why not measured},
    {figure: SMMU commands per call}"""
    figs, fails, na, calls = {}, [], {}, []
    done = False
    for name in ('results0.log', 'results1.log'):
        try:
            with open(os.path.join(path, name), errors='replace') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            w = line.split()
            if not w:
                continue
            if w[0] == '##BENCH' and len(w) >= 3:
                if w[2] == 'n/a':
                    na[w[1]] = ' '.join(w[3:])
                else:
                    figs[w[1]] = int(w[2])
            elif w[0] == '##CMDS' and len(w) == 3:
                calls.append((w[1], int(w[2])))
            elif w[0] == '##FAIL':
                fails.append(' '.join(w[1:]))
            elif w[0] == '##BENCH-END':
                done = True
    if not done:
        fails.append('%s: the bench program did not finish' % path)
    read_kunit(path, figs)
    return figs, fails, na, read_cmds(path, calls)


def stats(vals):
    return statistics.median(vals), min(vals), max(vals)


def text_size(size, path):
    if not os.path.exists(path):
        return 0
    out = subprocess.run([size, path], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return int(out[1].split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--pairs', type=int, required=True)
    ap.add_argument('--size', required=True)
    ap.add_argument('--base-obj', required=True)
    ap.add_argument('--series-obj', required=True)
    ap.add_argument('--objects', default='')
    ap.add_argument('--machine', default='')
    a = ap.parse_args()

    boots = {}
    cmds = {}
    fails = []
    na = {}
    for i in range(1, a.pairs + 1):
        for side in ('base', 'series'):
            figs, f, n, _ = read_boot(os.path.join(a.dir,
                                                   '%d-%s' % (i, side)))
            boots[(i, side)] = figs

            fails += ['%d-%s: %s' % (i, side, x) for x in f]
            for k, v in n.items():
                na.setdefault((side, k), v)
                if side == 'series':
                    fails.append('%d-series: %s not measured: %s' % (i, k, v))

    # the counting boot (BENCH_TRACE=1): commands, no times
    _, f, n, cmds = read_boot(os.path.join(a.dir, 'cmds'))
    fails += ['cmds: %s' % x for x in f]
    fails += ['cmds: %s not counted: %s' % (k, v) for k, v in n.items()]

    rows = []
    for fig, (what, target) in AB.items():
        ratios, bns, sns = [], [], []
        for i in range(1, a.pairs + 1):
            b = boots[(i, 'base')].get(fig)
            s = boots[(i, 'series')].get(fig)
            if b and s:
                ratios.append(b / s)
                bns.append(b)
                sns.append(s)
        target = ('>=', target) if target else None
        if ratios:
            rows.append((fig, 'ab', *stats(ratios), len(ratios),
                         statistics.median(bns), statistics.median(sns),
                         target, what))
        else:
            rows.append((fig, 'ab', None, None, None, 0, None, None, target,
                         what))
    for name, (num, den, what, target) in DERIVED.items():
        ratios, nums, dens = [], [], []
        for i in range(1, a.pairs + 1):
            s = boots[(i, 'series')]
            if s.get(num) and s.get(den):
                ratios.append(s[num] / s[den])
                nums.append(s[num])
                dens.append(s[den])
        if ratios:
            rows.append((name, 'series', *stats(ratios), len(ratios),
                         statistics.median(dens), statistics.median(nums),
                         target, what))
        else:
            why = na.get(('series', den)) or na.get(('series', num)) or ''
            rows.append((name, 'series', None, None, None, 0, None, None,
                         target, what + (' (n/a: %s)' % why if why else '')))
    for name, (what, target) in PLAIN.items():
        vals = [boots[(i, 'series')][name] for i in range(1, a.pairs + 1)
                if name in boots[(i, 'series')]]
        if vals:
            rows.append((name, 'series', *stats(vals), len(vals), None,
                         statistics.median(vals), target, what))
        else:
            rows.append((name, 'series', None, None, None, 0, None, None,
                         target, what))
    for fig, what in CMDS.items():
        per = cmds.get(fig)
        if per is None:
            rows.append(('cmds:' + fig, 'cmds', None, None, None, 0, None,
                         None, None, what + ' (not counted)'))
            continue
        whole = sum(per.get(op, 0) for op in WHOLE_VMID)
        desc = ', '.join('%s %.3g' % (op, n)
                         for op, n in sorted(per.items()))
        if not per.get('TLBI_S2_IPA') and not whole:
            # an unmap that invalidated nothing: not a pass
            fails.append('%s: no stage-2 invalidation between the markers '
                         '(%s)' % (fig, desc or 'no command'))
            whole = None
        rows.append(('cmds:' + fig, 'cmds', whole, whole, whole, 1, None,
                     None, ('==', 0), '%s: %s (median: whole-VMID TLBIs '
                     'per call)' % (what, desc)))
    objs = ['vmlinux'] + a.objects.split()
    for obj in objs:
        b = text_size(a.size, os.path.join(a.base_obj, obj))
        s = text_size(a.size, os.path.join(a.series_obj, obj))
        if not b and not s:
            continue
        r = s / b if b else None
        rows.append(('text:' + obj, 'text', r, r, r, 1, b, s, None,
                     '%+d bytes' % (s - b)))

    def fmt(v, d=3):
        return '-' if v is None else ('%.*f' % (d, v))

    def verdict(kind, med, target):
        if target is None:
            return ''
        if med is None:
            return 'MISSING'
        op, val = target
        ok = {'>=': med >= val, '<=': med <= val, '<': med < val,
              '==': med == val}[op]
        return 'met' if ok else 'MISSED'

    def tgt(target):
        return '' if target is None else '%s%g' % target

    tsv = os.path.join(a.dir, 'results.tsv')
    with open(tsv, 'w') as f:
        f.write('# make bench, %d pairs; %s\n' % (a.pairs, a.machine))
        f.write('figure\tkind\tmedian\tmin\tmax\tpairs\tbase\tseries\t'
                'target\tverdict\twhat\n')
        for r in rows:
            f.write('\t'.join([r[0], r[1], fmt(r[2], 4), fmt(r[3], 4),
                               fmt(r[4], 4), str(r[5]), fmt(r[6], 0),
                               fmt(r[7], 0), tgt(r[8]),
                               verdict(r[1], r[2], r[8]), r[9]]) + '\n')

    print('bench: ab = base ns / series ns per pair (> 1: the series is '
          'faster); series = ratio of two series figures; text = series / '
          'base bytes')
    print('%-24s %-6s %7s %7s %7s %5s %10s %10s %-12s  %s' %
          ('figure', 'kind', 'median', 'min', 'max', 'pairs', 'base',
           'series', 'target', 'what'))
    for r in rows:
        t = ('%s %s' % (tgt(r[8]), verdict(r[1], r[2], r[8]))).strip()
        print('%-24s %-6s %7s %7s %7s %5d %10s %10s %-12s  %s' %
              (r[0], r[1], fmt(r[2]), fmt(r[3]), fmt(r[4]), r[5],
               fmt(r[6], 0), fmt(r[7], 0), t, r[9]))
    for (side, k), v in sorted(na.items()):
        print('bench: %s kernel: %s not measured: %s' % (side, k, v))
    print('bench: %s' % tsv)
    fails += ['%s: no figure to judge against its target' % r[0]
              for r in rows if r[8] is not None and r[2] is None
              and not (r[1] == 'ab' and (('base', r[0]) in na))]
    if fails:
        for x in fails:
            print('bench: FAILED %s' % x, file=sys.stderr)
        return 1
    return 0


def self_test():
    """make check: the report must fail or miss what it should"""
    import contextlib
    import io
    import tempfile

    good = ['smmuv3_range_inval vmid=1 asid=1 addr=0x7be000 tg=1',
            'smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC',
            'smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_S2_IPA',
            'smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_ALL',
            'smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC',
            'smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA',
            'smmuv3_range_inval vmid=1 asid=1 addr=0x7ef000 tg=1']
    whole = [x.replace('TLBI_S2_IPA', 'TLBI_S12_VMALL') for x in good]
    empty = [good[0], good[1], good[-2], good[-1]]
    figs = ['%s 1000 10 7' % f for f in AB]
    series = ['parent_map_4k_n1 5000 10 7', 'guest_map_4k 900 10 7',
              'guest_map_4k_x16 100 10 7', 'parent_map_4k_n2 5000 10 7']
    kunit = ['msi-iommu-bench: users=%d doorbells=%d bind+unbind=100 ns '
             'lookup=10 ns' % (u, db) for u in (1, 2048) for db in (1, 16)]
    kunit.append('msi-iommu-bench: bound=2048 slab-bytes=131072 '
                 'allocations=2048 bytes-per-user=64')
    cases = [
        # (what, series smmu.log, series extra lines, want rc, want text)
        ('clean run', good, [], 0, 'TLBI_S2_IPA 1'),
        ('a whole-VMID TLBI', whole, [], 0, 'MISSED'),
        ('an unmap that invalidates nothing', empty, [], 1, ''),
        ('nesting n/a on the series', good,
         ['##BENCH guest_map_4k n/a nest parent: x'], 1, ''),
        ('a failed figure', good, ['##FAIL attach_edu detach: x'], 1, ''),
        ('no end', good, None, 1, ''),
    ]
    bad = 0
    for what, log, extra, want_rc, want in cases:
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, 'cmds'))
            with open(os.path.join(d, 'cmds', 'smmu.log'), 'w') as f:
                f.write('\n'.join(log + log) + '\n')
            with open(os.path.join(d, 'cmds', 'results0.log'), 'w') as f:
                f.write('##CMDS parent_map_4k_n1 1\n'
                        '##CMDS parent_map_4k_n2 1\n##BENCH-END ok\n')
            for side in ('base', 'series'):
                os.makedirs(os.path.join(d, '1-' + side))
                lines = ['##BENCH ' + x for x in figs]
                if side == 'series':
                    lines += ['##BENCH ' + x for x in series]
                    if extra is None:
                        extra = []
                    else:
                        lines += extra + ['##BENCH-END ok']
                    with open(os.path.join(d, '1-series', 'console.log'),
                              'w') as f:
                        f.write('\n'.join(kunit) + '\n')
                else:
                    lines.append('##BENCH-END ok')
                with open(os.path.join(d, '1-' + side, 'results0.log'),
                          'w') as f:
                    f.write('\n'.join(lines) + '\n')
            sys.argv = ['bench.py', '--dir', d, '--pairs', '1', '--size',
                        'true', '--base-obj', d, '--series-obj', d]
            out = io.StringIO()
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(io.StringIO()):
                rc = main()
            if rc != want_rc or want not in out.getvalue():
                print('bench.py self-test: %s: rc %d (want %d)%s' %
                      (what, rc, want_rc,
                       ', no "%s"' % want if want not in out.getvalue()
                       else ''))
                bad += 1
    print('bench.py self-test: %d of %d cases as expected' %
          (len(cases) - bad, len(cases)))
    return 1 if bad else 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']:
        sys.exit(self_test())
    sys.exit(main())
