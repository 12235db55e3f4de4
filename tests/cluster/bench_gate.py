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

"""``tools/cluster/gate --bench``: speed through the deployed root path.

Both guests get the image with Cinder and the driver installed from its
wheel and configured as ``tools/cluster/cinder-node setup`` does for the
volume service; the benchmark (:mod:`bench.deployed`) then runs inside the
guests with that Python and that configuration, so the driver's commands
reach root through its privsep daemon as under ``cinder-volume``. The
results are printed against the targets and kept in
``bench/results/cluster-latest.json``.
"""

import base64
import concurrent.futures
import contextlib
import io
import json
import os
import re
import tarfile
import tempfile
import time

from bench import cluster_timing
from bench import data_path
from bench import drbd_settings
from bench import hand_over
from tests.cluster import cinder_gate
from tests.cluster import gate
from tests.cluster import guests

RESULTS = os.path.join(guests.ROOT, 'bench', 'results', 'cluster-latest.json')
#: fio's reports as the guest printed them (tests/unit/test_data_path.py)
FIO_RECORDED = os.path.join(guests.ROOT, 'tests', 'unit', 'fixtures',
                            'recorded', 'fio')
#: /proc/drbd and drbdsetup show as the DRBD settings' measure read them
DRBD_SETTINGS_RECORDED = os.path.join(guests.ROOT, 'tests', 'unit',
                                      'fixtures', 'recorded', 'drbd-settings')
#: the volume the DRBD settings' writes go to
DRBD_SETTINGS_LV = 'bench-drbd-settings'
#: Cinder's coordination for the set-up; no volume service runs here
UNUSED_COORDINATION = 'file:///var/lib/cinder'
#: where the benchmark's sources go in the guests
SOURCES = '/opt/drbd-clvm/src'
SERVICE_PATH = '/opt/cinder/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:' \
    '/usr/bin:/sbin:/bin'
#: the file whose appearance starts the nodes' waiting benchmark steps
GO = '/run/drbd-clvm/bench-go'
#: creates each node makes for the throughput rows
CREATES = 10
#: times each LVM operation is timed: the emulated guests' noise (one
#: operation's time varies by half) needs more than the issue's 5
REPEATS = 31
#: creates per second from both nodes over one: two nodes at least as
#: fast as one (a metadata change holds the VG's lock across the cluster,
#: so the second node adds room outside the lock only)
BOTH_NODES_TARGET = 1.0
BENCH_TIMEOUT = 1800
#: rounds of the fio jobs (each on every device in turn)
DATA_PATH_ROUNDS = 5
#: seconds for a privsep daemon to start through sudo and rootwrap
DAEMON_TIMEOUT = 300


