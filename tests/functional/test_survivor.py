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

"""The survivor inside real Cinder: node2 dies, its fence succeeds, and
node1's volume service serves every request alone without asking node2
anything, including Nova's evacuate of node2's instance; node2's rejoin ends
the degraded state.
"""

from cinder import exception as cinder_exception

from tests.functional import test_active_active


class SurvivorTest(test_active_active.ActiveActiveTestCase):

    def setUp(self):
        super().setUp()
        self.survivor = self.managers['node1'].driver
        self.asked = []
        peers = self.survivor.any_node.peers
        original = peers.call

        def call(node, step, **kwargs):
            self.asked.append((node, step))
            return original(node, step, **kwargs)

        peers.call = call

    def _node2_dies(self):
        self.cluster.fence(self.sim_nodes['node2'])
        self.managers['node2'].driver.peer_server.stop()

    def test_evacuate_the_dead_node_s_instance(self):
        volume = self._created(server='node2')
        dead_attachment, _ = self.attach(volume, 'node2', served_by='node2')
        self.assertEqual({'node2'}, self.active_on(volume))
        self._node2_dies()
        self.assertEqual(set(), self.active_on(volume))
        # Nova attaches it on the survivor, then deletes the dead host's
        # attachment; node1 serves both.
        _, info = self.attach(volume, 'node1', served_by='node1')
        self.assertEqual('local', info['driver_volume_type'])
        self.assertEqual({'node1'}, self.active_on(volume))
        with self.assertLogs('drbd_clvm_driver.routing', 'WARNING') as logs:
            self.detach(volume, dead_attachment, served_by='node1')
        self.assertIn('it has left the cluster (fenced)', logs.output[0])
        self.assertEqual({'node1'}, self.active_on(volume))
        self.assertEqual([], [asked for asked in self.asked
                              if asked[0] == 'node2'])

    def test_every_change_accepted_alone(self):
        volume = self._created()
        self._node2_dies()
        manager = self.managers['node1']
        created = self._created(server='node1')
        manager.extend_volume(self.context, volume, 2, reservations=None)
        volume.refresh()
        self.assertEqual(('available', 2), (volume.status, volume.size))
        manager.delete_volume(self.context, created)
        self.assertIsNone(self.lv(created.name))
        self.assertEqual([], self.asked)

    def test_stats_say_degraded_and_why(self):
        self._node2_dies()
        stats = self.survivor.get_volume_stats(refresh=True)
        pool, = stats['pools']
        self.assertEqual('up', stats['backend_state'])
        self.assertGreater(pool['free_capacity_gb'], 0)
        self.assertTrue(pool['cluster_degraded'])
        self.assertIn('DRBD r0 is WFConnection with the peer fenced '
                      '(Outdated): this node serves alone',
                      pool['cluster_degraded_reason'])
        self.assertIn('left the cluster: node2',
                      pool['cluster_degraded_reason'])
        self.cluster.rejoin(self.sim_nodes['node2'])
        pool, = self.survivor.get_volume_stats(refresh=True)['pools']
        self.assertFalse(pool['cluster_degraded'])
        self.assertIsNone(pool['cluster_degraded_reason'])

    def test_link_lost_without_a_fence_still_refuses(self):
        volume = self._volume()
        self.cluster.disconnect_drbd()
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.managers['node1'].create_volume, self.context,
                          volume)
        volume.refresh()
        self.assertEqual('error', volume.status)
