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

"""Active-active inside real Cinder: two volume managers with distinct hosts
(``node1@drbd``, ``node2@drbd``) in one cluster, over the two-node simulator.

Each driver starts its own peer endpoint on Cinder's message bus (the test
base's in-memory transport); nothing here wires the nodes together.
Attachments are made the way Cinder's attachments API makes them (reserve,
update with a connector, complete; delete, finish), each served by the node
that does *not* serve the operation tested after it.
"""

from unittest import mock
import uuid

from cinder import context
from cinder.db import api as db_api
from cinder import exception as cinder_exception
from cinder import objects
from cinder.tests.unit import test
from cinder.tests.unit import utils as test_utils

from drbd_clvm_driver import driver
from tests.functional import drivers

CLUSTER_NAME = 'drbd-cluster@drbd'
CONNECTORS = {
    'node1': {'host': 'node1', 'initiator': 'iqn.2026-11.test:node1'},
    'node2': {'host': 'node2', 'initiator': 'iqn.2026-11.test:node2'},
    'compute3': {'host': 'compute3',
                 'initiator': 'iqn.2026-11.test:compute3'},
    'compute4': {'host': 'compute4',
                 'initiator': 'iqn.2026-11.test:compute4'},
}
#: where a volume is attached before an operation is served
PLACEMENTS = {'idle': (), 'on_node1': ('node1',), 'on_node2': ('node2',),
              'on_both': ('node1', 'node2'), 'outside': ('compute3',)}
SERVERS = ('node1', 'node2')


class ActiveActiveTestCase(test.TestCase):

    #: what follows a node's name in its volume service's host
    #: (node1<DOMAIN>@drbd); corosync knows the nodes by name alone
    DOMAIN = ''

    def setUp(self):
        super().setUp()
        self.cluster = drivers.reset_cluster()
        # A project, so Cinder can record the user messages of failures.
        self.context = context.RequestContext('user', 'project',
                                              is_admin=True)
        for name, value in (('target_helper', 'fake'),
                            ('volume_group', self.cluster.vg_name),
                            ('drbd_clvm_drbd_resource',
                             self.cluster.drbd_resource),
                            ('volume_clear', 'none'),
                            ('drbd_clvm_peer_call_timeout', 5),
                            ('drbd_clvm_peer_probe_timeout', 1)):
            self.override_config(name, value, group='backend_defaults')
        self.managers = {'node1': self._manager('node1', 'NodeOneDriver'),
                         'node2': self._manager('node2', 'NodeTwoDriver')}
        self.sim_nodes = {node.name: node for node in self.cluster.nodes}
        self.volume_type = test_utils.create_volume_type(
            self.context, name='drbd-clvm')
        # No Nova here: the event telling it an attached volume grew.
        self.nova_extend = self.patch('cinder.compute.nova.API.extend_volume')

    def host(self, node):
        """The host part of ``node``'s volume service's host: its node name
        (no name is configured).
        """
        return node + self.DOMAIN

    def _manager(self, node, driver_class):
        return drivers.start_manager(self, self.host(node), driver_class,
                                     CLUSTER_NAME)

    @staticmethod
    def other(node):
        return 'node2' if node == 'node1' else 'node1'

    def _volume(self, size=1, **kwargs):
        return test_utils.create_volume(
            self.context, size=size,
            host='%s@drbd#DRBD_CLVM' % self.host('node1'),
            cluster_name=CLUSTER_NAME,
            volume_type_id=self.volume_type.id, **kwargs)

    def _created(self, server='node1', **kwargs):
        volume = self._volume(**kwargs)
        self.managers[server].create_volume(self.context, volume)
        volume.refresh()
        self.assertEqual('available', volume.status)
        return volume

    # Attachments, as Cinder's API and Nova make them.

    def attach(self, volume, host, served_by):
        attachment = objects.VolumeAttachment(
            context=self.context, volume_id=volume.id,
            instance_uuid=str(uuid.uuid4()), attach_status='reserved',
            attach_mode='rw')
        attachment.create()
        connector = dict(CONNECTORS[host])
        info = self.managers[served_by].attachment_update(
            self.context, volume, connector, attachment.id)
        attachment.refresh()
        attachment.connection_info = info
        attachment.save()
        # attachment-complete
        db_api.volume_attached(self.context, attachment.id,
                               attachment.instance_uuid, connector['host'],
                               'na', 'rw', True)
        volume.refresh()
        self.assertEqual('in-use', volume.status)
        return attachment, info

    def detach(self, volume, attachment, served_by):
        volume = objects.Volume.get_by_id(self.context, volume.id)
        self.managers[served_by].attachment_delete(self.context,
                                                   attachment.id, volume)
        volume.finish_detach(attachment.id)

    # What the simulated nodes see.

    def lv(self, name):
        return self.cluster.view(self.cluster.nodes[0]).lvs.get(name)

    def active_on(self, volume):
        lv = self.lv(volume.name)
        return set(lv.active) if lv else set()

    def device_mib(self, volume, node):
        return self.lv(volume.name).device_mib[node]