def _sources_archive():
    """bench/ and the simulator it imports, as base64 of a gzip tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
        for name in ('bench', 'tests/__init__.py', 'tests/sim'):
            archive.add(os.path.join(guests.ROOT, name), arcname=name,
                        filter=lambda info: None if '__pycache__' in
                        info.name or info.name.endswith('.json') else info)
    return base64.b64encode(buffer.getvalue()).decode()


def set_up(cluster):
    """The driver and Cinder's configuration on both nodes, as for the
    volume service (its message bus, database and coordination are not
    used here).
    """
    archive = _sources_archive()

    def prepare(node):
        node.runner.run(['drbd-clvm-cinder-node', 'setup', 'rabbit://unused',
                         'sqlite://', UNUSED_COORDINATION], timeout=600)
        node.runner.run(['python3', '-c',
                         'import base64, io, sys, tarfile; '
                         'tarfile.open(fileobj=io.BytesIO(base64.b64decode('
                         'sys.argv[1]))).extractall(sys.argv[2])',
                         archive, SOURCES], timeout=120)

    with concurrent.futures.ThreadPoolExecutor(len(cluster.nodes)) as pool:
        for done in [pool.submit(prepare, node) for node in cluster.nodes]:
            done.result()


def _deployed(node, *args):
    # Cinder's own programs (cinder-rtstool) on the path, as the volume
    # service has them
    result = node.runner.run(
        ['env', 'PYTHONPATH=%s' % SOURCES, 'PATH=%s' % SERVICE_PATH,
         '/opt/cinder/bin/python', '-m', 'bench.deployed', '--node',
         node.name] + list(args),
        timeout=BENCH_TIMEOUT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _await_ready(nodes):
    """Until each of ``nodes``' benchmark has its driver warm and waits
    for :data:`GO` (the benchmark holds each node's command agent; the
    files go through its second agent).
    """
    def ready(node):
        return node.io.run(['test', '-e', '%s.%s.ready' % (GO, node.name)],
                           check=False).exit_code == 0

    guests.wait_until(lambda: all(map(ready, nodes)), DAEMON_TIMEOUT,
                      'the benchmark\'s privsep daemons started')


def _clear_go(cluster):
    for node in cluster.nodes:
        node.io.run(['sh', '-c', 'rm -f %s %s.*' % (GO, GO)])


def throughput(cluster):
    """Creates per second from node1 alone, then from both nodes at once
    (each starts its daemon first; the go file starts them together).
    """
    def creates(nodes, *options):
        _clear_go(cluster)
        with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
            runs = [pool.submit(_deployed, node, 'creates', str(CREATES),
                                '--go', GO, *options) for node in nodes]
            _await_ready(nodes)
            with concurrent.futures.ThreadPoolExecutor(len(nodes)) as touch:
                list(touch.map(lambda node: node.io.run(['touch', GO]),
                               nodes))
            return [run.result() for run in runs]

    def rates(*options):
        one = creates(cluster.nodes[:1], *options)[0]
        both = creates(cluster.nodes, *options)
        return (CREATES / one['seconds'],
                CREATES * len(both) / max(run['seconds'] for run in both))

    one_per_s, both_per_s = rates()
    bare_one, bare_both = rates('--bare')
    ratio = both_per_s / one_per_s
    return {'one_node_per_s': round(one_per_s, 2),
            'both_nodes_per_s': round(both_per_s, 2),
            'creates_per_node': CREATES, 'ratio': round(ratio, 2),
            'target': BOTH_NODES_TARGET, 'met': ratio >= BOTH_NODES_TARGET,
            # what LVM itself allows: bare lvcreate from one node, both
            'bare_one_node_per_s': round(bare_one, 2),
            'bare_both_nodes_per_s': round(bare_both, 2),
            'bare_ratio': round(bare_both / bare_one, 2)}


def _step_while_writing(cluster, stepper, step, writer, path, volume):
    """``step`` of the hand-over on ``stepper`` while the instance's
    stand-in writes to ``path`` on ``writer``: (the step's seconds, the
    longest write in ms).
    """
    _clear_go(cluster)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stepping = pool.submit(_deployed, stepper, 'hand-over', step,
                               volume, '--go', GO)
        _await_ready([stepper])
        writing = pool.submit(writer.io.run, hand_over.writer_argv(path),
                              timeout=hand_over.FIO_TIMEOUT)
        time.sleep(hand_over.STEP_AFTER)
        stepper.io.run(['touch', GO])
        seconds = stepping.result()['seconds']
        return seconds, hand_over.longest_write_ms(writing.result().stdout)


def hand_over_pause(cluster):
    """The longest write of an instance on node1 while node2 joins its
    volume, then on node2 while node1 leaves it, and on node2 alone
    (:mod:`bench.hand_over`).
    """
    node1, node2 = cluster.nodes[:2]
    volume = 'bench%d-move' % int(time.time())
    path = '/dev/vgc/%s' % volume
    _deployed(node1, 'hand-over', 'make', volume)
    longest, seconds = {}, {}
    try:
        for name, stepper, step, writer in (
                ('node2_joins', node2, 'use', node1),
                ('node1_leaves', node1, 'release', node2)):
            seconds[name], longest[name] = _step_while_writing(
                cluster, stepper, step, writer, path, volume)
        longest['baseline'] = hand_over.longest_write_ms(node2.io.run(
            hand_over.writer_argv(path),
            timeout=hand_over.FIO_TIMEOUT).stdout)
    finally:
        _deployed(node2, 'hand-over', 'delete', volume)
    return hand_over.row(longest, seconds)


def record_fio_reports(reports):
    """What the data path's measure read in the guest, kept as its
    parsers' fixtures, with an INDEX.md.
    """
    os.makedirs(FIO_RECORDED, exist_ok=True)
    index = ['# fio and LVM reports from `tools/cluster/gate --bench`',
             '',
             'Printed in node1 by the data path\'s measure '
             '(bench/data_path.py): each fio job\'s first report on the '
             'volume (`%s` with the job\'s options), and LVM\'s reports of '
             'where its extents lie.' % ' '.join(data_path.fio_argv(
                 '/dev/vgc/VOLUME', 0, data_path.VOLUME_MIB * 2 ** 20, ())),
             '', '| file | what |', '|---|---|']
    for what, output in sorted(reports.items()):
        name = '%s.json' % what.replace(' ', '-')
        with open(os.path.join(FIO_RECORDED, name), 'w') as handle:
            handle.write(output)
        index.append('| %s | %s |' % (name, what))
    with open(os.path.join(FIO_RECORDED, 'INDEX.md'), 'w') as handle:
        handle.write('\n'.join(index) + '\n')


class DrbdSettings:
    """:mod:`bench.drbd_settings` on the pair: node1 writes, node2 is the
    resync's target. Run last: it leaves node2 resyncing the whole device
    when the guests stop.
    """

    def __init__(self, cluster):
        self.node1, self.node2 = cluster.nodes
        self.path = '/dev/%s/%s' % (guests.VG_NAME, DRBD_SETTINGS_LV)
        self.size = drbd_settings.AL_SPREAD_MIB * 2 ** 20
        #: what was read, by moment, to keep as recordings
        self.recorded = {}

    def _run(self, node, argv, timeout=120):
        return node.runner.run(argv, timeout=timeout).stdout

    def _read(self, moment, node, argv):
        output = self._run(node, argv)
        self.recorded.setdefault(moment, (argv, output))
        return output

    def _proc(self, moment):
        return self._read(moment, self.node1, ['cat', '/proc/drbd'])

    def _settings(self, moment):
        return drbd_settings.shown_settings(self._read(
            moment, self.node1, ['drbdsetup', 'show', guests.DRBD_RESOURCE]))

    def _set(self, moment, *options):
        """DRBD's disk options ``options`` on node1, or with none the
        resource file's again (``drbdadm adjust``: ``disk-options`` alone
        leaves what the command line set); what ``drbdsetup show`` then
        gives.
        """
        resource = guests.DRBD_RESOURCE
        if options:
            argv = ['drbdadm', 'disk-options'] + list(options) + [resource]
        else:
            argv = ['drbdadm', 'adjust', resource]
        self._run(self.node1, argv)
        return self._settings(moment)

    def _writes(self, seconds):
        """fio's writes for ``seconds``: (us per write, writes made)."""
        return drbd_settings.writes_done(self._run(
            self.node1, drbd_settings.writes_argv(self.path, self.size,
                                                  seconds),
            timeout=seconds + 60))

    def activity_log(self):
        counts = (drbd_settings.SMALL_AL_EXTENTS,
                  drbd_settings.PLUGIN_AL_EXTENTS)
        write_us = {str(count): [] for count in counts}
        log_writes = {str(count): [] for count in counts}
        settings = {}
        for _ in range(drbd_settings.ROUNDS):
            for count in counts:
                settings[str(count)] = self._set(
                    'settings, al-extents %d' % count,
                    '--al-extents=%d' % count)
                self._writes(drbd_settings.AL_WARM_SECONDS)
                before = drbd_settings.activity_log_writes(
                    self._proc('activity log, before'))
                figure, ios = self._writes(drbd_settings.WINDOW_SECONDS)
                after = drbd_settings.activity_log_writes(
                    self._proc('activity log, after'))
                write_us[str(count)].append(figure)
                log_writes[str(count)].append((after - before) * 1000 / ios)
        self._set('settings, the resource file\'s')
        return drbd_settings.al_row(write_us, log_writes, settings)

    def _window(self, moment, writes):
        """One window: the resync's rate (KiB/s), and the time per write
        if ``writes``.
        """
        resource = guests.DRBD_RESOURCE
        before = drbd_settings.out_of_sync_kib(self._proc(moment), resource)
        started = time.monotonic()
        if writes:
            write_us, _ = self._writes(drbd_settings.WINDOW_SECONDS)
        else:
            time.sleep(drbd_settings.WINDOW_SECONDS)
            write_us = None
        after = drbd_settings.out_of_sync_kib(self._proc(moment), resource)
        return (before - after) / (time.monotonic() - started), write_us

    def resync(self):
        resource = guests.DRBD_RESOURCE
        self._run(self.node2, ['drbdadm', 'invalidate', resource])
        guests.wait_until(
            lambda: 'SyncSource' in self._run(self.node1,
                                              ['cat', '/proc/drbd']),
            60, 'node2 to resync from node1')
        settings = {}
        drbd_settings.check_controller(
            drbd_settings.PLUGIN, self._settings('settings, the plugin\'s'))
        time.sleep(drbd_settings.SETTLE_SECONDS)
        rate, _ = self._window('resync, no writes', writes=False)
        rates = {drbd_settings.NO_WRITES: [rate], drbd_settings.DEFAULTS: [],
                 drbd_settings.PLUGIN: []}
        writes = {drbd_settings.PAUSED: [], drbd_settings.DEFAULTS: [],
                  drbd_settings.PLUGIN: []}
        for _ in range(drbd_settings.ROUNDS):
            self._run(self.node1, ['drbdadm', 'pause-sync', resource])
            _, write_us = self._window('resync, paused', writes=True)
            writes[drbd_settings.PAUSED].append(write_us)
            self._run(self.node1, ['drbdadm', 'resume-sync', resource])
            for name in (drbd_settings.DEFAULTS, drbd_settings.PLUGIN):
                if name == drbd_settings.DEFAULTS:
                    shown = self._set('settings, DRBD\'s defaults',
                                      *drbd_settings.DRBD_DEFAULTS)
                else:
                    shown = self._set('settings, the plugin\'s')
                drbd_settings.check_controller(name, shown)
                settings[name] = shown
                time.sleep(drbd_settings.SETTLE_SECONDS)
                rate, write_us = self._window('resync, ' + name, writes=True)
                rates[name].append(rate)
                writes[name].append(write_us)
        return drbd_settings.resync_row(writes, rates, settings)

    def run(self):
        self._run(self.node1, ['lvcreate', '-y', '-aey', '-L', '%dm'
                               % drbd_settings.AL_SPREAD_MIB, '-n',
                               DRBD_SETTINGS_LV, guests.VG_NAME])
        return {'activity_log': self.activity_log(),
                'resync': self.resync()}

    def record(self):
        """What was read, kept as the parsers' fixtures with an INDEX.md."""
        os.makedirs(DRBD_SETTINGS_RECORDED, exist_ok=True)
        index = ['# DRBD readings from `tools/cluster/gate --bench`', '',
                 'Read on node1 by the DRBD settings\' measure '
                 '(bench/drbd_settings.py), the first of each moment.', '',
                 '| file | command | moment |', '|---|---|---|']
        for moment, (argv, output) in sorted(self.recorded.items()):
            name = re.sub(r'[^a-z0-9]+', '-', moment.lower()).strip('-')
            with open(os.path.join(DRBD_SETTINGS_RECORDED, name),
                      'w') as handle:
                handle.write(output)
            index.append('| %s | `%s` | %s |'
                         % (name, ' '.join(argv), moment))
        with open(os.path.join(DRBD_SETTINGS_RECORDED, 'INDEX.md'),
                  'w') as handle:
            handle.write('\n'.join(index) + '\n')


