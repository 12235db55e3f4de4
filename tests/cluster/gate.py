# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The cluster gate: build, boot, record, run the scenarios and the fault
campaign on real nodes.

``python -m tests.cluster.gate`` (or ``tools/cluster/gate``) prints each
phase with its time and exits non-zero on any failure. Both guests are
stopped and their files removed on every exit path, and the whole run is
bounded by ``--timeout``.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from drbd_clvm_driver import lvm
from tests.cluster import guests
from tests.scenario import base

RECORDED = os.path.join(guests.ROOT, 'tests', 'unit', 'fixtures',
                        'recorded')
_LV_QUERY = ['lvs', '--reportformat', 'json', '--units', 'b', '-o',
             lvm._LV_FIELDS, 'vgc']
_VG_QUERY = ['vgs', '--reportformat', 'json', '--units', 'b', '-o',
             lvm._VG_FIELDS, 'vgc']
#: (node index, argv): the state commands, then conflicts the driver maps
RECORDING = (
    [(index, argv) for index in (0, 1) for argv in (
        ['cat', '/proc/drbd'],
        ['drbdadm', 'sh-minor', 'r0'],
        ['drbdsetup', 'status', '--json', 'r0'],
        ['drbdsetup', 'status', 'r0', '--verbose', '--statistics',
         '--color=never'],
        ['corosync-quorumtool', '-s'],
        ['dlm_tool', 'status'],
        ['dlm_tool', 'ls'],
        ['lvmlockctl', '--info'],
        ['lvmconfig', 'global/locking_type'],
        _VG_QUERY,
        ['vgs', '--reportformat', 'json', '--units', 'b', '-o',
         '%s,lv_name,lv_tags' % lvm._VG_FIELDS, 'vgc'])]
    + [(0, ['lvcreate', '-y', '-an', '-L', '8m', '-n', 'rec-volume',
            '--addtag', 'cinder-volume:rec', 'vgc']),
       (0, ['lvchange', '-aey', 'vgc/rec-volume']),
       (0, ['lvcreate', '-y', '-s', '-L', '8m', '-n', '_snapshot-rec',
            '--addtag', 'cinder-snapshot:rec', 'vgc/rec-volume']),
       (0, _LV_QUERY),
       (1, _LV_QUERY),
       (1, ['lvchange', '-aey', 'vgc/rec-volume']),
       (1, ['lvextend', '-L', '16m', 'vgc/rec-volume']),
       (1, ['lvremove', '-y', 'vgc/rec-volume']),
       (1, ['lvs', '--reportformat', 'json', '--units', 'b', '-o',
            lvm._LV_FIELDS, 'vgc/no-such-volume']),
       (0, ['lvchange', '-an', 'vgc/rec-volume']),
       (0, ['lvremove', '-y', 'vgc/_snapshot-rec']),
       (0, ['lvremove', '-y', 'vgc/rec-volume'])])


_SHARED_LV = 'vgc/rec-shared'
_SHARED_DEVICE = ['blockdev', '--getsize64', '/dev/vgc/rec-shared']
#: shared activation on both nodes: what attachments, live migration and
#: extends of attached volumes build on
ACTIVE_ACTIVE_RECORDING = [
    (0, ['lvcreate', '-y', '-an', '-L', '8m', '-n', 'rec-shared', 'vgc']),
    (0, ['lvchange', '-asy', _SHARED_LV]),
    (1, ['lvchange', '-asy', _SHARED_LV]),
    (0, ['lvs', '--reportformat', 'json', '--units', 'b', '-o',
         lvm._LV_FIELDS, _SHARED_LV]),
    (1, ['lvextend', '-L', '16m', _SHARED_LV]),
    (1, ['lvextend', '-L', '16m', '--lockopt', 'shupdate', _SHARED_LV]),
    (0, _SHARED_DEVICE),
    (1, _SHARED_DEVICE),
    (0, ['lvchange', '--refresh', _SHARED_LV]),
    (0, _SHARED_DEVICE),
    # Extending from a node that does not hold it, while the other does.
    (1, ['lvchange', '-an', _SHARED_LV]),
    (1, ['lvextend', '-L', '24m', _SHARED_LV]),
    (1, ['lvextend', '-L', '24m', '--lockopt', 'shupdate', _SHARED_LV]),
    (0, _SHARED_DEVICE),
    (0, ['lvchange', '--refresh', _SHARED_LV]),
    (0, _SHARED_DEVICE),
    # Shared to exclusive in place and a snapshot; what the other node may
    # do meanwhile; back to shared once the snapshot is gone.
    (0, ['lvchange', '-aey', _SHARED_LV]),
    (0, ['lvcreate', '-y', '-s', '-L', '24m', '-n', '_snap-shared',
         '--addtag', 'cinder-snapshot:rec', _SHARED_LV]),
    (1, ['lvremove', '-y', 'vgc/_snap-shared']),
    (1, ['lvchange', '-asy', _SHARED_LV]),
    (0, ['lvchange', '-asy', _SHARED_LV]),
    (0, ['lvremove', '-y', 'vgc/_snap-shared']),
    (0, ['lvchange', '-asy', _SHARED_LV]),
    (1, ['lvchange', '-asy', _SHARED_LV]),
    (1, ['lvchange', '-an', _SHARED_LV]),
    (0, ['lvchange', '-an', _SHARED_LV]),
    (0, ['lvremove', '-y', _SHARED_LV])]
