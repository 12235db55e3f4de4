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

"""The real-cluster timing benchmark, run on the simulator: it must
measure every row, leave nothing behind, and judge targets the right way
round. (Times here mean nothing; the gate runs it on the real guests.)
"""

import argparse
import os

import fixtures
import testtools

from bench import cluster_timing
from bench import data_path
from bench import drbd_settings
from bench import hand_over
from drbd_clvm_driver import operations
from drbd_clvm_driver import stack
from tests.sim import cluster as sim


class ClusterTimingTest(testtools.TestCase):

    def test_rows_and_cleanup(self):
        cluster = sim.SimulatedCluster(vg_size_mib=4096)
        node = cluster.nodes[0]
        ops = stack.build(node.runner, cluster.vg_name,
                          cluster.drbd_resource, volume_clear='none',
                          lock_path=self.useFixture(
                              fixtures.TempDir()).path).ops
        rows = (cluster_timing.lvm_rows(ops, node.runner, 'b-', 2)
                + cluster_timing.data_rows(ops, node.runner, 'b-', 2))
        self.assertEqual(['create', 'extend', 'delete'],
                         [row['operation'] for row in rows[:3]])
        self.assertEqual(5, len(rows))
        for row in rows:
            self.assertEqual(2, row['repeats'])
            low, high = row['driver_spread_s']
            self.assertTrue(low <= row['driver_median_s'] <= high, row)
        self.assertEqual({}, cluster.view(node).lvs)
        # The driver's copies (dd) and wipes (zeroed by the device) ran
        # through the same device paths as the bare dd.
        programs = [argv[0] for _, argv in cluster.commands]
        self.assertEqual(6, programs.count('dd'))
        self.assertEqual(4, programs.count('fallocate'))
        overhead = cluster_timing.overhead(ops, node.runner, 3)
        self.assertEqual(3, overhead['repeats'])
        self.assertGreater(overhead['gate_check_ms'], 0)
        table = cluster_timing.format_table({
            'lvm': rows[:3], 'data': rows[3:], 'overhead': overhead,
            'throughput': {'one_node_per_s': 1.5, 'both_nodes_per_s': 2.9,
                           'creates_per_node': 10}})
        self.assertIn('volume_clear (64 MiB)', table)
        self.assertIn("the safety gate's check alone", table)
        self.assertIn('an LVM report', table)
        self.assertIn('creates per second: 1.50 from one node', table)

    def test_targets_are_judged_the_right_way_round(self):
        slow_driver = cluster_timing._summary('x', [2.0], [1.0], 1.1, False)
        self.assertEqual(2.0, slow_driver['ratio'])
        self.assertFalse(slow_driver['met'])
        fast_copy = cluster_timing._summary('y', [1.0], [0.95], 0.9, True)
        self.assertEqual(0.95, fast_copy['ratio'])
        self.assertTrue(fast_copy['met'])


class DeployedCreatesTest(testtools.TestCase):
    """The creates mode waits for the gate's go, then times its creates."""

    def test_ready_then_go(self):
        from bench import deployed
        cluster = sim.SimulatedCluster()
        node = cluster.nodes[0]
        ops = stack.build(node.runner, cluster.vg_name,
                          cluster.drbd_resource, volume_clear='none',
                          lock_path=self.useFixture(
                              fixtures.TempDir()).path).ops
        go = self.useFixture(fixtures.TempDir()).join('go')
        open(go, 'w').close()
        args = argparse.Namespace(node='node1', count=3, go=go, bare=False,
                                  vg=cluster.vg_name)
        result = deployed.creates(args, ops)
        self.assertEqual(3, result['creates'])
        self.assertGreater(result['seconds'], 0)
        self.assertTrue(os.path.exists(go + '.node1.ready'))
        self.assertEqual({}, cluster.view(node).lvs)
        ran = [argv for _, argv in cluster.commands]
        self.assertEqual(3, [argv[0] for argv in ran].count('lvcreate'))
        # the driver's creates carry its tags; the gate read before each
        self.assertEqual(3, len([argv for argv in ran if argv[0] ==
                                 'lvcreate' and '--addtag' in argv]))