def format_rows(result):
    lines = [cluster_timing.format_table(result)]
    throughput = result['throughput']
    lines.append('both nodes over one: %.2f (%s >= %.2f); bare lvcreate: '
                 '%.2f from one node, %.2f from both, %.2f' % (
                     throughput['ratio'],
                     'met' if throughput['met'] else 'MISSED',
                     throughput['target'], throughput['bare_one_node_per_s'],
                     throughput['bare_both_nodes_per_s'],
                     throughput['bare_ratio']))
    for row in result['lvm_without_shell']:
        lines.append(
            '%-8s with drbd_clvm_lvm_shell = false: ours %.3f s, bare %.3f '
            's, ratio %.2f' % (row['operation'], row['driver_median_s'],
                               row['bare_median_s'], row['ratio']))
    ours = {row['operation']: row for row in result['lvm']}
    for row in result['cinder_lvm']:
        faster = ours[row['operation']]['driver_median_s'] < row[
            'driver_median_s']
        lines.append(
            "%-8s ours %.3f s, Cinder's LVMVolumeDriver %.3f s (bare %.3f "
            "s, ratio %.2f): %s" % (
                row['operation'], ours[row['operation']]['driver_median_s'],
                row['driver_median_s'], row['bare_median_s'], row['ratio'],
                'met (faster)' if faster else 'MISSED (not faster)'))
    lines.append(data_path.format_rows(result['data_path']))
    lines.append(drbd_settings.format_rows(
        result['drbd_settings']['activity_log'],
        result['drbd_settings']['resync']))
    lines.append(format_scale(result['scale']))
    lines.append(hand_over.format_row(result['hand_over']))
    return '\n'.join(lines)