_GROWN_LV = 'vgc/rec-grown'
#: what a restarted volume service reads to find the devices it must
#: refresh: node1's device of an LV node2 grew, an origin with its
#: snapshot, one exclusive LV, and every LV and device-mapper table
START_UP_RECORDING = [
    (0, ['lvcreate', '-y', '-an', '-L', '8m', '-n', 'rec-grown', 'vgc']),
    (0, ['lvchange', '-asy', _GROWN_LV]),
    (1, ['lvchange', '-asy', _GROWN_LV]),
    (1, ['lvextend', '-L', '16m', '--lockopt', 'shupdate', _GROWN_LV]),
    (0, ['lvcreate', '-y', '-aey', '-L', '8m', '-n', 'rec-origin', 'vgc']),
    (0, ['lvcreate', '-y', '-s', '-L', '8m', '-n', '_snap-origin',
         'vgc/rec-origin']),
    (0, ['lvcreate', '-y', '-aey', '-L', '12m', '-n', 'rec-plain', 'vgc']),
    (0, _LV_QUERY),
    (0, ['dmsetup', 'table']),
    (1, ['lvchange', '-an', _GROWN_LV]),
    (0, ['lvchange', '-an', _GROWN_LV, 'vgc/rec-origin', 'vgc/rec-plain']),
    (0, ['lvremove', '-y', 'vgc/_snap-origin', 'vgc/rec-origin',
         'vgc/rec-plain', _GROWN_LV])]
_PVCK = ['pvck', '--dump', 'headers', '/dev/drbd0']
#: what tells a stats refresh that no node committed since its last read:
#: the VG's PVs, and their headers on each node before and after the other
#: node's commits
COMMIT_RECORDING = [
    (0, ['pvs', '--reportformat', 'json', '--units', 'b', '-o',
         'pv_name,vg_name']),
    (0, _PVCK),
    (1, _PVCK),
    (1, ['lvcreate', '-y', '-an', '-L', '8m', '-n', 'rec-commit', 'vgc']),
    (0, _PVCK),
    (1, _PVCK),
    (1, ['lvremove', '-y', 'vgc/rec-commit']),
    (0, _PVCK)]
#: fixture directory name -> what the gate runs and records there
RECORDINGS = {'gate': RECORDING, 'gate-active-active': ACTIVE_ACTIVE_RECORDING,
              'gate-start-up': START_UP_RECORDING,
              'gate-commit': COMMIT_RECORDING}
#: fixture directory of what the fault campaign's survivors print
FAULT_RECORDING = 'gate-faults'


def log(message):
    """One line of the gate's output, at once (CI reads it as it comes)."""
    print(message, flush=True)


def phase(name, function, *args):
    print('[gate] %s ...' % name, flush=True)
    started = time.monotonic()
    try:
        result = function(*args)
    except BaseException:
        print('[gate] %s FAILED after %.1f s' % (
            name, time.monotonic() - started), flush=True)
        raise
    print('[gate] %s ok (%.1f s)' % (name, time.monotonic() - started),
          flush=True)
    return result


