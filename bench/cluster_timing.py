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

"""Wall time on a cluster node: driver operations over bare commands.

Each driver operation (through the same layers the driver builds) is timed
against the bare LVM command that does the same work on the same VG,
interleaved driver, bare, driver, bare, so both see the same cluster load;
the result is the ratio of medians with the spread of each side. The data
path too: the driver's wipe and copy against a raw ``dd`` on the same
devices.

It runs over any command runners: the gate runs it inside a real guest
through the deployed root path (:mod:`bench.deployed`); the tests run it on
the simulator.
"""

import statistics
import time

from drbd_clvm_driver import data
from drbd_clvm_driver import lvm

SIZE_MIB = 4
DATA_MIB = 64
#: the issue's targets: driver over bare LVM, and data path over raw dd
LVM_TARGET = 1.10
DATA_TARGET = 0.9


def _timed(function, *args, **kwargs):
    started = time.monotonic()
    function(*args, **kwargs)
    return time.monotonic() - started


def _summary(name, driver_times, bare_times, target, higher_is_better):
    driver, bare = (statistics.median(driver_times),
                    statistics.median(bare_times))
    ratio = bare / driver if higher_is_better else driver / bare
    met = ratio >= target if higher_is_better else ratio <= target
    return {'operation': name, 'driver_median_s': round(driver, 4),
            'driver_spread_s': [round(min(driver_times), 4),
                                round(max(driver_times), 4)],
            'bare_median_s': round(bare, 4),
            'bare_spread_s': [round(min(bare_times), 4),
                              round(max(bare_times), 4)],
            'ratio': round(ratio, 3), 'target': target, 'met': met,
            'repeats': len(driver_times)}


def lvm_rows(ops, bare, prefix, repeats):
    """Create, extend and delete through the driver's operations ``ops``
    against the bare LVM commands run by ``bare`` (a command runner),
    interleaved, each side first in every other repeat: a guest's one
    virtual CPU runs whatever background work the previous command left
    (udev, lvmlockd, DRBD) during whichever command comes next.
    """
    vg_name = ops.vg.vg_name
    times = {name: ([], []) for name in ('create', 'extend', 'delete')}
    for index in range(repeats):
        ours, plain = '%sd%d' % (prefix, index), '%sb%d' % (prefix, index)
        steps = {
            'create': (
                lambda: ops.create_volume(ours, SIZE_MIB, ours),
                lambda: bare.run(['lvcreate', '-y', '-an', '-L',
                                  '%dm' % SIZE_MIB, '-n', plain, vg_name])),
            'extend': (
                lambda: ops.extend_volume(ours, SIZE_MIB, 2 * SIZE_MIB),
                lambda: bare.run(['lvextend', '-L', '%dm' % (2 * SIZE_MIB),
                                  '%s/%s' % (vg_name, plain)])),
            'delete': (
                lambda: ops.delete_volume(ours),
                lambda: bare.run(['lvremove', '-y',
                                  '%s/%s' % (vg_name, plain)])),
        }
        sides = (0, 1) if index % 2 == 0 else (1, 0)
        for name, operations in steps.items():
            for side in sides:
                times[name][side].append(_timed(operations[side]))
    return [_summary(name, driver_times, bare_times, LVM_TARGET, False)
            for name, (driver_times, bare_times) in times.items()]


def overhead(ops, bare, repeats):
    """Where the driver's time goes besides its commands, in milliseconds
    (medians): one round trip to the runner (a reading the privileged
    daemon answers from a file), the safety gate's check on its own (every
    reading in one trip; before a change the daemon takes it in the
    change's own call), and what the same LVM report costs through the
    runner more than through ``bare`` (interleaved).
    """
    readings = ops.gate.replication.readings(with_generation=False)
    round_trip = [_timed(ops.runner.read, readings)
                  for _ in range(repeats)]
    check = [_timed(ops.gate.reasons) for _ in range(repeats)]
    report = ['vgs', '--reportformat', 'json', '--units', 'b', '-o',
              'vg_name', ops.vg.vg_name]
    through, direct = [], []
    for _ in range(repeats):
        through.append(_timed(ops.runner.run, report))
        direct.append(_timed(bare.run, report))
    return {'round_trip_ms': _ms(round_trip), 'gate_check_ms': _ms(check),
            'command_extra_ms': round(_ms(through) - _ms(direct), 1),
            'repeats': repeats}


