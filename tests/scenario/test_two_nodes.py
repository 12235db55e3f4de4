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

"""Both nodes serving one VG: the behaviour the project exists for.

Every test here runs on the simulator in ``tox -e py3`` and on the two real
guests in the cluster gate.
"""

import concurrent.futures
import os

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations
from tests.scenario import base

MIB = 1024 * 1024
#: creates per node in the concurrency test; the gate may raise it
CONCURRENT_CREATES = int(os.environ.get('DRBD_CLVM_CONCURRENT_CREATES', 50))


class CrossNodeTest(base.TwoNodeTestCase):

    def test_create_on_a_extend_on_b(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, self.volume_id('vol'))
        self.ops_b.extend_volume(name, self.SIZE_MIB, 2 * self.SIZE_MIB)
        for ops in (self.ops_a, self.ops_b):
            size, tags = self.names_on(ops)[name]
            self.assertEqual(2 * self.SIZE_MIB * MIB, size)
            self.assertEqual((operations.VOLUME_TAG + self.volume_id('vol'),),
                             tags)

    def test_snapshot_on_b_of_volume_made_on_a(self):
        name = self.name('origin')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id-origin')
        snapshot = self.ops_b.create_snapshot(self.name('snap'), name,
                                              'id-snap')
        seen_by_a = {lv.name: lv for lv in self.ops_a.vg.logical_volumes()}
        self.assertEqual(name, seen_by_a[snapshot].origin)
        # An inactive origin stays inactive, and so does its snapshot.
        for lv_name in (name, snapshot):
            self.assertFalse(
                self.ops_b.vg.logical_volume(lv_name).active_locally)

    def test_snapshot_names_avoid_lvm_reserved_prefix(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        created = self.ops_a.create_snapshot('snapshot-' + self.prefix, name,
                                             'snap-id')
        self.assertEqual('_snapshot-' + self.prefix, created)
        self.ops_a.delete_snapshot('snapshot-' + self.prefix, name)
        self.assertNotIn(created, self.names_on(self.ops_b))

    def test_clone_on_a_of_volume_made_on_b(self):
        source = self.name('src')
        clone = self.name('clone')
        self.ops_b.create_volume(source, self.SIZE_MIB, 'id-src')
        self.ops_a.clone_volume(clone, 2 * self.SIZE_MIB, 'id-clone', source)
        seen = self.names_on(self.ops_b)
        self.assertEqual(
            (2 * self.SIZE_MIB * MIB, ('cinder-volume:id-clone',)),
            seen[clone])
        # No temporary snapshot and no activation is left behind.
        self.assertEqual({source, clone}, set(seen))
        for name in (source, clone):
            self.assertFalse(self.ops_a.vg.logical_volume(name).is_active)

    def test_clone_holds_what_the_source_holds(self):
        # Written in part: the copy skips the source's zeros, so the clone
        # is right only if its own extents were zeroed first.
        source = self.name('src')
        clone = self.name('clone')
        self.ops_b.create_volume(source, self.SIZE_MIB, 'id-src')
        self.ops_b.use(source)
        written = base.write_pattern(self.node_b,
                                     self.ops_b.vg.lv_path(source))
        self.ops_b.release(source)
        self.ops_a.clone_volume(clone, self.SIZE_MIB, 'id-clone', source)
        self.ops_a.use(clone)
        self.addCleanup(self.ops_a.release, clone)
        self.assertEqual(written, base.digest(self.node_a,
                                              self.ops_a.vg.lv_path(clone)))

    def test_volume_from_snapshot(self):
        origin = self.name('origin')
        self.ops_a.create_volume(origin, self.SIZE_MIB, 'id-origin')
        self.ops_a.create_snapshot(self.name('snap'), origin, 'id-snap')
        new = self.name('new')
        self.ops_b.create_volume_from_snapshot(
            new, self.SIZE_MIB, 'id-new', self.name('snap'), origin)
        lv = self.ops_a.vg.logical_volume(new)
        self.assertEqual(('cinder-volume:id-new',), lv.tags)
        self.assertFalse(lv.is_active)

    def test_revert_to_snapshot(self):
        origin = self.name('origin')
        self.ops_a.create_volume(origin, self.SIZE_MIB, 'id-origin')
        snapshot = self.ops_a.create_snapshot(self.name('snap'), origin,
                                              'id-snap')
        self.ops_b.revert_to_snapshot(origin, self.name('snap'), 'id-snap')
        # The snapshot survives the revert, as Cinder expects.
        lv = self.ops_a.vg.logical_volume(snapshot)
        self.assertEqual(origin, lv.origin)
        self.assertEqual(('cinder-snapshot:id-snap',), lv.tags)

    def test_delete_from_other_node(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_b.delete_volume(name)
        self.assertEqual({}, self.names_on(self.ops_a))

    def test_delete_wipes_when_asked(self):
        ops = self._ops(self.node_b, volume_clear='zero', volume_clear_size=1)
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        ops.delete_volume(name)
        self.assertEqual({}, self.names_on(self.ops_a))

    def test_delete_of_volume_with_snapshot_refused(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_a.create_snapshot(self.name('snap'), name, 'snap-id')
        self.assertRaises(exception.VolumeBusy, self.ops_b.delete_volume,
                          name)
        self.assertEqual(2, len(self.names_on(self.ops_a)))


class ActivationTest(base.TwoNodeTestCase):

    def test_in_use_on_a_can_join_on_b(self):
        # Shared activation: both nodes may have the volume active.
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.assertTrue(self.ops_a.use(name))
        self.assertTrue(self.ops_b.use(name))
        self.assertFalse(self.ops_b.use(name))
        for ops in (self.ops_a, self.ops_b):
            self.assertTrue(ops.vg.logical_volume(name).active_locally)

    def test_origin_with_snapshot_in_use_on_a_refuses_b(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_a.create_snapshot(self.name('snap'), name, 'snap-id')
        self.ops_a.use(name)
        error = self.assertRaises(exception.LockedByOtherNode,
                                  self.ops_b.use, name)
        self.assertIn('LV locked by other host', str(error))
        self.assertTrue(error.retriable)
        # Once A lets go, B gets it.
        self.ops_a.release(name)
        self.ops_b.use(name)
        self.assertTrue(self.ops_b.vg.logical_volume(name).active_locally)

    def test_delete_of_volume_held_by_other_node_changes_nothing(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_a.use(name)
        for ops in (self._ops(self.node_b, volume_clear='zero'), self.ops_b):
            self.assertRaises(exception.LockedByOtherNode, ops.delete_volume,
                              name)
        self.assertIn(name, self.names_on(self.ops_b))

    def test_snapshot_on_b_of_volume_held_by_a_refused(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_a.use(name)
        self.assertRaises(exception.LockedByOtherNode,
                          self.ops_b.create_snapshot, self.name('snap'), name,
                          'snap-id')
        self.assertEqual([name], list(self.names_on(self.ops_b)))

    def test_extend_of_volume_held_by_a_works_on_a(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        self.ops_a.use(name)
        self.ops_a.extend_volume(name, self.SIZE_MIB, 2 * self.SIZE_MIB)
        self.assertEqual(2 * self.SIZE_MIB,
                         self.ops_b.vg.logical_volume(name).size_mib)


class ConcurrencyTest(base.TwoNodeTestCase):

    def test_concurrent_creates_from_both_nodes(self):
        def create_all(ops, node_label):
            for index in range(CONCURRENT_CREATES):
                label = '%s-%03d' % (node_label, index)
                ops.create_volume(self.name(label), self.SIZE_MIB, label)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(create_all, self.ops_a, 'a'),
                       pool.submit(create_all, self.ops_b, 'b')]
            for future in futures:
                future.result()
        seen_by_a = self.names_on(self.ops_a)
        self.assertEqual(2 * CONCURRENT_CREATES, len(seen_by_a))
        self.assertEqual(seen_by_a, self.names_on(self.ops_b))


class BadInputTest(base.TwoNodeTestCase):

    def _unchanged(self, call, *args):
        before = self.names_on(self.ops_b)
        self.assertRaises(exception.InvalidInput, call, *args)
        self.assertEqual(before, self.names_on(self.ops_b))

    def test_sizes(self):
        for size in (0, -4, 1.5, '4', True):
            self._unchanged(self.ops_a.create_volume, self.name('v'), size,
                            'id')

    def test_names(self):
        for name in ('vol; rm -rf /', '-vol', '..', 'volumé', 'x' * 200):
            self._unchanged(self.ops_a.create_volume, name, self.SIZE_MIB,
                            'id')

    def test_extend_to_smaller(self):
        name = self.name('vol')
        self.ops_a.create_volume(name, 2 * self.SIZE_MIB, 'id')
        self._unchanged(self.ops_b.extend_volume, name, 2 * self.SIZE_MIB,
                        self.SIZE_MIB)

    def test_too_big_for_the_vg(self):
        vg = self.ops_a.vg.volume_group()
        too_big = vg.free_bytes // MIB + 4 * self.SIZE_MIB
        before = self.names_on(self.ops_b)
        self.assertRaises(exception.InsufficientSpace,
                          self.ops_a.create_volume, self.name('big'), too_big,
                          'id')
        self.assertEqual(before, self.names_on(self.ops_b))

    def test_clone_smaller_than_source(self):
        source = self.name('src')
        self.ops_a.create_volume(source, 2 * self.SIZE_MIB, 'id')
        self._unchanged(self.ops_b.clone_volume, self.name('c'),
                        self.SIZE_MIB, 'id-c', source)


class DrbdLinkTest(base.TwoNodeTestCase):
    """The lab's first finding: LVM does not notice a DRBD disconnect.

    Simulator only: with fencing, the real DRBD refuses an administrative
    disconnect ("State change was refused by peer node") and a cut link
    ends with one node fenced; the fault campaign (tests/cluster/faults.py)
    cuts the real link.
    """

    def setUp(self):
        super().setUp()
        if base.on_real_cluster():
            self.skipTest('a real link cut fences a node: fault campaign')

    def test_disconnect_refuses_changes_on_both_nodes(self):
        kept = self.name('kept')
        self.ops_a.create_volume(kept, self.SIZE_MIB, 'id-kept')
        self.cluster.disconnect_drbd()
        self.addCleanup(self.cluster.reconnect_drbd)
        before = {ops: self.names_on(ops) for ops in (self.ops_a, self.ops_b)}
        for ops in (self.ops_a, self.ops_b):
            error = self.assertRaises(
                exception.ClusterUnsafe, ops.create_volume, self.name('new'),
                self.SIZE_MIB, 'id-new')
            self.assertIn('not Connected', str(error))
            self.assertRaises(exception.ClusterUnsafe, ops.delete_volume,
                              kept)
            self.assertRaises(exception.ClusterUnsafe, ops.extend_volume,
                              kept, self.SIZE_MIB, 2 * self.SIZE_MIB)
            # Reads still work (what stats report) and say why changes are
            # refused (the backend_state_reason).
            capacity = ops.capacity()
            self.assertGreater(capacity.total_bytes, 0)
            self.assertGreaterEqual(capacity.volume_count, 1)
            self.assertTrue(any('not Connected' in reason
                                for reason in ops.gate.reasons()))
            self.assertEqual(before[ops], self.names_on(ops))
        self.cluster.reconnect_drbd()
        # Nothing was lost to the split-brain recovery: both nodes agree,
        # with what they had before, and changes work again.
        self.assertEqual(before[self.ops_a], self.names_on(self.ops_b))
        self.assertEqual([], self.ops_a.gate.reasons())
        self.assertEqual([], self.ops_b.gate.reasons())
        self.ops_b.create_volume(self.name('after'), self.SIZE_MIB, 'id-a')
        self.assertEqual(self.names_on(self.ops_a), self.names_on(self.ops_b))


class ClusterStackTest(base.TwoNodeTestCase):
    """Quorum and lock-manager loss. On the real cluster, node A whose
    corosync is killed is fenced by node B and rejoins by itself before
    the test ends (``start_corosync`` waits for it).
    """

    def _needs_fencing(self):
        if self.cluster.lock_manager == 'sanlock':
            self.skipTest('lvmlockd over sanlock runs without corosync')
        if not self.cluster.fencing:
            self.skipTest('a node without corosync is fenced: this lab '
                          'does not fence')

    def test_corosync_gone_refuses_and_a_hang_is_bounded(self):
        # One loss of corosync (on the real cluster it ends with node A
        # fenced and rebooted, a minute each time) shows both.
        self._needs_fencing()
        self.cluster.stop_corosync(self.node_a)
        self.addCleanup(self.cluster.start_corosync, self.node_a)
        error = self.assertRaises(exception.ClusterUnsafe,
                                  self.ops_a.create_volume, self.name('v'),
                                  self.SIZE_MIB, 'id')
        self.assertIn('Cannot initialize CMAP service', str(error))
        self.assertIn('dlm_controld is not running', str(error))
        # Even if the gate were passed, a hanging LVM command ends as a
        # timeout error rather than a stuck worker. A short bound: node A
        # is fenced some 20 s after its corosync died.
        vg = lvm.ClusteredVG(self.node_a.runner, self.cluster.vg_name,
                             timeout=5)
        self.assertRaises(exception.CommandTimeout, vg.create,
                          self.name('v'), self.SIZE_MIB)

    def test_lvmlockd_gone_refuses(self):
        self.cluster.stop_lvmlockd(self.node_b)
        self.addCleanup(self.cluster.start_lvmlockd, self.node_b)
        error = self.assertRaises(exception.ClusterUnsafe,
                                  self.ops_b.create_volume, self.name('v'),
                                  self.SIZE_MIB, 'id')
        self.assertIn('lvmlockd is not running', str(error))
        # The other node is unaffected.
        self.ops_a.create_volume(self.name('v'), self.SIZE_MIB, 'id')


class UnsafeDrbdStateTest(base.TwoNodeTestCase):
    """States the simulator can be put in directly."""

    def setUp(self):
        super().setUp()
        if base.on_real_cluster():
            self.skipTest('forces DRBD states; simulator only')

    def _refused(self, expected, **state):
        self.cluster.set_drbd_state(self.node_a, **state)
        error = self.assertRaises(exception.ClusterUnsafe,
                                  self.ops_a.create_volume, self.name('v'),
                                  self.SIZE_MIB, 'id')
        self.assertIn(expected, str(error))
        self.assertEqual({}, self.names_on(self.ops_b))

    def test_secondary(self):
        self._refused('not Primary/Primary', role='Secondary')

    def test_inconsistent(self):
        self._refused("this node's copy is Inconsistent", disk='Inconsistent')

    def test_outdated(self):
        self._refused("this node's copy is Outdated", disk='Outdated')

    def test_standalone(self):
        self._refused('StandAlone, not Connected', connection='StandAlone')


class ActivationModeTest(base.TwoNodeTestCase):

    def test_extend_while_shared_on_both_needs_a_refresh_on_the_other(self):
        # Measured on the gate cluster: the extending node's device grows,
        # the other's only after its own refresh.
        name = self.name('vol')
        self.ops_a.create_volume(name, self.SIZE_MIB, 'id')
        for ops in (self.ops_a, self.ops_b):
            ops.vg.activate(name, lvm.Activation.SHARED)
        self.assertTrue(self.ops_a.extend_volume(name, self.SIZE_MIB,
                                                 2 * self.SIZE_MIB))
        path = self.ops_a.vg.lv_path(name)
        self.assertEqual(2 * self.SIZE_MIB * MIB,
                         base.device_size(self.node_a, path))
        self.assertEqual(self.SIZE_MIB * MIB,
                         base.device_size(self.node_b, path))
        self.ops_b.refresh(name)
        self.assertEqual(2 * self.SIZE_MIB * MIB,
                         base.device_size(self.node_b, path))
