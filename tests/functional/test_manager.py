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

"""Cinder's own volume manager drives the driver: two managers, one per
node, serving one clustered backend (active-active)."""

from cinder import context
from cinder import exception as cinder_exception
from cinder import objects
from cinder.tests.unit import test
from cinder.tests.unit import utils as test_utils

from drbd_clvm_driver import lvm
from tests.functional import drivers

CLUSTER_NAME = 'drbd-cluster@drbd'


class ManagerTestCase(test.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = drivers.reset_cluster()
        self.context = context.get_admin_context()
        self.override_config('target_helper', 'fake',
                             group='backend_defaults')
        self.override_config('volume_group', self.cluster.vg_name,
                             group='backend_defaults')
        self.override_config('drbd_clvm_drbd_resource',
                             self.cluster.drbd_resource,
                             group='backend_defaults')
        self.override_config('volume_clear', 'none',
                             group='backend_defaults')
        self.node1 = self._manager('node1', 'NodeOneDriver')
        self.node2 = self._manager('node2', 'NodeTwoDriver')

    def _manager(self, node, driver_class):
        return drivers.start_manager(self, node, driver_class, CLUSTER_NAME)

    def _volume(self, size=1, **kwargs):
        return test_utils.create_volume(
            self.context, size=size, host='node1@drbd#DRBD_CLVM',
            cluster_name=CLUSTER_NAME, **kwargs)

    def _lv_names(self, node_index):
        runner = self.cluster.nodes[node_index].runner
        return {lv.name: lv for lv in lvm.ClusteredVG(
            runner, self.cluster.vg_name).logical_volumes()}

    def test_lifecycle_across_both_nodes(self):
        volume = self._volume()
        self.node1.create_volume(self.context, volume)
        volume.refresh()
        self.assertEqual('available', volume.status)
        self.assertIn(volume.name, self._lv_names(1))

        self.node2.extend_volume(self.context, volume, 2, reservations=[])
        volume.refresh()
        self.assertEqual(2, volume.size)
        self.assertEqual(2048, self._lv_names(0)[volume.name].size_mib)

        snapshot = test_utils.create_snapshot(self.context, volume.id)
        self.node2.create_snapshot(self.context, snapshot)
        snapshot.refresh()
        self.assertEqual('available', snapshot.status)
        self.assertIn('_' + snapshot.name, self._lv_names(0))

        from_snapshot = self._volume(size=2, snapshot_id=snapshot.id)
        self.node1.create_volume(self.context, from_snapshot)
        from_snapshot.refresh()
        self.assertEqual('available', from_snapshot.status)

        clone = self._volume(size=3, source_volid=volume.id)
        self.node2.create_volume(self.context, clone)
        clone.refresh()
        self.assertEqual('available', clone.status)
        self.assertEqual(3072, self._lv_names(0)[clone.name].size_mib)

        self.node1.delete_snapshot(self.context, snapshot)
        for item in (clone, from_snapshot, volume):
            self.node1.delete_volume(self.context, item)
        self.assertEqual({}, self._lv_names(1))

    def test_unsafe_cluster_refused_and_reported(self):
        self.cluster.disconnect_drbd()
        volume = self._volume()
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.node1.create_volume, self.context, volume)
        volume.refresh()
        self.assertEqual('error', volume.status)
        self.assertEqual({}, self._lv_names(0))
        stats = self.node2.driver.get_volume_stats(refresh=True)
        self.assertEqual('down', stats['backend_state'])
        self.assertIn('not Connected', stats['backend_state_reason'])

    def test_stats_when_healthy(self):
        stats = self.node1.driver.get_volume_stats(refresh=True)
        self.assertEqual('up', stats['backend_state'])
        pool, = stats['pools']
        self.assertEqual(64.0, pool['total_capacity_gb'])
        self.assertEqual('DRBD_CLVM', pool['pool_name'])

    def _vg_reads(self, node):
        return len([argv for name, argv in self.cluster.commands
                    if name == node and argv[0] == 'vgs'])

    def test_stats_follow_the_other_node_changes(self):
        before, = self.node1.driver.get_volume_stats(refresh=True)['pools']
        volume = self._volume()
        self.node2.create_volume(self.context, volume)
        after, = self.node1.driver.get_volume_stats(refresh=True)['pools']
        self.assertEqual(before['total_volumes'] + 1, after['total_volumes'])
        self.assertLess(after['free_capacity_gb'],
                        before['free_capacity_gb'])
        # nothing committed since: the PVs' headers say so, no VG read
        reads = self._vg_reads('node1')
        self.assertEqual(after, self.node1.driver.get_volume_stats(
            refresh=True)['pools'][0])
        self.assertEqual(reads, self._vg_reads('node1'))
        self.node2.delete_volume(self.context, volume)
        again, = self.node1.driver.get_volume_stats(refresh=True)['pools']
        self.assertEqual(before['total_volumes'], again['total_volumes'])
        self.assertGreater(self._vg_reads('node1'), reads)

    def test_metadata_area_full(self):
        # room for two more volumes: 1280 + 2 * 406 bytes of metadata
        self.cluster.set_metadata_area(2 * (1280 + 2 * 406 + 768 + 100))
        with self.assertLogs('drbd_clvm_driver.driver', 'WARNING') as logs:
            stats = self.node2.driver.get_volume_stats(refresh=True)
        pool, = stats['pools']
        self.assertEqual('up', stats['backend_state'])
        self.assertEqual(0, pool['free_capacity_gb'])
        self.assertEqual(2 * 406 + 100, pool['metadata_area_free_bytes'])
        self.assertIn('metadata area of VG vgc has 912 of its 5920 bytes '
                      'left', logs.output[0])
        made = [self._volume(), self._volume()]
        for volume in made:
            self.node1.create_volume(self.context, volume)
        refused = self._volume()
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            self.node2.create_volume, self.context, refused)
        self.assertIn('metadata area is full', str(error))
        refused.refresh()
        self.assertEqual('error', refused.status)
        self.assertEqual({volume.name for volume in made},
                         set(self._lv_names(0)))
        self.node2.delete_volume(self.context, made[0])
        again = self._volume()
        self.node2.create_volume(self.context, again)
        again.refresh()
        self.assertEqual('available', again.status)

    def test_delete_of_volume_open_on_other_node_is_busy(self):
        volume = self._volume()
        self.node1.create_volume(self.context, volume)
        self.node1.driver.create_export(self.context, volume,
                                        {'host': 'node1'})
        self.cluster.nodes[0].open_lv(volume.name)
        self.node2.delete_volume(self.context, volume)
        volume = objects.Volume.get_by_id(self.context, volume.id)
        # Cinder's answer to VolumeIsBusy: the volume stays available.
        self.assertEqual('available', volume.status)
        self.assertIn(volume.name, self._lv_names(1))
