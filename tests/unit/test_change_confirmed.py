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

"""A DRBD link cut *during* a metadata change, on the simulator: the gate
passed it, so only the confirmation after the command can tell.
"""

import logging

import fixtures
import testtools

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver import stack
from tests.sim import cluster as sim


def generations(cluster):
    """Each node's current generation UUID, read as the driver reads it."""
    return [drbd.DrbdResource(node.runner, cluster.drbd_resource)
            .state_with_generation().generation for node in cluster.nodes]


class SimulatedGenerationTest(testtools.TestCase):
    """The simulator's generations behave as the gate recorded them
    (fixtures/recorded/gate-generation).
    """

    def test_apart_each_node_starts_its_own_and_recovery_shares_one(self):
        cluster = sim.SimulatedCluster()
        healthy = generations(cluster)
        self.assertEqual(['7E3173C55CA44047'] * 2, healthy)
        cluster.disconnect_drbd()
        node1, node2 = generations(cluster)
        self.assertNotIn(node1, (node2, healthy[0]))
        self.assertNotIn(node2, healthy)
        cluster.reconnect_drbd()
        self.assertEqual([node1, node1], generations(cluster))

    def test_drbd9_is_asked_per_peer(self):
        cluster = sim.SimulatedCluster(drbd_version=(9, 2))
        self.assertEqual(['7E3173C55CA44047'] * 2, generations(cluster))
        self.assertIn(('node1', ('drbdsetup', 'get-gi', 'r0', '2', '0')),
                      cluster.commands)


#: DRBD 8.4's current generation, read from debugfs
DATA_GEN_ID = ('cat', '/sys/kernel/debug/drbd/minors/0/data_gen_id')


class LinkCutDuringChangeTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=1024)
        self.node1, self.node2 = self.cluster.nodes
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.ERROR))

    def _ops(self, node):
        lock_path = self.useFixture(fixtures.TempDir()).path
        return stack.build(node.runner, self.cluster.vg_name,
                           self.cluster.drbd_resource, lock_path=lock_path,
                           volume_clear='none').ops

    def _ran(self, node):
        """The commands ``node`` ran, and the index of its lvcreate."""
        ran = [argv for name, argv in self.cluster.commands
               if name == node.name]
        return ran, [argv[0] for argv in ran].index('lvcreate')

    def test_healthy_change_is_confirmed_after_the_command(self):
        self._ops(self.node1).create_volume('vol', 4, 'id-vol')
        ran, lvcreate = self._ran(self.node1)
        self.assertEqual([('cat', '/proc/drbd'), DATA_GEN_ID],
                         ran[lvcreate + 1:])
        self.assertEqual('', self.log.output)

    def test_cut_after_the_gate_fails_the_change(self):
        ops = self._ops(self.node2)
        self.cluster.before_next(self.node2, 'lvcreate',
                                 self.cluster.disconnect_drbd)
        error = self.assertRaises(exception.ClusterChangedDuringChange,
                                  ops.create_volume, 'vol', 4, 'id-vol')
        # The gate had passed it: the generation was read before lvcreate.
        ran, lvcreate = self._ran(self.node2)
        self.assertLess(ran.index(DATA_GEN_ID), lvcreate)
        self.assertIn('cs:WFConnection', str(error))
        self.assertIn('may exist only on this node', str(error))
        self.assertIn("DRBD r0 changed while create('vol', 4", self.log.output)
        # It exists on this node only, and the recovery discards it: the
        # volume that was lost was never acknowledged.
        self.assertIn('vol', self.cluster.view(self.node2).lvs)
        self.assertNotIn('vol', self.cluster.view(self.node1).lvs)
        self.cluster.reconnect_drbd()
        self.assertEqual(1, self.cluster.discarded_changes)
        self.assertNotIn('vol', self.cluster.view(self.node2).lvs)

    def test_link_back_before_the_confirmation_still_fails(self):
        def drop_and_come_back():
            self.cluster.disconnect_drbd()
            self.cluster.reconnect_drbd()

        ops = self._ops(self.node1)
        self.cluster.before_next(self.node1, 'lvcreate', drop_and_come_back)
        error = self.assertRaises(exception.ClusterChangedDuringChange,
                                  ops.create_volume, 'vol', 4, 'id-vol')
        self.assertEqual(2, str(error).count('cs:Connected'))
