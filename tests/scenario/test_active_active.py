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

"""Any node serves any request, with the volume in use on node A, on B or
on both: the LVM side of attachments, live migration and multiattach.

Node-local steps go through :class:`~drbd_clvm_driver.routing.AnyNode`:
the serving node asks the other one where the step must run there.  Every
test runs on the simulator (``tox -e py3``) and on the two real guests in
the cluster gate, where data written through one node's device is read back
through the other's.
"""

from drbd_clvm_driver import exception
from tests.scenario import base

MIB = 1024 * 1024


class OneVolumeTestCase(base.TwoNodeTestCase):

    def setUp(self):
        super().setUp()
        self.volume = self.name('vol')
        self.ops_a.create_volume(self.volume, self.SIZE_MIB, 'id-vol')
        self.path = self.ops_a.vg.lv_path(self.volume)

    def _active(self, ops):
        return ops.vg.logical_volume(self.volume).active_locally


class AttachTest(OneVolumeTestCase):

    def test_attach_on_a_served_by_b(self):
        self.any_b.on(self.node_a.name, 'use', name=self.volume)
        self.assertTrue(self._active(self.ops_a))
        self.assertFalse(self._active(self.ops_b))
        base.write_pattern(self.node_a, self.path)

    def test_detach_from_a_served_by_b(self):
        self.any_a.on(self.node_a.name, 'use', name=self.volume)
        self.any_b.on(self.node_a.name, 'release', name=self.volume)
        self.assertFalse(self._active(self.ops_a))
        # Nothing is left that keeps B from changing it.
        self.ops_b.extend_volume(self.volume, self.SIZE_MIB,
                                 2 * self.SIZE_MIB)

    def test_release_of_a_missing_volume_does_nothing(self):
        # What Cinder's delete of a volume whose create failed asks first.
        for node in (self.node_a, self.node_b):
            self.any_b.on(node.name, 'release', name=self.name('never'))

    def test_live_migration_a_to_b_keeps_the_data(self):
        self.any_b.on(self.node_a.name, 'use', name=self.volume)
        written = base.write_pattern(self.node_a, self.path)
        # Destination attached before the source is detached: both hold it.
        self.any_a.on(self.node_b.name, 'use', name=self.volume)
        self.assertTrue(self._active(self.ops_a))
        self.assertEqual(written, base.digest(self.node_b, self.path))
        self.any_b.on(self.node_a.name, 'release', name=self.volume)
        self.assertFalse(self._active(self.ops_a))
        self.assertTrue(self._active(self.ops_b))
        self.assertEqual(written, base.digest(self.node_b, self.path))

    def test_multiattach_on_both_nodes(self):
        for node in (self.node_a, self.node_b):
            self.any_a.on(node.name, 'use', name=self.volume)
        written = base.write_pattern(self.node_b, self.path)
        self.assertEqual(written, base.digest(self.node_a, self.path))
        # The first detach leaves the other node's device alone.
        self.any_a.on(self.node_b.name, 'release', name=self.volume)
        self.assertEqual(written, base.digest(self.node_a, self.path))

    def test_peer_down_is_a_clear_error_and_changes_nothing(self):
        del self.endpoints[self.node_a.name]
        error = self.assertRaises(exception.PeerUnavailable, self.any_b.on,
                                  self.node_a.name, 'use', name=self.volume)
        self.assertIn(self.node_a.name, str(error))
        self.assertFalse(self._active(self.ops_a))