def _matrix(test_class):
    """One test per operation x placement x serving node; operations Cinder
    allows only on an available volume are tested idle only.
    """
    for operation in test_class.OPERATIONS:
        placements = PLACEMENTS if operation not in test_class.IDLE_ONLY \
            else ('idle',)
        for placement in placements:
            for server in SERVERS:
                def method(self, operation=operation, placement=placement,
                           server=server):
                    self.check(operation, placement, server)
                name = 'test_%s_%s_served_by_%s' % (operation, placement,
                                                    server)
                setattr(test_class, name, method)
    return test_class


@_matrix
class AnyNodeMatrixTest(ActiveActiveTestCase):
    """Every operation, with the volume idle, attached on node1, node2,
    both, or a host outside the cluster, served by either node; the same
    outcome whichever node serves it.
    """

    OPERATIONS = ('extend', 'snapshot', 'clone', 'copy_to_image',
                  'volume_from_snapshot', 'backup_temp_snapshot',
                  'detach_then_delete', 'revert', 'copy_from_image',
                  'manage_unmanage')
    IDLE_ONLY = ('revert', 'copy_from_image', 'manage_unmanage')

    def check(self, operation, placement, server):
        volume = self._created(server=self.other(server),
                               multiattach=placement == 'on_both')
        attached = [self.attach(volume, host, served_by=self.other(server))
                    for host in PLACEMENTS[placement]]
        cluster_nodes = {host for host in PLACEMENTS[placement]
                         if host in SERVERS}
        if placement == 'outside':
            cluster_nodes = {self.other(server)}
        self.assertEqual(cluster_nodes, self.active_on(volume))
        getattr(self, '_' + operation)(volume, attached, server, placement)
        if operation != 'detach_then_delete':
            # The instances keep their devices.
            self.assertEqual(cluster_nodes, self.active_on(volume))

    def _extend(self, volume, attached, server, placement):
        self.managers[server].extend_volume(self.context, volume, 2,
                                            reservations=[])
        volume.refresh()
        self.assertEqual(2, volume.size)
        self.assertEqual(2048, self.lv(volume.name).size_mib)
        for node in self.active_on(volume):
            self.assertEqual(2048, self.device_mib(volume, node))

    def _snapshot(self, volume, attached, server, placement):
        snapshot = test_utils.create_snapshot(self.context, volume.id)
        if placement == 'on_both':
            # lvmlockd snapshots only an origin one host holds.
            self.assertRaises(cinder_exception.VolumeIsBusy,
                              self.managers[server].create_snapshot,
                              self.context, snapshot)
            snapshot.refresh()
            self.assertEqual('error', snapshot.status)
            self.assertEqual(1, len(self.cluster.view(
                self.cluster.nodes[0]).lvs))
            return
        self.managers[server].create_snapshot(self.context, snapshot)
        snapshot.refresh()
        self.assertEqual('available', snapshot.status)
        self.managers[server].delete_snapshot(self.context, snapshot)
        self.assertEqual([volume.name], list(self.cluster.view(
            self.cluster.nodes[1]).lvs))

    def _clone(self, volume, attached, server, placement):
        clone = self._volume(source_volid=volume.id)
        if placement == 'on_both':
            # The copy reads a snapshot, which needs the source exclusive.
            self.assertRaises(cinder_exception.VolumeIsBusy,
                              self.managers[server].create_volume,
                              self.context, clone)
            clone.refresh()
            self.assertEqual('error', clone.status)
            self.assertIsNone(self.lv(clone.name))
            return
        self.managers[server].create_volume(self.context, clone)
        clone.refresh()
        self.assertEqual('available', clone.status)
        self.assertEqual(set(), self.active_on(clone))

    def _copy_to_image(self, volume, attached, server, placement):
        readers = []

        def upload(context, image_service, image_meta, path, volume):
            readers.append(self.sim_nodes[server].runner.run(
                ['md5sum', path]).stdout)

        with mock.patch.object(driver.volume_utils, 'upload_volume',
                               side_effect=upload):
            self.managers[server].driver.copy_volume_to_image(
                self.context, volume, None, {'id': 'image'})
        self.assertEqual(1, len(readers))

    def _snapshotted(self, volume, server, placement):
        """A snapshot made by the other node, or None where lvmlockd
        cannot (attached on both).
        """
        snapshot = test_utils.create_snapshot(self.context, volume.id)
        if placement == 'on_both':
            return None
        self.managers[self.other(server)].create_snapshot(self.context,
                                                          snapshot)
        snapshot.refresh()
        self.assertEqual('available', snapshot.status)
        return snapshot

    def _volume_from_snapshot(self, volume, attached, server, placement):
        snapshot = self._snapshotted(volume, server, placement)
        if snapshot is None:
            return
        new = self._volume(snapshot_id=snapshot.id)
        self.managers[server].create_volume(self.context, new)
        new.refresh()
        self.assertEqual('available', new.status)
        self.assertEqual(set(), self.active_on(new))

    def _backup_temp_snapshot(self, volume, attached, server, placement):
        # What the backup service does with backup_use_temp_snapshot: a
        # snapshot, attached to the backup host, detached, deleted.
        snapshot = self._snapshotted(volume, server, placement)
        if snapshot is None:
            return
        served = self.managers[server]
        # Exported from the node holding the origin, else the serving one.
        holders = self.active_on(volume)
        exporter = holders.pop() if holders else server
        connector = dict(CONNECTORS['compute4'])
        info = served.initialize_connection_snapshot(self.context,
                                                     snapshot.id, connector)
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.assertEqual(exporter, info['data']['drbd_clvm_node'])
        self.assertIn(exporter, self.active_on(volume))
        served.terminate_connection_snapshot(self.context, snapshot.id,
                                             connector)
        self.managers[self.other(server)].remove_export_snapshot(
            self.context, snapshot.id)
        self.managers[self.other(server)].delete_snapshot(self.context,
                                                          snapshot)
        self.assertEqual([volume.name], list(self.cluster.view(
            self.cluster.nodes[0]).lvs))

    def _revert(self, volume, attached, server, placement):
        snapshot = self._snapshotted(volume, server, placement)
        # What Cinder's API sets before it casts the revert.
        volume.update({'status': 'reverting'})
        volume.save()
        snapshot.update({'status': 'restoring'})
        snapshot.save()
        self.managers[server].revert_to_snapshot(self.context, volume,
                                                 snapshot)
        volume.refresh()
        self.assertEqual('available', volume.status)
        self.assertEqual(self.lv('_' + snapshot.name).origin, volume.name)

    def _copy_from_image(self, volume, attached, server, placement):
        with mock.patch.object(driver.image_utils, 'fetch_to_raw') as fetch:
            self.managers[server].driver.copy_image_to_volume(
                self.context, volume, None, 'image')
        self.assertEqual('/dev/%s/%s' % (self.cluster.vg_name, volume.name),
                         fetch.call_args[0][3])
        self.assertEqual(set(), self.active_on(volume))

    def _manage_unmanage(self, volume, attached, server, placement):
        served = self.managers[server]
        served.driver.unmanage(volume)
        managed = self._volume()
        served.driver.manage_existing(managed, {'source-name': volume.name})
        self.assertIsNone(self.lv(volume.name))
        self.assertEqual(['cinder-volume:%s' % managed.id],
                         self.lv(managed.name).tags)

    def _detach_then_delete(self, volume, attached, server, placement):
        for attachment, _ in attached:
            self.detach(volume, attachment, served_by=server)
        self.assertEqual(set(), self.active_on(volume))
        volume = objects.Volume.get_by_id(self.context, volume.id)
        self.managers[server].delete_volume(self.context, volume)
        self.assertIsNone(self.lv(volume.name))


