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

"""The benchmark's measuring devices: command sorting, the fake VG read by
Cinder's own LVM code, target and goal evaluation.  Nothing here times
anything or asserts a benchmark target."""

import tempfile

from cinder.brick.local_dev import lvm as cinder_brick_lvm
import fixtures
from oslo_concurrency import processutils
import testtools

from bench import commands
from bench import fake_lvm
from bench import invocations
from bench import stats_scale


class CommandsTest(testtools.TestCase):

    def test_program_past_env_prefix(self):
        self.assertEqual('lvs', commands.program(
            ['env', 'LC_ALL=C', 'LVM_SYSTEM_DIR=/etc/cinder', 'lvs', '-o']))
        self.assertEqual('lvremove', commands.program(['lvremove', '-f']))

    def test_kinds_counted_apart(self):
        summary = commands.summary([
            ('cat', '/proc/drbd'), ('corosync-quorumtool', '-s'),
            ('env', 'LC_ALL=C', 'lvcreate', '-n', 'x'), ('dd', 'if=a'),
            ('udevadm', 'settle')])
        self.assertEqual({commands.LVM: 1, commands.HEALTH: 2,
                          commands.DATA: 1, commands.OTHER: 1},
                         summary['counts'])
        self.assertEqual(['cat', 'corosync-quorumtool', 'lvcreate', 'dd',
                          'udevadm'], summary['programs'])
        # the daemon answers the two readings itself; one root call each
        # through a root helper
        self.assertEqual((3, 5), (summary['processes'], summary['calls']))
        self.assertEqual(2, commands.summary([('lvs',)] * 4, 2)['calls'])

    def test_calls_counted_per_command_and_per_batch(self):
        from tests.sim import cluster as sim
        counter = commands.CallCounter(sim.SimulatedCluster().nodes[0].runner)
        counter.run(['cat', '/proc/drbd'])
        counter.read([('cat', '/proc/drbd'), ('pidof', 'lvmlockd')])
        self.assertEqual(2, counter.calls)


class FakeVGTest(testtools.TestCase):
    """Cinder's LVM layer parses the fake VG's answers as LVM's."""

    def setUp(self):
        super().setUp()
        self.vg = fake_lvm.FakeVG('vgc', 4096)
        self.useFixture(fixtures.MockPatchObject(processutils, 'execute',
                                                 self.vg.execute))
        self.brick = cinder_brick_lvm.LVM('vgc', 'sudo',
                                          executor=self.vg.execute)

    def test_volumes_and_free_space(self):
        self.brick.create_volume('volume-1', '1g')
        self.brick.create_lv_snapshot('snap-1', 'volume-1')
        self.brick.update_volume_group_info()
        self.assertEqual(2.0, self.brick.vg_free_space)
        self.assertEqual(2, self.brick.vg_lv_count)
        self.assertEqual({'vg': 'vgc', 'name': 'volume-1', 'size': '1.00'},
                         self.brick.get_volume('volume-1'))
        self.assertTrue(self.brick.lv_has_snapshot('volume-1'))

    def test_missing_volume_reads_as_absent(self):
        self.assertIsNone(self.brick.get_volume('nothing'))

    def test_unknown_command_fails_loudly(self):
        self.assertRaises(NotImplementedError, self.vg.execute,
                          'vgreduce', 'vgc')


