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

"""A test's volumes cleared in two commands, on the simulator."""

import fixtures
import testtools

from drbd_clvm_driver import stack
from tests import leftovers
from tests.sim import cluster as sim


class RemoveTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=1024)
        self.node = self.cluster.nodes[0]
        self.ops = stack.build(
            self.node.runner, self.cluster.vg_name,
            self.cluster.drbd_resource, volume_clear='none',
            lock_path=self.useFixture(fixtures.TempDir()).path).ops
        self.ops.create_volume('kept', 4, 'id-kept')
        for name in ('origin', 'plain-1', 'plain-2'):
            self.ops.create_volume(name, 4, 'id-' + name)
        self.ops.create_snapshot('snap', 'origin', 'id-snap')

    def _removes(self):
        return [argv for _node, argv in self.cluster.commands
                if argv[0] == 'lvremove']

    def _listed(self):
        return sorted(lv.name for lv in self.ops.vg.logical_volumes())

    def test_snapshots_then_the_rest_each_in_one_command(self):
        self.assertIn('snap', self._listed())
        mine = [lv for lv in self.ops.vg.logical_volumes()
                if lv.name != 'kept']
        snapshot = next(lv.name for lv in mine if lv.is_snapshot)
        leftovers.remove(self.node, self.cluster.vg_name, mine)
        self.assertEqual(['kept'], self._listed())
        self.assertEqual([
            ('lvremove', '-y', 'vgc/' + snapshot),
            ('lvremove', '-y', 'vgc/origin', 'vgc/plain-1', 'vgc/plain-2')],
            self._removes())

    def test_nothing_left_runs_nothing(self):
        leftovers.remove(self.node, self.cluster.vg_name, [])
        self.assertEqual([], self._removes())
        self.assertIn('kept', self._listed())