class LiveMigrationTest(ActiveActiveTestCase):
    """Nova's order: the destination attachment is made and completed
    before the source attachment is deleted; no data is copied.
    """

    def _write(self, volume, node):
        self.sim_nodes[node].runner.run(
            ['dd', 'if=/dev/urandom', 'of=/dev/%s/%s' % (
                self.cluster.vg_name, volume.name), 'bs=1M', 'count=1'])
        return self.lv(volume.name).content

    def _read(self, volume, node):
        return self.sim_nodes[node].runner.run(
            ['md5sum', '/dev/%s/%s' % (self.cluster.vg_name,
                                       volume.name)]).stdout.split()[0]

    def _hop(self, volume, source, destination, attach_by, detach_by):
        new, info = self.attach(volume, destination, served_by=attach_by)
        self.detach(volume, source, served_by=detach_by)
        return new, info

    def test_node1_to_node2_to_outside_to_node1(self):
        volume = self._created()
        first, info = self.attach(volume, 'node1', served_by='node2')
        self.assertEqual('local', info['driver_volume_type'])
        self._write(volume, 'node1')
        digest = self._read(volume, 'node1')

        second, info = self.attach(volume, 'node2', served_by='node1')
        self.assertEqual('local', info['driver_volume_type'])
        self.assertEqual({'node1', 'node2'}, self.active_on(volume))
        self.detach(volume, first, served_by='node2')
        self.assertEqual({'node2'}, self.active_on(volume))
        self.assertEqual(digest, self._read(volume, 'node2'))

        third, info = self._hop(volume, second, 'compute3',
                                attach_by='node1', detach_by='node2')
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.assertEqual(self.host('node1'), info['drbd_clvm_node'])
        self.assertEqual({'node1'}, self.active_on(volume))

        # Back to node1, the iSCSI attachment's removal served by node2.
        fourth, info = self._hop(volume, third, 'node1', attach_by='node2',
                                 detach_by='node2')
        self.assertEqual({'node1'}, self.active_on(volume))
        self.assertEqual(digest, self._read(volume, 'node1'))
        volume.refresh()
        self.assertEqual('in-use', volume.status)

    def test_terminate_reports_remaining_attachments(self):
        volume = self._created()
        first, _ = self.attach(volume, 'node1', served_by='node1')
        second, _ = self.attach(volume, 'node2', served_by='node1')
        volume = objects.Volume.get_by_id(self.context, volume.id)
        driver_ = self.managers['node2'].driver
        self.assertTrue(driver_.terminate_connection(
            volume, CONNECTORS['node1']))
        with mock.patch.object(driver_, 'remove_export') as remove_export:
            self.detach(volume, second, served_by='node2')
        remove_export.assert_not_called()