class InUseOperationsTest(OneVolumeTestCase):
    """Operations that need the volume exclusive, while it is in use."""

    def _in_use_on(self, *nodes):
        for node in nodes:
            self.any_a.on(node.name, 'use', name=self.volume)

    def _sizes(self, *nodes):
        return [base.device_size(node, self.path) for node in nodes]

    def test_extend_in_use_on_a_served_by_b(self):
        self._in_use_on(self.node_a)
        self.any_b.extend_volume(self.volume, self.SIZE_MIB,
                                 2 * self.SIZE_MIB)
        self.assertEqual([2 * self.SIZE_MIB * MIB], self._sizes(self.node_a))

    def test_extend_in_use_on_both(self):
        self._in_use_on(self.node_a, self.node_b)
        self.any_a.extend_volume(self.volume, self.SIZE_MIB,
                                 2 * self.SIZE_MIB)
        self.assertEqual([2 * self.SIZE_MIB * MIB] * 2,
                         self._sizes(self.node_a, self.node_b))

    def test_extend_with_a_user_down_is_refreshed_at_its_start(self):
        self._in_use_on(self.node_a, self.node_b)
        del self.endpoints[self.node_a.name]
        self.any_b.extend_volume(self.volume, self.SIZE_MIB,
                                 2 * self.SIZE_MIB)
        self.assertEqual([self.SIZE_MIB * MIB, 2 * self.SIZE_MIB * MIB],
                         self._sizes(self.node_a, self.node_b))
        # What A's volume service does when it starts again.
        self.assertIn(self.volume, self.ops_a.refresh_active())
        self.assertEqual([2 * self.SIZE_MIB * MIB] * 2,
                         self._sizes(self.node_a, self.node_b))

    def test_snapshot_in_use_on_a_served_by_b(self):
        self._in_use_on(self.node_a)
        written = base.write_pattern(self.node_a, self.path)
        snapshot = self.any_b.run('create_snapshot',
                                  snapshot_name=self.name('snap'),
                                  volume_name=self.volume,
                                  snapshot_id='id-snap')
        seen = self.ops_b.vg.logical_volume(snapshot)
        self.assertEqual(self.volume, seen.origin)
        # Still usable where it was attached, and the data is the same.
        self.assertEqual(written, base.digest(self.node_a, self.path))
        # Deleting the snapshot (served by B) runs on A, which maps it: LVM
        # would let B remove it under A's device-mapper table.
        self.any_b.run('delete_snapshot', snapshot_name=self.name('snap'),
                       volume_name=self.volume)
        self.assertEqual([], base.stale_snapshot_devices(
            self.cluster, self.node_a, self.prefix))
        # B can join again.
        self.any_b.on(self.node_b.name, 'use', name=self.volume)
        self.assertEqual(written, base.digest(self.node_b, self.path))

    def test_clone_in_use_on_a_served_by_b(self):
        self._in_use_on(self.node_a)
        written = base.write_pattern(self.node_a, self.path)
        clone = self.name('clone')
        self.any_b.run('clone_volume', name=clone, size_mib=self.SIZE_MIB,
                       volume_id='id-clone', source_name=self.volume)
        # The clone is idle; the source stays shared in use on A.
        self.assertFalse(self.ops_a.vg.logical_volume(clone).active_locally)
        self.any_b.on(self.node_b.name, 'use', name=self.volume)
        self.any_b.on(self.node_b.name, 'use', name=clone)
        self.assertEqual(written, base.digest(
            self.node_b, self.ops_b.vg.lv_path(clone)))

    def test_snapshot_in_use_on_both_refused(self):
        self._in_use_on(self.node_a, self.node_b)
        error = self.assertRaises(
            exception.VolumeBusy, self.any_b.run, 'create_snapshot',
            snapshot_name=self.name('snap'), volume_name=self.volume,
            snapshot_id='id-snap')
        self.assertIn('more than one node', str(error))
        self.assertEqual([self.volume], list(self.names_on(self.ops_a)))

    def test_migration_refused_while_a_snapshot_exists(self):
        # lvmlockd keeps an origin with a thick snapshot on one host.
        self._in_use_on(self.node_a)
        self.any_a.run('create_snapshot', snapshot_name=self.name('snap'),
                       volume_name=self.volume, snapshot_id='id-snap')
        self.assertRaises(exception.LockedByOtherNode, self.any_a.on,
                          self.node_b.name, 'use', name=self.volume)
        self.assertTrue(self._active(self.ops_a))

    def test_delete_left_active_on_a_served_by_b(self):
        # An activation left behind on A (its service restarted before a
        # detach finished) does not make B's delete fail.
        self._in_use_on(self.node_a)
        self.any_b.run('delete_volume', name=self.volume)
        self.assertEqual({}, self.names_on(self.ops_b))

    def test_peer_down_while_it_holds_the_volume(self):
        self._in_use_on(self.node_a)
        del self.endpoints[self.node_a.name]
        self.assertRaises(exception.PeerUnavailable, self.any_b.run,
                          'create_snapshot', snapshot_name=self.name('snap'),
                          volume_name=self.volume, snapshot_id='id-snap')
        self.assertEqual([self.volume], list(self.names_on(self.ops_b)))