class InvocationsTest(testtools.TestCase):

    def test_cinder_script_recorded(self):
        issued = invocations.measure_cinder()
        self.assertEqual(set(invocations.OPERATIONS), set(issued))
        self.assertEqual(
            ['lvcreate'],
            commands.summary(issued[invocations.CREATE])['programs'])
        self.assertEqual(
            ['vgs', 'lvs'],
            commands.summary(issued[invocations.STATS])['programs'])

    def test_our_script_recorded(self):
        with tempfile.TemporaryDirectory() as lock_path:
            issued = invocations.measure_ours(lock_path)
        self.assertEqual(set(invocations.OPERATIONS), set(issued))
        self.assertIn('lvcreate', commands.summary(
            issued[invocations.CREATE])['programs'])
        # the device zeroes it: no dd of zeros
        zeroing = commands.summary(
            issued[invocations.DELETE_ZERO])['programs']
        self.assertIn('fallocate', zeroing)
        self.assertNotIn('dd', zeroing)
        self.assertNotIn('dd', commands.summary(
            issued[invocations.DELETE])['programs'])

    def _rows(self, ours, theirs):
        empty = {operation: [] for operation in invocations.OPERATIONS}
        return {row['operation']: row for row in invocations.compare(
            dict(empty, **ours), dict(empty, **theirs))}

    def test_targets_evaluated(self):
        lvs, lvcreate = ('lvs',), ('lvcreate',)
        rows = self._rows(
            {invocations.CREATE: [lvs, lvs, lvcreate],
             invocations.EXTEND: [('cat', '/proc/drbd'), ('lvextend',)],
             invocations.SNAPSHOT: [lvs, lvcreate]},
            {invocations.CREATE: [lvs, lvs, lvs, lvcreate],
             invocations.EXTEND: [('lvdisplay',), ('lvextend',)],
             invocations.SNAPSHOT: [lvs, lvcreate]})
        self.assertFalse(rows[invocations.CREATE]['target_met'])
        self.assertIn('at most 2', rows[invocations.CREATE]['target'])
        self.assertEqual(0.75, rows[invocations.CREATE]['lvm_ratio'])
        self.assertTrue(rows[invocations.EXTEND]['target_met'])
        self.assertFalse(rows[invocations.SNAPSHOT]['target_met'])
        self.assertIn('not fewer', rows[invocations.SNAPSHOT]['target'])
        self.assertIn('TARGETS MISSED', invocations.format_table(
            list(rows.values())))

    def test_gate_checks_folded(self):
        self.assertEqual('gate(2) lvcreate gate(1) lvchange',
                         invocations._programs(commands.summary(
                             [('cat',), ('dlm_tool',), ('lvcreate',),
                              ('lvmlockctl',), ('lvchange',)])))


class StatsScaleTest(testtools.TestCase):

    def test_goals(self):
        rows = [{'volumes': 10, 'commands': 2, 'commands_unchanged': 1,
                 'trips': 2, 'per_volume_ratio': None},
                {'volumes': 100, 'commands': 2, 'commands_unchanged': 1,
                 'trips': 2, 'per_volume_ratio': 0.5},
                {'volumes': 1000, 'commands': 3, 'commands_unchanged': 1,
                 'trips': 2, 'per_volume_ratio': 2.0}]
        goals = stats_scale.goals(rows)
        self.assertFalse(goals['processes_fixed_at_every_size']['met'])
        self.assertFalse(goals['parse_time_at_most_linear']['met'])
        goals = stats_scale.goals(rows[:2])
        self.assertTrue(goals['processes_fixed_at_every_size']['met'])
        self.assertTrue(goals['parse_time_at_most_linear']['met'])
        self.assertIn('privileged calls: 2, 2', stats_scale.goals(rows[:2])[
            'processes_fixed_at_every_size']['detail'])

    def test_outputs_recorded_on_simulator(self):
        small, large = stats_scale.measure(sizes=(2, 5))['rows']
        self.assertEqual(2, small['reported_volumes'])
        self.assertEqual(5, large['reported_volumes'])
        self.assertGreater(large['output_bytes'], small['output_bytes'])
        # One vgs with LV columns reads the VG and every volume, after
        # pvck showed the fill's commit.
        self.assertEqual(['pvck', 'vgs'], [
            program for program in large['programs']
            if program in ('pvck', 'vgs', 'lvs', 'pvs')])
        # the gate's readings are one more trip
        self.assertEqual((2, 3), (large['commands'], large['trips']))
        # With nothing committed since: the headers alone.
        self.assertEqual(1, large['commands_unchanged'])
        self.assertNotIn('vgs', large['programs_unchanged'])