class BenchGateTableTest(testtools.TestCase):

    def _row(self, name, driver, bare=0.5):
        return cluster_timing._summary(name, [driver], [bare], 1.1, False)

    def test_ours_against_cinders(self):
        from tests.cluster import bench_gate
        result = {
            'lvm': [self._row('create', 0.54), self._row('extend', 0.6),
                    self._row('delete', 0.7)],
            'data': [],
            'lvm_without_shell': [self._row('create', 1.2)],
            'cinder_lvm': [self._row('create', 9.0),
                           self._row('extend', 0.5)],
            'throughput': {'one_node_per_s': 1.5, 'both_nodes_per_s': 2.9,
                           'creates_per_node': 10, 'ratio': 1.93,
                           'target': 1.0, 'met': True,
                           'bare_one_node_per_s': 1.6,
                           'bare_both_nodes_per_s': 2.4, 'bare_ratio': 1.5},
            'data_path': [data_path.summary(
                '4k randread qd1', 'us', {
                    data_path.VOLUME: [320.0], data_path.DRBD: [275.0],
                    data_path.BACKING: [250.0],
                    data_path.SNAPSHOT_ORIGIN: [330.0]})],
            'drbd_settings': {
                'activity_log': drbd_settings.al_row(
                    {'257': [6000.0], '1237': [5000.0]},
                    {'257': [700.0], '1237': [100.0]}, {}),
                'resync': drbd_settings.resync_row(
                    {drbd_settings.PAUSED: [4000.0],
                     drbd_settings.DEFAULTS: [5000.0],
                     drbd_settings.PLUGIN: [6000.0]},
                    {drbd_settings.NO_WRITES: [40000.0],
                     drbd_settings.DEFAULTS: [10000.0],
                     drbd_settings.PLUGIN: [20000.0]}, {})},
            'scale': {
                'rows': [{'volumes': 100, 'start_up_s': 20.0,
                          'stats_refresh_s': 0.5, 'stats_unchanged_s': 0.05,
                          'manageable_s': 0.3}],
                'targets': [{'figure': 'start_up_s', 'what': 'start-up',
                             'volumes': 300,
                             'target_s': 60.0, 'seconds': 62.5,
                             'projected': True, 'ms_per_volume': 208.3,
                             'met': False}]},
            'hand_over': hand_over.row(
                {'node2_joins': 40.0, 'node1_leaves': 1250.5,
                 'baseline': 35.0}, {'node2_joins': 0.4,
                                     'node1_leaves': 0.3})}
        table = bench_gate.format_rows(result)
        self.assertIn('create   ours 0.540 s, Cinder\'s LVMVolumeDriver '
                      '9.000 s', table)
        self.assertIn('met (faster)', table)
        self.assertIn('create   with drbd_clvm_lvm_shell = false: ours '
                      '1.200 s, bare 0.500 s, ratio 2.40', table)
        self.assertIn('MISSED (not faster)', table)
        self.assertIn('both nodes over one: 1.93 (met >= 1.00); bare '
                      'lvcreate: 1.60 from one node, 2.40 from both, 1.50',
                      table)
        self.assertIn('4k randread qd1              320.0     275.0     '
                      '250.0     330.0    0.859 MISSED >= 0.971', table)
        self.assertIn('the plugin\'s 1237: met (no slower)', table)
        self.assertIn('the plugin\'s resync over the resync without '
                      'writes: 0.50 (MISSED >= 0.80)', table)
        self.assertIn('           100       20.00            0.500        '
                      '0.050         0.300', table)
        self.assertIn('start-up at 300 volumes: 62.50 s on the fitted line, '
                      '208.30 ms more per volume (MISSED <= 60 s)', table)
        self.assertIn('  node1 leaves, node2 writing       1250.5  (the '
                      'step took 0.30 s)', table)
        self.assertIn('  nothing else, node2 writing         35.0\n', table)
        self.assertIn('longest write while the volume moved: 1250.5 ms '
                      '(MISSED < 1000 ms)', table)