def build_image():
    """The one guest image every mode boots (built once, then cached)."""
    output = subprocess.run(
        [os.path.join(guests.ROOT, 'tools', 'cluster', 'build-image')],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    return output.strip().splitlines()[-1]


def clear_recorded_leftovers(node):
    """Unmap what the recorded snapshot removal by the other node left in
    ``node``'s device-mapper (LVM no longer knows it, so only dmsetup can):
    snapshot and origin devices first, then what they sat on.
    """
    def mapped():
        return [name for name in node.run('dmsetup', 'ls').stdout.split()
                if name.startswith(('vgc-_snap--shared', 'vgc-rec--shared'))]

    devices = mapped()
    for name in sorted(devices, key=lambda name: name.endswith(
            ('-cow', '-real'))):
        node.run('dmsetup', 'remove', name)
    if mapped():
        raise guests.GuestError('still mapped on %s: %s' % (
            node.name, ', '.join(mapped())))
    return devices


def run_scenarios(cluster, concurrent_creates, only=None):
    """The scenario tests, one at a time (one of them cuts DRBD); ``only``
    a regular expression of the tests to run, as stestr takes it.
    """
    with tempfile.NamedTemporaryFile('w', suffix='.json',
                                     delete=False) as handle:
        json.dump(cluster.state(), handle)
    env = dict(os.environ, **{
        base.STATE_VARIABLE: handle.name,
        'DRBD_CLVM_CONCURRENT_CREATES': str(concurrent_creates)})
    cluster.release()
    try:
        subprocess.run([sys.executable, '-m', 'stestr', '--test-path',
                        'tests/scenario', 'run', '--serial'] +
                       ([only] if only else []),
                       cwd=guests.ROOT, env=env, check=True)
    finally:
        os.unlink(handle.name)


def run_faults(cluster, names, record_dir):
    """The fault campaign; its table printed and kept under results/."""
    from tests.cluster import faults
    results = faults.run(cluster, names, log=log, record_dir=record_dir)
    print(faults.format_table(results), flush=True)
    faults.write_results(results, os.path.join(
        guests.ROOT, 'results', 'faults-latest.json'))
    missed = ['%s (missed: %s%s)' % (
        result['case'], ', '.join(result['missed']),
        '; clean-up: %.300s' % result['clean_up_failure']
        if result.get('clean_up_failure') else '')
        for result in results if not result['met']]
    if missed:
        raise guests.GuestError('fault cases missed their targets: %s'
                                % ', '.join(missed))


def run_cluster(args):
    """Record, run the scenarios and the fault campaign on one boot of
    both guests.
    """
    image = phase('build or reuse the guest image', build_image)
    with contextlib.ExitStack() as stack:
        cluster = phase('boot both guests and the cluster stack',
                        stack.enter_context,
                        guests.booted(
                            image, log=log, logs_dir=args.logs,
                            drbd_disk_size=guests.TWO_NODE_GATE_DISK_SIZE))
        # Recording only writes fixtures (nothing checks them here): a
        # gate records what --record names, and only that.
        for name, recording in sorted(RECORDINGS.items()):
            if args.no_scenarios or not _recorded(args, name, RECORDINGS):
                continue
            directory = os.path.join(RECORDED, name)
            phase('record real outputs into %s' % directory, cluster.record,
                  directory, recording)
        if not args.no_scenarios:
            phase('clear what the recordings left mapped on %s'
                  % cluster.nodes[0].name, clear_recorded_leftovers,
                  cluster.nodes[0])
            phase('scenario tests on the real nodes', run_scenarios,
                  cluster, args.concurrent_creates, args.scenarios)
        if not args.no_faults:
            phase('fault campaign on the real nodes', run_faults,
                  cluster, args.faults, os.path.join(
                      RECORDED, FAULT_RECORDING) if _recorded(
                          args, FAULT_RECORDING, [FAULT_RECORDING])
                  else None)


def _recorded(args, name, default):
    """Whether ``--record`` asks for ``name`` (a bare ``--record`` asks
    for every one of ``default``).
    """
    return args.record is not None and name in (args.record or default)


def _on_alarm(signum, frame):
    raise guests.GateTimeout('the gate ran out of its time bound')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--record', nargs='*',
                        choices=sorted(RECORDINGS) + [
                            FAULT_RECORDING, 'gate-shared-lun',
                            'gate-shared-lun-sanlock',
                            'gate-shared-lun-node-dead',
                            'gate-shared-lun-sanlock-node-dead'],
                        help='write the recorded outputs (all, or those '
                             'named) into fixture directories under %s'
                        % RECORDED)
    parser.add_argument('--timeout', type=int, default=4200,
                        help='seconds the whole gate may take')
    parser.add_argument('--concurrent-creates', type=int, default=50,
                        help='volumes each node creates at once')
    parser.add_argument('--bench', action='store_true',
                        help='instead: time driver operations inside the '
                             'guests through the deployed root path '
                             '(privsep) against bare LVM and dd, and '
                             'against Cinder\'s LVM driver '
                             '(tests/cluster/bench_gate.py)')
    parser.add_argument('--bench-scale', action='store_true',
                        help='instead: only the bench\'s start-up, stats '
                             'refresh and manageable listing with hundreds '
                             'of volumes in use, into the committed bench '
                             'result beside its other rows')
    parser.add_argument('--bench-hand-over', action='store_true',
                        help='instead: only the bench\'s instance writes '
                             'while its volume moves between the nodes (a '
                             'live migration\'s hand-over), into the '
                             'committed bench result beside its other rows')
    parser.add_argument('--faults', nargs='+', metavar='CASE',
                        help='run only these cases of the fault campaign '
                             '(tests/cluster/faults.py)')
    parser.add_argument('--no-faults', action='store_true',
                        help='skip the fault campaign')
    parser.add_argument('--no-scenarios', action='store_true',
                        help='skip the recordings and scenario tests (to '
                             'work on the fault campaign alone)')
    parser.add_argument('--cinder', action='store_true',
                        help='instead: Cinder\'s own services (API, '
                             'scheduler, a volume service in each node) '
                             'driven through the REST API, with a compute '
                             'host (tests/cluster/cinder_gate.py); with '
                             '--shared-lun LOCK on the three nodes of that '
                             'lab')
    parser.add_argument('--full-races', action='store_true',
                        help='with --cinder: twenty clones of one volume '
                             'at once and a stream of 100 requests, not '
                             'CI\'s four and 48 (tools/cluster/nightly)')
    parser.add_argument('--shared-lun', nargs='*',
                        choices=('lvmlockd', 'sanlock'),
                        help='instead: three guests on one shared disk '
                             '(no DRBD), drbd_clvm_replication = '
                             'shared_lun, with each lock manager named (all '
                             'when none is) '
                             '(tests/cluster/shared_lun_gate.py)')
    parser.add_argument('--scenarios', metavar='REGEX',
                        help='run only the scenario tests this matches')
    parser.add_argument('--with-scenarios', action='store_true',
                        help='with --shared-lun: also the scenario tests on '
                             'each lab (its first and last node; about 10 '
                             'minutes a lab, not in .ci/run)')
    parser.add_argument('--logs', default=os.path.join(guests.ROOT,
                                                       'results', 'gate'),
                        help='where the guests\' console logs are kept')
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_alarm)
    signal.alarm(args.timeout)
    started = time.monotonic()
    try:
        if args.cinder:
            from tests.cluster import cinder_gate
            from tests.cluster import shared_lun_gate
            labs = [None] if args.shared_lun is None else (
                args.shared_lun or shared_lun_gate.LOCK_MANAGERS)
            for lab in labs:
                cinder_gate.run(args.logs, log=log, shared_lun=lab,
                                full_races=args.full_races)
        elif args.bench:
            from tests.cluster import bench_gate
            bench_gate.run(args.logs, log=log)
        elif args.bench_scale or args.bench_hand_over:
            from tests.cluster import bench_gate
            bench_gate.run_part('scale' if args.bench_scale else 'hand_over',
                                args.logs, log=log)
        elif args.shared_lun is not None:
            from tests.cluster import shared_lun_gate
            shared_lun_gate.run(args)
        else:
            run_cluster(args)
    except (guests.GateTimeout, guests.GuestError,
            subprocess.CalledProcessError) as error:
        print('[gate] FAILED: %s (%.0f s)' % (error,
                                              time.monotonic() - started))
        return 1
    except Exception as error:
        # Not a gate's own failure (the driver's error, a bug): its
        # traceback, then the failure line CI's phase table repeats.
        traceback.print_exc()
        print('[gate] FAILED: %s: %s (%.0f s)' % (
            type(error).__name__, error, time.monotonic() - started))
        return 1
    finally:
        signal.alarm(0)
    print('[gate] passed in %.0f s' % (time.monotonic() - started))
    return 0


if __name__ == '__main__':
    sys.exit(main())