class MultiattachTest(ActiveActiveTestCase):

    def test_any_mix_of_nodes_and_hosts(self):
        volume = self._created(multiattach=True)
        hosts = [('node1', 'node2'), ('node2', 'node1'),
                 ('compute3', 'node1'), ('compute4', 'node2')]
        attachments = [self.attach(volume, host, served_by=server)[0]
                       for host, server in hosts]
        self.assertEqual({'node1', 'node2'}, self.active_on(volume))
        # Detach one at a time, each by the other node: what remains keeps
        # its device until its own detach.
        order = [(attachments[0], 'node2', {'node1', 'node2'}),
                 (attachments[3], 'node1', {'node1', 'node2'}),
                 (attachments[1], 'node1', {'node1'}),
                 (attachments[2], 'node2', set())]
        for attachment, server, still_active in order:
            self.detach(volume, attachment, served_by=server)
            self.assertEqual(still_active, self.active_on(volume))


class DefectsTest(ActiveActiveTestCase):
    """Each a regression test for a defect found with two real managers."""

    def test_failed_create_can_be_deleted(self):
        volume = self._volume()
        self.cluster.disconnect_drbd()
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.managers['node1'].create_volume, self.context,
                          volume)
        self.cluster.reconnect_drbd()
        volume.refresh()
        self.assertEqual('error', volume.status)
        self.managers['node2'].delete_volume(self.context, volume)
        self.assertRaises(cinder_exception.VolumeNotFound,
                          objects.Volume.get_by_id, self.context, volume.id)

    def test_stats_while_refusing_changes(self):
        self._created()
        self.managers['node1'].driver.ops.vg.create('not-cinder', 4)
        stats = self.managers['node2'].driver.get_volume_stats(refresh=True)
        pool, = stats['pools']
        self.assertEqual(1, pool['total_volumes'])
        self.assertGreater(pool['free_capacity_gb'], 0)
        self.cluster.disconnect_drbd()
        stats = self.managers['node2'].driver.get_volume_stats(refresh=True)
        pool, = stats['pools']
        self.assertEqual('down', stats['backend_state'])
        self.assertEqual(0, pool['free_capacity_gb'])
        self.assertIn('not Connected', stats['backend_state_reason'])

    def test_restart_while_drbd_disconnected_keeps_volumes_in_use(self):
        volume = self._created()
        self.attach(volume, 'node1', served_by='node2')
        self.cluster.disconnect_drbd()
        self.managers['node1'].init_host(added_to_cluster=None,
                                         service_id=None)
        volume.refresh()
        self.assertEqual('in-use', volume.status)

    def test_extend_tells_the_target_node(self):
        volume = self._created()
        self.attach(volume, 'compute3', served_by='node1')
        target = self.managers['node1'].driver.target_driver
        with mock.patch.object(target, 'extend_target') as extend_target:
            self.managers['node2'].extend_volume(self.context, volume, 2,
                                                 reservations=[])
        extend_target.assert_called_once()
        self.assertEqual(volume.id, extend_target.call_args[0][0].id)

    def test_forced_detach_leaves_no_target_or_activation(self):
        # A forced detach has no connector: remove_export, served by the
        # other node, clears the exporting node's target and activation.
        volume = self._created()
        attachment, _ = self.attach(volume, 'compute3', served_by='node1')
        volume = objects.Volume.get_by_id(self.context, volume.id)
        self.assertFalse(self.managers['node2'].driver.terminate_connection(
            volume, None, force=True))
        volume.finish_detach(attachment.id)
        volume = objects.Volume.get_by_id(self.context, volume.id)
        target = self.managers['node1'].driver.target_driver
        with mock.patch.object(target, 'remove_export') as remove_export:
            self.managers['node2'].driver.remove_export(self.context, volume)
        self.assertEqual(volume.id, remove_export.call_args[0][1].id)
        self.assertEqual(set(), self.active_on(volume))

    def test_peer_down_is_a_clear_error(self):
        volume = self._created()
        self.managers['node1'].driver.peer_server.stop()
        attachment = objects.VolumeAttachment(
            context=self.context, volume_id=volume.id,
            instance_uuid=str(uuid.uuid4()), attach_status='reserved')
        attachment.create()
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            self.managers['node2'].attachment_update, self.context, volume,
            dict(CONNECTORS['node1']), attachment.id)
        self.assertIn('did not answer', str(error))
        self.assertEqual(set(), self.active_on(volume))

    def test_delete_while_peer_down_skips_it_after_the_probe(self):
        # node1's volume service is gone: the delete node2 serves asks
        # node1 whether it is there, then leaves it, without waiting a
        # whole step timeout for its unexport.
        volume = self._created()
        self.managers['node1'].driver.peer_server.stop()
        peers = self.managers['node2'].driver.any_node.peers
        with mock.patch.object(peers, 'call', wraps=peers.call) as call:
            self.managers['node2'].delete_volume(self.context, volume)
        self.assertEqual([mock.call('node1', 'answering', timeout=1)],
                         call.call_args_list)
        self.assertIsNone(self.lv(volume.name))
