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

"""What one stats refresh costs as the VG fills: 10, 100 and 1000 volumes.

For each size the simulated VG is filled, and the ``get_volume_stats(
refresh=True)`` that follows (the fill committed: it reads the VG) is
recorded (commands and the bytes they printed); then the parse functions
are timed on exactly those outputs, in-process, so the simulator's own
speed never enters the figure. Counted as the deployed path would see
them: calls to the privileged daemon (trips), and the programs it starts
(processes: readings it answers itself are not). The refresh after it,
with nothing committed between, is counted too: it reads the PVs' headers
only.
"""

import statistics
import tempfile
import time
import uuid

from bench import commands
from bench import invocations
from drbd_clvm_driver import cluster as cluster_module
from drbd_clvm_driver import drbd
from drbd_clvm_driver import driver as our_driver
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations
from drbd_clvm_driver import peer
from tests.sim import cluster as sim

SIZES = (10, 100, 1000)
#: one extent each: the count matters here, not the size
VOLUME_MIB = 4
REPEATS = 51
#: a per-volume parse time may grow this much from one size to the next
#: and still count as linear: timing noise, not a trend
LINEAR_TOLERANCE = 1.25


class RecordingRunner(commands.CallCounter):
    """Counts calls as :class:`~bench.commands.CallCounter` does and keeps
    what each command printed.
    """

    def __init__(self, inner):
        super().__init__(inner)
        self.results = []

    def _execute(self, argv, timeout):
        result = self.inner.run(argv, timeout=timeout, check=False)
        self.results.append(result)
        return result.exit_code, result.stdout, result.stderr


def _parsers(drbd_resource, minor):
    """The driver's parse function for each program (or whole reading)
    whose output it reads with one; the lock manager's pid checks and
    lockspace status are matched inline by its plugin and are not timed.
    """
    def proc_drbd(text):
        if drbd.proc_drbd_version(text)[0] < 9:
            return drbd.parse_proc_drbd(text, minor, drbd_resource)

    return {
        'vgs': lvm.parse_vg_with_tags_json,
        'pvck': lambda text: lvm.parse_pvck_commit(text, invocations.VG_NAME),
        'lvs': lvm.parse_lvs_json,
        'corosync-quorumtool': cluster_module.parse_quorumtool,
        'cat /proc/drbd': proc_drbd,
        'drbdsetup': lambda text: drbd.parse_status_json(text,
                                                         drbd_resource)}


def _median_seconds(parse, text):
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        parse(text)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure_size(volume_count, lock_path):
    """One refresh with ``volume_count`` volumes in the VG."""
    cluster = sim.SimulatedCluster(
        vg_name=invocations.VG_NAME,
        vg_size_mib=2 * volume_count * VOLUME_MIB + 1024)
    node = cluster.nodes[0]
    recording = RecordingRunner(node.runner)
    conf = invocations.configuration_for(
        'bench-stats', volume_group=invocations.VG_NAME,
        drbd_clvm_drbd_resource=cluster.drbd_resource,
        drbd_clvm_lock_manager='lvmlockd',
        target_helper='fake', volume_clear='none',
        volume_backend_name='drbd', drbd_clvm_lock_path=lock_path)
    volume_driver = our_driver.DrbdClvmVolumeDriver(
        configuration=conf, runner=recording, host='node1@drbd',
        peers=peer.InProcessPeers({}))
    volume_driver.do_setup(None)
    # A first refresh learns what is cached for the service's lifetime.
    volume_driver.get_volume_stats(refresh=True)
    # Straight to LVM: the fill is set-up, not what is measured.
    for _ in range(volume_count):
        volume_id = str(uuid.uuid4())
        volume_driver.ops.vg.create(
            'volume-' + volume_id, VOLUME_MIB,
            tags=[operations.VOLUME_TAG + volume_id])
    minor = int(node.runner.run(['drbdadm', 'sh-minor',
                                 cluster.drbd_resource]).stdout)
    start, calls = len(recording.results), recording.calls
    stats = volume_driver.get_volume_stats(refresh=True)
    results = recording.results[start:]
    trips = recording.calls - calls
    volume_driver.get_volume_stats(refresh=True)
    unchanged = recording.results[start + len(results):]
    parsers = _parsers(cluster.drbd_resource, minor)
    parse_seconds = 0.0
    untimed = []
    for result in results:
        parse = parsers.get(result.argv[0]) or parsers.get(
            ' '.join(result.argv))
        if parse is None:
            untimed.append(' '.join(result.argv))
            continue
        parse_seconds += _median_seconds(parse,
                                         result.stdout + result.stderr)
    return {
        'volumes': volume_count,
        'reported_volumes': stats['pools'][0]['total_volumes'],
        'commands': commands.summary(
            [result.argv for result in results])['processes'],
        'trips': trips,
        'programs': [result.argv[0] for result in results],
        'commands_unchanged': commands.summary(
            [result.argv for result in unchanged])['processes'],
        'programs_unchanged': [result.argv[0] for result in unchanged],
        'output_bytes': sum(len(result.stdout) + len(result.stderr)
                            for result in results),
        'parse_seconds': parse_seconds,
        'not_timed': untimed}