def _ms(seconds):
    return round(1000 * statistics.median(seconds), 1)


def data_rows(ops, bare, prefix, repeats):
    """The driver's wipe and copy (``data.wipe``/``data.copy``: zeroed by
    the device where it can, else direct I/O and a final flush, through the
    operations' runner) against the plainest ``dd`` between the same
    devices, run by ``bare``; throughput ratio, higher is better.
    """
    runner = ops.vg.runner
    source, target = prefix + 'src', prefix + 'dst'
    for name in (source, target):
        ops.vg.create(name, DATA_MIB, activation=lvm.Activation.EXCLUSIVE)
    source_path, target_path = ops.vg.lv_path(source), ops.vg.lv_path(target)
    raw = ['dd', 'bs=1M', 'count=%d' % DATA_MIB, 'oflag=direct']
    wipe, copy = ([], []), ([], [])
    try:
        for _ in range(repeats):
            wipe[0].append(_timed(data.wipe, runner, target_path, DATA_MIB,
                                  600))
            wipe[1].append(_timed(bare.run, raw + [
                'if=/dev/zero', 'of=%s' % target_path], timeout=600))
            copy[0].append(_timed(data.copy, runner, source_path,
                                  target_path, DATA_MIB, 600))
            copy[1].append(_timed(bare.run, raw + [
                'if=%s' % source_path, 'of=%s' % target_path], timeout=600))
    finally:
        for name in (source, target):
            ops.vg.remove(name)
    return [_summary('volume_clear (%d MiB)' % DATA_MIB, *wipe,
                     DATA_TARGET, True),
            _summary('copy (%d MiB)' % DATA_MIB, *copy, DATA_TARGET, True)]


def format_table(result):
    lines = ['Real cluster: driver wall time / bare command (median of %d, '
             'interleaved)' % result['lvm'][0]['repeats'],
             '%-22s %10s %17s %10s %17s %7s %s' % (
                 'operation', 'driver s', 'spread', 'bare s', 'spread',
                 'ratio', 'target')]
    for row in result['lvm'] + result['data']:
        comparison = '>=' if row in result['data'] else '<='
        lines.append('%-22s %10.3f %8.3f..%-7.3f %10.3f %8.3f..%-7.3f '
                     '%7.2f %s %s %.2f' % (
                         row['operation'], row['driver_median_s'],
                         row['driver_spread_s'][0], row['driver_spread_s'][1],
                         row['bare_median_s'], row['bare_spread_s'][0],
                         row['bare_spread_s'][1], row['ratio'],
                         'met' if row['met'] else 'MISSED', comparison,
                         row['target']))
    if 'overhead' in result:
        overhead = result['overhead']
        lines.append('besides its commands: a round trip %.1f ms, the '
                     'safety gate\'s check alone %.1f ms, an LVM report '
                     '%.1f ms more than run directly (medians of %d)'
                     % (overhead['round_trip_ms'], overhead['gate_check_ms'],
                        overhead['command_extra_ms'], overhead['repeats']))
    throughput = result['throughput']
    lines.append('creates per second: %.2f from one node, %.2f from both '
                 'nodes at once (%d per node)' % (
                     throughput['one_node_per_s'],
                     throughput['both_nodes_per_s'],
                     throughput['creates_per_node']))
    lines.append('data rows: the driver\'s throughput over raw dd\'s '
                 '(higher is better)')
    return '\n'.join(lines)
