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

"""What an interrupted copy leaves, on the simulator: the operation keeps
trying to undo it while the cluster heals, and what it could not undo is
removed by its own node's volume service when that starts again.
"""

import logging

import fixtures
import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import operations
from drbd_clvm_driver import stack
from tests.sim import cluster as sim


class InterruptedCloneTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=1024)
        self.node1, self.node2 = self.cluster.nodes
        self.ops1, self.ops2 = (self._ops(node) for node in self.cluster.nodes)
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        self.ops2.create_volume('source', 8, 'id-source')
        self.waits = []
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.operations.time.sleep', self._wait))

    def _ops(self, node, **options):
        return stack.build(node.runner, self.cluster.vg_name,
                           self.cluster.drbd_resource, volume_clear='none',
                           lock_path=self.useFixture(
                               fixtures.TempDir()).path, **options).ops

    def _wait(self, seconds):
        # What systemd does meanwhile: lvmlockd is back after one wait.
        self.waits.append(seconds)
        self.cluster.start_lvmlockd(self.node2)

    def _interrupted_clone(self):
        """lvmlockd dies on node2 while its clone copies the data."""
        self.cluster.before_next(
            self.node2, 'dd',
            lambda: self.cluster.stop_lvmlockd(self.node2))
        error = self.assertRaises(exception.ClusterUnsafe,
                                  self.ops2.clone_volume, 'clone', 8,
                                  'id-clone', 'source')
        self.assertIn('lvmlockd is not running', str(error))

    def _names(self):
        return sorted(lv.name for lv in self.ops1.vg.logical_volumes())

    def test_undo_waits_for_the_cluster_to_heal(self):
        self._interrupted_clone()
        self.assertEqual([operations.UNDO_INTERVAL], self.waits[:1])
        self.assertEqual(['source'], self._names())
        self.assertIn('trying again', self.log.output)

    def test_own_node_removes_what_it_could_not_undo(self):
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.operations.UNDO_TIMEOUT', -1))
        self._interrupted_clone()
        left = self.ops1.vg.logical_volume('clone')
        self.assertIn(operations.CREATING_TAG, left.tags)
        self.assertEqual('node2', left.tag_value(operations.CREATOR_TAG))
        self.cluster.start_lvmlockd(self.node2)
        # node1's service starting leaves node2's operations alone.
        self.assertEqual([], self.ops1.remove_half_made())
        self.assertIn('clone', self._names())
        # The clone and its temporary snapshot of the source.
        self.assertEqual(['_clone-clone', 'clone'],
                         sorted(self.ops2.remove_half_made()))
        self.assertEqual(['source'], self._names())

    def _link_drops_and_comes_back(self):
        self.cluster.disconnect_drbd()
        self.cluster.reconnect_drbd()

    def _unconfirmed_clone(self):
        error = self.assertRaises(exception.ClusterChangedDuringChange,
                                  self.ops2.clone_volume, 'clone', 8,
                                  'id-clone', 'source')
        self.assertIn('may exist only on this node', str(error))
        self.assertEqual(['source'], self._names())
        self.assertEqual((), self.ops1.half_made())

    def test_unconfirmed_temporary_snapshot_is_removed(self):
        self.cluster.before_next(self.node2, 'lvcreate',
                                 self._link_drops_and_comes_back)
        self._unconfirmed_clone()
        self.assertIn('Undid unconfirmed _clone-clone', self.log.output)

    def test_unconfirmed_new_volume_is_removed(self):
        # the second lvcreate: the clone's own LV, after its snapshot's
        self.cluster.before_next(
            self.node2, 'lvcreate', lambda: self.cluster.before_next(
                self.node2, 'lvcreate', self._link_drops_and_comes_back))
        self._unconfirmed_clone()
        self.assertIn('Undid unconfirmed clone', self.log.output)

    def test_finished_clone_keeps_no_creating_tags(self):
        self.ops2.clone_volume('clone', 8, 'id-clone', 'source')
        tags = self.ops1.vg.logical_volume('clone').tags
        self.assertEqual(('cinder-volume:id-clone',), tuple(tags))
        self.assertEqual([], self.ops2.remove_half_made())

    def _clone_commands(self):
        self.ops2.clone_volume('clone', 8, 'id-clone', 'source')
        view = self.cluster.view(self.node1)
        self.assertEqual(view.lvs['source'].content,
                         view.lvs['clone'].content)
        return [argv for _node, argv in self.cluster.commands
                if argv[0] in ('fallocate', 'dd') or argv[:3] == (
                    'lvcreate', '-y', '-s')]

    def test_clone_reads_a_large_chunk_snapshot_into_a_zeroed_lv(self):
        snapshot, zero, copy = self._clone_commands()
        self.assertEqual(('-c', '512k'), snapshot[3:5])
        self.assertEqual('fallocate', zero[0])
        self.assertEqual('conv=sparse,fdatasync', copy[-1])

    def test_clone_where_the_device_cannot_zero_copies_every_block(self):
        self.cluster.zeroes_in_device = False
        copy = self._clone_commands()[-1]
        self.assertEqual('conv=fdatasync', copy[-1])

    def test_clone_without_zeroing_in_device_writes_every_block(self):
        self.ops2 = self._ops(self.node2, zero_in_device=False)
        snapshot, copy = self._clone_commands()
        self.assertEqual('conv=fdatasync', copy[-1])

    def test_one_that_cannot_go_is_left_and_the_rest_removed(self):
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.operations.UNDO_TIMEOUT', -1))
        self._interrupted_clone()
        self.cluster.start_lvmlockd(self.node2)
        # something on node2 holds the half-made clone open
        self.node2.open_lv('clone')
        self.assertEqual(['_clone-clone'], self.ops2.remove_half_made())
        self.assertEqual(['clone', 'source'], self._names())
        self.assertIn('Could not remove half-made clone', self.log.output)