def measure(sizes=SIZES):
    with tempfile.TemporaryDirectory(prefix='bench-locks-') as lock_path:
        rows = [measure_size(count, lock_path) for count in sizes]
    for previous, row in zip([None] + rows, rows):
        row['parse_us_per_volume'] = (row['parse_seconds'] * 1e6 /
                                      row['volumes'])
        row['per_volume_ratio'] = (
            row['parse_us_per_volume'] / previous['parse_us_per_volume']
            if previous else None)
    return {'rows': rows, 'goals': goals(rows)}


def goals(rows):
    """The issue's two goals, each with whether it is met and why."""
    counts = {(row['commands'], row['commands_unchanged']) for row in rows}
    ratios = [row['per_volume_ratio'] for row in rows
              if row['per_volume_ratio'] is not None]
    return {
        'processes_fixed_at_every_size': {
            'met': len(counts) == 1,
            'detail': 'processes per refresh after a commit: %s; with none '
                      'since: %s (privileged calls: %s)' % (
                          ', '.join('%d at %d volumes' % (
                              row['commands'], row['volumes'])
                              for row in rows),
                          ', '.join(str(row['commands_unchanged'])
                                    for row in rows),
                          ', '.join(str(row['trips']) for row in rows))},
        'parse_time_at_most_linear': {
            'met': all(ratio <= LINEAR_TOLERANCE for ratio in ratios),
            'detail': 'parse time per volume, each size against the one '
                      'before: %s (linear: <= %.2f)' % (
                          ', '.join('%.2f' % ratio for ratio in ratios),
                          LINEAR_TOLERANCE)}}


def format_table(result):
    header = '%8s %9s %6s %13s %11s %13s %9s' % (
        'volumes', 'processes', 'trips', 'output bytes', 'parse us',
        'us per volume', 'ratio')
    lines = ['Stats refresh at scale (ours, simulator; parse time is the '
             'median of %d runs per output)' % REPEATS, header,
             '-' * len(header)]
    for row in result['rows']:
        ratio = ('%.2f' % row['per_volume_ratio']
                 if row['per_volume_ratio'] is not None else '-')
        lines.append('%8d %9d %6d %13d %11.1f %13.3f %9s' % (
            row['volumes'], row['commands'], row['trips'],
            row['output_bytes'],
            row['parse_seconds'] * 1e6, row['parse_us_per_volume'], ratio))
    rows = result['rows']
    untimed = ' '.join(sorted(set(rows[-1]['not_timed']))) or '-'
    lines.append('commands and readings: %s (with no commit since the '
                 'last: %s); not timed (matched inline, fixed size): %s' % (
                     ' '.join(rows[-1]['programs']),
                     ' '.join(rows[-1]['programs_unchanged']), untimed))
    for name, goal in result['goals'].items():
        lines.append('%s %s: %s' % ('met   ' if goal['met'] else 'MISSED',
                                    name.replace('_', ' '), goal['detail']))
    return '\n'.join(lines)