def format_scale(scale):
    """The scale rows (seconds at each count of volumes in use) and each
    target's verdict, on its measured or its fitted figure.
    """
    lines = ['volumes in use  start-up s  stats refresh s  unchanged s  '
             'manageable s']
    for row in scale['rows']:
        unchanged = row.get('stats_unchanged_s')
        lines.append('%14d  %10.2f  %15.3f  %11s  %12.3f' % (
            row['volumes'], row['start_up_s'], row['stats_refresh_s'],
            '-' if unchanged is None else '%.3f' % unchanged,
            row['manageable_s']))
    for target in scale['targets']:
        lines.append('%s at %d volumes: %.2f s%s, %.2f ms more per volume '
                     '(%s <= %.0f s)' % (
                         target['what'], target['volumes'],
                         target['seconds'],
                         ' on the fitted line' if target['projected']
                         else '', target['ms_per_volume'],
                         'met' if target['met'] else 'MISSED',
                         target['target_s']))
    return '\n'.join(lines)


@contextlib.contextmanager
def _bench_pair(logs_dir, log):
    """The pair with Cinder's image, the driver and the benchmark installed
    on both nodes.
    """
    phase = gate.phase
    image = phase('build or reuse the guest image with Cinder',
                  gate.build_image)
    with tempfile.TemporaryDirectory(prefix='drbd-clvm-bench-') as workdir:
        wheels = phase('build the driver\'s wheel',
                       cinder_gate.build_driver_wheel, workdir)
        with guests.booted(image, log=log, logs_dir=logs_dir,
                           wheels=wheels) as cluster:
            phase('install the driver and the benchmark on both nodes',
                  set_up, cluster)
            yield cluster