class ScaleOnClusterTest(testtools.TestCase):
    """The scale mode on the simulator: every size measured through the
    driver, every volume in use taken up at start-up, every LV listed, and
    the targets judged on the measured or the fitted figure.
    """

    def test_sizes_measured_then_judged(self):
        from bench import invocations
        from bench import scale_on_cluster
        from drbd_clvm_driver import driver as our_driver
        from drbd_clvm_driver import peer
        cluster = sim.SimulatedCluster(vg_size_mib=4096)
        node = cluster.nodes[0]
        lock_path = self.useFixture(fixtures.TempDir()).path
        conf = invocations.configuration_for(
            'bench-scale', volume_group=cluster.vg_name,
            drbd_clvm_drbd_resource=cluster.drbd_resource,
            drbd_clvm_lock_manager='lvmlockd', target_helper='fake',
            volume_clear='none', volume_backend_name='drbd',
            drbd_clvm_lock_path=lock_path)
        drivers = []

        def make_driver(backend, node_name):
            drivers.append(our_driver.DrbdClvmVolumeDriver(
                configuration=conf, runner=node.runner,
                host='%s@%s' % (node_name, backend),
                peers=peer.InProcessPeers({})))
            return drivers[-1]

        made = []

        def fill(vg, count):
            # as the LVM shell would: tagged, active shared here
            helper = make_driver('drbd', 'node1')
            helper.do_setup(None)
            while len(made) < count:
                volume_id = '%s-0000-4000-8000-%012d' % (
                    scale_on_cluster.ID_PREFIX, len(made))
                name = 'volume-' + volume_id
                helper.ops.vg.create(
                    name, scale_on_cluster.VOLUME_MIB,
                    tags=[operations.VOLUME_TAG + volume_id])
                helper.ops.use(name)
                made.append(name)
            return list(made)

        self.useFixture(fixtures.MockPatchObject(
            scale_on_cluster, '_driver', make_driver))
        self.useFixture(fixtures.MockPatchObject(
            scale_on_cluster, 'fill', fill))
        self.useFixture(fixtures.MockPatchObject(
            scale_on_cluster, 'remove_all', lambda vg: None))

        def commit_a_change(vg, name, number):
            drivers[0].ops.vg.change_tags(name, add=['change-%d' % number])

        self.useFixture(fixtures.MockPatchObject(
            scale_on_cluster, 'commit_a_change', commit_a_change))
        read_vg = self.useFixture(fixtures.MockPatchObject(
            scale_on_cluster, 'read_vg')).mock
        result = scale_on_cluster.measure(cluster.vg_name, 'drbd', 'node1',
                                          sizes=(3, 6))
        self.assertEqual(2 * scale_on_cluster.REPEATS, read_vg.call_count)
        # each refresh after a change read the VG, none of those after it
        reads = [argv[0] for _, argv in cluster.commands
                 if argv[0] == 'pvck' or argv[0] == 'vgs' and 'lv_tags' in
                 argv[argv.index('-o') + 1]]
        expected = (['pvck', 'vgs'] * scale_on_cluster.REPEATS +
                    ['pvck'] * scale_on_cluster.REPEATS)
        self.assertEqual(expected, reads[-len(expected):])
        self.assertEqual([3, 6], [row['volumes'] for row in result['rows']])
        for row in result['rows']:
            self.assertEqual(row['volumes'], row['listed'])
            self.assertEqual(row['volumes'], row['reported_volumes'])
            for key in ('start_up_s', 'stats_refresh_s', 'stats_unchanged_s',
                        'manageable_s', 'vg_read_s'):
                self.assertGreater(row[key], 0)
        # each start-up read every device's size in one command, and none
        # needed a refresh
        ran = [argv for _, argv in cluster.commands]
        self.assertEqual(2, ran.count(('dmsetup', 'table')))
        self.assertEqual([], [argv for argv in ran if '--refresh' in argv])
        targets = {target['figure']: target for target in result['targets']}
        self.assertEqual({'start_up_s', 'stats_refresh_s',
                          'stats_unchanged_s', 'manageable_s'},
                         set(targets))
        for target in targets.values():
            self.assertTrue(target['projected'])
            self.assertEqual(target['seconds'] <= target['target_s'],
                             target['met'])

    def test_fitted_line_and_measured_figures(self):
        from bench import scale_on_cluster
        rows = [{'volumes': 100, 'start_up_s': 20.0, 'stats_refresh_s': 0.5,
                 'stats_unchanged_s': 0.2, 'manageable_s': 0.3},
                {'volumes': 300, 'start_up_s': 70.0, 'stats_refresh_s': 0.7,
                 'stats_unchanged_s': 0.2, 'manageable_s': 0.5}]
        per, base = scale_on_cluster.slope(rows, 'start_up_s')
        self.assertAlmostEqual(0.25, per)
        self.assertAlmostEqual(-5.0, base)
        verdicts = {target['figure']: target
                    for target in scale_on_cluster.verdicts(rows)}
        start_up = verdicts['start_up_s']
        self.assertEqual((70.0, False, False),
                         (start_up['seconds'], start_up['projected'],
                          start_up['met']))
        stats = verdicts['stats_refresh_s']
        # 0.4 s + 1 ms per volume, at 3000 volumes
        self.assertEqual((3.4, True, False, 1.0),
                         (stats['seconds'], stats['projected'], stats['met'],
                          stats['ms_per_volume']))
        unchanged = verdicts['stats_unchanged_s']
        self.assertEqual((0.2, True, True, 0.0),
                         (unchanged['seconds'], unchanged['projected'],
                          unchanged['met'], unchanged['ms_per_volume']))
        # rows measured before a figure existed judge the others only
        older = [{key: value for key, value in row.items()
                  if key != 'stats_unchanged_s'} for row in rows]
        self.assertNotIn('stats_unchanged_s', [
            target['figure'] for target in scale_on_cluster.verdicts(older)])