class ThreeNodesTest(OneVolumeTestCase):
    """What only a third node shows: the volume held on a node that is
    neither the serving node nor its first peer, a step served by a node
    that holds nothing, and data through every node.  Runs on the
    three-node shared-LUN lab (``gate --shared-lun --with-scenarios``); the
    DRBD pair and the simulator have two nodes.
    """

    def setUp(self):
        super().setUp()
        if len(self.cluster.nodes) < 3:
            self.skipTest('needs a lab of three nodes or more')
        self.node_c = self.cluster.nodes[1]
        self.any_c = self.any_nodes[self.node_c.name]
        self.ops_c = self.any_c.ops

    def _sizes(self, *nodes):
        return [base.device_size(node, self.path) for node in nodes]

    def test_multiattach_on_every_node(self):
        every = (self.node_a, self.node_c, self.node_b)
        for node in every:
            self.any_c.on(node.name, 'use', name=self.volume)
        written = base.write_pattern(self.node_c, self.path)
        for node in every:
            self.assertEqual(written, base.digest(node, self.path))
        self.any_a.on(self.node_c.name, 'release', name=self.volume)
        self.assertEqual(written, base.digest(self.node_b, self.path))

    def test_live_migration_through_every_node(self):
        self.any_b.on(self.node_a.name, 'use', name=self.volume)
        written = base.write_pattern(self.node_a, self.path)
        hops = [(self.node_a, self.node_c), (self.node_c, self.node_b)]
        for source, destination in hops:
            self.any_c.on(destination.name, 'use', name=self.volume)
            self.any_a.on(source.name, 'release', name=self.volume)
            self.assertEqual(written, base.digest(destination, self.path))
        self.assertEqual([False, False, True],
                         [any_node.ops.vg.logical_volume(
                             self.volume).active_locally
                          for any_node in (self.any_a, self.any_c,
                                           self.any_b)])

    def test_extend_in_use_on_two_served_by_the_third(self):
        for node in (self.node_a, self.node_b):
            self.any_a.on(node.name, 'use', name=self.volume)
        self.any_c.extend_volume(self.volume, self.SIZE_MIB,
                                 2 * self.SIZE_MIB)
        self.assertEqual([2 * self.SIZE_MIB * MIB] * 2,
                         self._sizes(self.node_a, self.node_b))

    def test_snapshot_held_past_the_first_peer(self):
        # B's peers are A then C: A is refused too, and C runs it.
        self.any_a.on(self.node_c.name, 'use', name=self.volume)
        written = base.write_pattern(self.node_c, self.path)
        snapshot = self.any_b.run('create_snapshot',
                                  snapshot_name=self.name('snap'),
                                  volume_name=self.volume,
                                  snapshot_id='id-snap')
        self.assertEqual(self.volume,
                         self.ops_b.vg.logical_volume(snapshot).origin)
        self.assertEqual(written, base.digest(self.node_c, self.path))
        self.any_a.run('delete_snapshot', snapshot_name=self.name('snap'),
                       volume_name=self.volume)
        self.assertEqual([], base.stale_snapshot_devices(
            self.cluster, self.node_c, self.prefix))