def _scale(cluster):
    return gate.phase(
        'start-up, stats refresh and the manageable listing with hundreds '
        'of volumes in use on %s' % cluster.nodes[0].name, _deployed,
        cluster.nodes[0], 'scale')


def _hand_over(cluster):
    return gate.phase(
        'an instance\'s writes while its volume moves from %s to %s'
        % tuple(node.name for node in cluster.nodes[:2]), hand_over_pause,
        cluster)


#: the rows a run may measure alone (--bench-scale, --bench-hand-over):
#: key in the result, how they are measured, how they are printed
PARTS = {'scale': (_scale, format_scale),
         'hand_over': (_hand_over, hand_over.format_row)}


def _write(result):
    with open(RESULTS, 'w') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write('\n')


def run(logs_dir, log=print):
    phase = gate.phase
    with _bench_pair(logs_dir, log) as cluster:
        measured = phase(
            'fio on %s: a volume, the devices under it, a snapshot\'s '
            'origin' % cluster.nodes[0].name, _deployed, cluster.nodes[0],
            'data-path', '--rounds', str(DATA_PATH_ROUNDS))
        record_fio_reports(measured['fio_reports'])
        result = phase('time through the deployed path on %s'
                       % cluster.nodes[0].name, _deployed,
                       cluster.nodes[0], '--repeats', str(REPEATS),
                       'timing')
        result['data_path'] = measured['data_path']
        result['throughput'] = phase(
            'creates per second, one node then both', throughput, cluster)
        result['scale'] = _scale(cluster)
        result['hand_over'] = _hand_over(cluster)
        settings = DrbdSettings(cluster)
        result['drbd_settings'] = phase(
            'DRBD\'s activity log and resync controller, the plugin\'s '
            'settings against DRBD\'s defaults', settings.run)
        settings.record()
    result.update(guests.provenance())
    print(format_rows(result), flush=True)
    _write(result)
    return result


def run_part(key, logs_dir, log=print):
    """Only the rows under ``key`` (:data:`PARTS`), into the committed
    result beside the rows of the whole run it holds; they keep their own
    date and commit.
    """
    measure, show = PARTS[key]
    with _bench_pair(logs_dir, log) as cluster:
        rows = measure(cluster)
        # before the guests' last checks, which may still fail the run
        print(json.dumps(rows), flush=True)
    rows['measured'] = guests.provenance()
    with open(RESULTS) as handle:
        result = json.load(handle)
    result[key] = rows
    print(show(rows), flush=True)
    _write(result)
    return result
