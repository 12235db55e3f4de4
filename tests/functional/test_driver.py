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

"""The Cinder-facing driver alone: set-up checks, error mapping, manage,
exports and stats, on the simulator.  Drivers of the two nodes reach each
other through in-process peers here; tests/functional/test_manager.py runs
them over Cinder's message bus."""

import inspect
import os
import re
from unittest import mock
import uuid

from cinder import context
from cinder import exception as cinder_exception
from cinder.interface import util as interface_util
from cinder.interface import volume_driver
from cinder.interface import volume_manageable_driver
from cinder.interface import volume_snapshot_revert
from cinder.interface import volume_snapshotmanagement_driver
from cinder.tests.unit import fake_snapshot
from cinder.tests.unit import fake_volume
from cinder.tests.unit import test
from cinder.tests.unit import utils as test_utils
from cinder.volume import configuration
import fixtures
from oslo_context import context as oslo_context

from drbd_clvm_driver.cmd import health
from drbd_clvm_driver import driver
from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import opts
from drbd_clvm_driver import peer
from tests.sim import cluster as sim

OUTSIDE = {'host': 'compute3', 'initiator': 'iqn.1993-08.org.debian:compute3'}


class DriverTestCase(test.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=16 * 1024)
        self.context = context.get_admin_context()
        self.endpoints = {}
        self.driver = self._driver(self.cluster.nodes[0])
        self.other = self._driver(self.cluster.nodes[1])

    def _driver(self, node, **overrides):
        conf = configuration.Configuration(opts.drbd_clvm_opts,
                                           config_group='drbd')
        values = dict(volume_group=self.cluster.vg_name,
                      drbd_clvm_drbd_resource=self.cluster.drbd_resource,
                      target_helper='fake', volume_clear='none',
                      volume_backend_name='drbd',
                      drbd_clvm_lock_manager='lvmlockd')
        values.update(overrides)
        for name, value in values.items():
            self.override_config(name, value, group='backend_defaults')
        volume_driver = driver.DrbdClvmVolumeDriver(
            configuration=conf, runner=node.runner, host='%s@drbd' % node.name,
            peers=peer.InProcessPeers(self.endpoints))
        volume_driver.do_setup(self.context)
        self.endpoints.setdefault(node.name, peer.Endpoint(
            node.name, volume_driver.any_node.handlers()))
        return volume_driver

    def _volume(self, size=1, **kwargs):
        kwargs.setdefault('id', str(uuid.uuid4()))
        return fake_volume.fake_volume_obj(self.context, size=size, **kwargs)

    def _lvs(self):
        return {lv.name: lv for lv in lvm.ClusteredVG(
            self.cluster.nodes[1].runner, self.cluster.vg_name
        ).logical_volumes()}


class SetupTest(DriverTestCase):

    def test_the_lvm_shell_as_configured_and_never_with_clvmd(self):
        conf = configuration.Configuration(opts.drbd_clvm_opts,
                                           config_group='drbd')
        for lock_manager, option, expected in (
                ('lvmlockd', True, True), ('sanlock', True, True),
                ('lvmlockd', False, False), ('clvmd', True, False)):
            self.override_config('drbd_clvm_lock_manager', lock_manager,
                                 group='backend_defaults')
            self.override_config('drbd_clvm_lvm_shell', option,
                                 group='backend_defaults')
            runner = driver.privileged_runner(conf, 'node1')
            self.assertIs(expected, runner.lvm_shell, lock_manager)
            self.assertEqual('node1', runner.node)

    def test_healthy(self):
        self.driver.check_for_setup_error()

    def test_calls_over_the_bus_know_which_peers_left_the_cluster(self):
        self.useFixture(fixtures.MockPatch('cinder.rpc.get_client'))
        peers = self.driver._peer_client()
        self.assertFalse(peers.departed('node2'))
        self.cluster.fence(self.cluster.nodes[1])
        self.assertTrue(peers.departed('node2'))

    def test_missing_vg(self):
        broken = self._driver(self.cluster.nodes[0], volume_group='nope')
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            broken.check_for_setup_error)
        self.assertIn('Volume group nope not found', str(error))

    def test_wrong_lock_manager_for_vg(self):
        broken = self._driver(self.cluster.nodes[0],
                              drbd_clvm_lock_manager='clvmd')
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            broken.check_for_setup_error)
        self.assertIn('vgchange -cy', str(error))

    def test_unknown_lock_manager(self):
        error = self.assertRaises(exception.LockManagerNotFound,
                                  self._driver, self.cluster.nodes[0],
                                  drbd_clvm_lock_manager='sanlockd')
        self.assertIn('sanlockd', str(error))

    def test_lock_manager_down(self):
        self.cluster.stop_lvmlockd(self.cluster.nodes[0])
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            self.driver.check_for_setup_error)
        self.assertIn('lvmlockd is not running', str(error))

    def test_degraded_drbd_does_not_stop_start_up(self):
        self.cluster.disconnect_drbd()
        with mock.patch.object(driver.LOG, 'warning') as warning:
            self.driver.check_for_setup_error()
        self.assertIn('not Connected', warning.call_args[0][1])

    def _setup_warnings(self):
        with mock.patch.object(driver.LOG, 'warning') as warning:
            self.driver.check_for_setup_error()
        return [call[0][0] % call[0][1:] for call in warning.call_args_list]

    def test_file_coordination_warned_of(self):
        self.override_config('backend_url', 'file:///var/lib/cinder',
                             group='coordination')
        [text] = self._setup_warnings()
        self.assertIn('file:///var/lib/cinder', text)
        self.assertIn('do not cross nodes', text)

    def test_shared_coordination_not_warned_of(self):
        self.override_config('backend_url', 'etcd3+http://192.0.2.10:2379',
                             group='coordination')
        self.assertEqual([], self._setup_warnings())

    def test_half_made_lv_reported(self):
        self.driver.ops.vg.create('volume-crashed', 4,
                                  tags=['cinder-state:creating'])
        with mock.patch.object(driver.LOG, 'warning') as warning:
            self.driver.check_for_setup_error()
        self.assertIn('volume-crashed', warning.call_args[0][-1])


class VolumeTest(DriverTestCase):

    def test_create_and_delete(self):
        volume = self._volume()
        self.driver.create_volume(volume)
        lv = self._lvs()[volume.name]
        self.assertEqual(1024, lv.size_mib)
        self.assertEqual(('cinder-volume:%s' % volume.id,), lv.tags)
        self.driver.delete_volume(volume)
        self.assertNotIn(volume.name, self._lvs())

    def test_bad_sizes(self):
        # Cinder's Volume object already makes whole numbers of the rest.
        for size in (0, -1):
            self.assertRaises(cinder_exception.InvalidInput,
                              self.driver.create_volume,
                              self._volume(size=size))
        self.assertEqual({}, self._lvs())

    def test_too_big(self):
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            self.driver.create_volume, self._volume(size=17))
        self.assertIn('insufficient free space', str(error))
        self.assertEqual({}, self._lvs())

    def test_extend_to_smaller_refused(self):
        volume = self._volume(size=2)
        self.driver.create_volume(volume)
        self.assertRaises(cinder_exception.InvalidInput,
                          self.driver.extend_volume, volume, 1)
        self.assertEqual(2048, self._lvs()[volume.name].size_mib)

    def test_delete_of_volume_open_on_other_node_is_busy(self):
        volume = self._volume()
        self.driver.create_volume(volume)
        self.other.create_export(self.context, volume, OUTSIDE)
        self.cluster.nodes[1].open_lv(volume.name)
        self.assertRaises(cinder_exception.VolumeIsBusy,
                          self.driver.delete_volume, volume)
        self.assertIn(volume.name, self._lvs())

    def test_delete_after_failed_create(self):
        # Cinder removes the export first: nothing to release anywhere.
        volume = test_utils.create_volume(self.context, size=1)
        self.driver.remove_export(self.context, volume)
        self.driver.delete_volume(volume)

    def test_wipe_on_delete(self):
        wiping = self._driver(self.cluster.nodes[0], volume_clear='zero',
                              volume_clear_size=0)
        volume = self._volume()
        wiping.create_volume(volume)
        wiping.delete_volume(volume)
        zeroed = [argv for node, argv in self.cluster.commands
                  if argv[0] in ('dd', 'fallocate')]
        self.assertEqual([('fallocate', '--punch-hole', '--keep-size',
                           '--offset', '0', '--length', str(1024 ** 3),
                           '/dev/%s/%s' % (self.cluster.vg_name,
                                           volume.name))], zeroed)
        self.assertNotIn(volume.name, self._lvs())

    def test_wipe_on_delete_writing_the_zeros(self):
        wiping = self._driver(self.cluster.nodes[0], volume_clear='zero',
                              volume_clear_size=0,
                              drbd_clvm_zero_in_device=False)
        volume = self._volume()
        wiping.create_volume(volume)
        wiping.delete_volume(volume)
        zeroed = [argv for node, argv in self.cluster.commands
                  if argv[0] in ('dd', 'fallocate')]
        self.assertEqual(1, len(zeroed))
        self.assertIn('of=/dev/%s/%s' % (self.cluster.vg_name, volume.name),
                      zeroed[0])
        self.assertIn('count=1024', zeroed[0])

    def test_snapshot_revert(self):
        volume = self._volume()
        self.driver.create_volume(volume)
        snapshot = fake_snapshot.fake_snapshot_obj(
            self.context, volume_id=volume.id, volume_size=1)
        snapshot.volume = volume
        self.driver.create_snapshot(snapshot)
        self.driver.revert_to_snapshot(self.context, volume, snapshot)
        self.assertIn('_' + snapshot.name, self._lvs())
        self.driver.delete_snapshot(snapshot)
        self.assertNotIn('_' + snapshot.name, self._lvs())

    def test_snapshot_chunk_from_configuration(self):
        chunky = self._driver(self.cluster.nodes[0],
                              drbd_clvm_snapshot_chunk_kib=16)
        volume = self._volume()
        chunky.create_volume(volume)
        snapshot = fake_snapshot.fake_snapshot_obj(
            self.context, volume_id=volume.id, volume_size=1)
        snapshot.volume = volume
        chunky.create_snapshot(snapshot)
        self.assertEqual([('-c', '16k')], [
            argv[3:5] for _node, argv in self.cluster.commands
            if argv[:3] == ('lvcreate', '-y', '-s')])
        self.assertRaises(ValueError, self.override_config,
                          'drbd_clvm_snapshot_chunk_kib', 1024,
                          group='backend_defaults')


class ManageTest(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.driver.ops.vg.create('legacy-data', 2048)
        self.driver.ops.vg.create('odd-size', 1000)

    def test_manage_and_unmanage(self):
        volume = self._volume(size=2)
        ref = {'source-name': 'legacy-data'}
        self.assertEqual(2, self.driver.manage_existing_get_size(volume, ref))
        self.driver.manage_existing(volume, ref)
        lv = self._lvs()[volume.name]
        self.assertEqual(('cinder-volume:%s' % volume.id,), lv.tags)
        self.assertNotIn('legacy-data', self._lvs())
        self.driver.unmanage(volume)
        self.assertEqual((), self._lvs()[volume.name].tags)

    def test_odd_size_refused_with_advice(self):
        error = self.assertRaises(
            cinder_exception.ManageExistingInvalidReference,
            self.driver.manage_existing_get_size, self._volume(),
            {'source-name': 'odd-size'})
        self.assertIn('extend it to 1 GiB', str(error))

    def test_bad_references(self):
        for ref in ({}, {'source-name': 'missing'},
                    {'source-name': 'x; rm -rf /'}):
            self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                              self.driver.manage_existing_get_size,
                              self._volume(), ref)

    def test_manageable_list(self):
        volume = self._volume()
        self.driver.create_volume(volume)
        entries = self.driver.get_manageable_volumes(
            [volume], None, 10, 0, ['size'], ['asc'])
        by_name = {entry['reference']['source-name']: entry
                   for entry in entries}
        self.assertTrue(by_name['legacy-data']['safe_to_manage'])
        self.assertFalse(by_name[volume.name]['safe_to_manage'])
        self.assertEqual(volume.id, by_name[volume.name]['cinder_id'])
        # manage_existing would refuse it: not offered as safe.
        odd = by_name['odd-size']
        self.assertEqual((1, False), (odd['size'], odd['safe_to_manage']))
        self.assertIn('not a whole number of GiB', odd['reason_not_safe'])


class ExportTest(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.volume = self._volume()
        self.driver.create_volume(self.volume)

    def _active_on(self, node_index):
        return self.cluster.view(self.cluster.nodes[node_index]).lvs[
            self.volume.name].active.get(self.cluster.nodes[node_index].name)

    def test_outside_host_gets_iscsi_from_the_serving_node(self):
        self.volume.update(self.other.create_export(self.context, self.volume,
                                                    OUTSIDE))
        info = self.other.initialize_connection(self.volume, OUTSIDE)
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.assertEqual('node2', info['data']['drbd_clvm_node'])
        self.assertEqual('sy', self._active_on(1))
        self.assertIsNone(self._active_on(0))

    def test_cluster_node_gets_local_on_that_node(self):
        for host, index in (('node1', 0), ('NODE2', 1),
                            ('node2.cloud.example.org', 1)):
            connector = {'host': host}
            self.driver.create_export(self.context, self.volume, connector)
            info = self.driver.initialize_connection(self.volume, connector)
            self.assertEqual('local', info['driver_volume_type'])
            self.assertEqual(
                '/dev/%s/%s' % (self.cluster.vg_name, self.volume.name),
                info['data']['device_path'])
            self.assertEqual('node%d' % (index + 1),
                             info['data']['drbd_clvm_node'])
            self.assertEqual('sy', self._active_on(index))

    def test_identity_comes_from_configuration(self):
        with mock.patch('socket.gethostname', return_value='node1'):
            aliased = self._driver(
                self.cluster.nodes[0],
                drbd_clvm_cluster_node_aliases={'compute-a': 'node2'})
        info = aliased.initialize_connection(self.volume,
                                             {'host': 'compute-a'})
        self.assertEqual('node2', info['data']['drbd_clvm_node'])
        self.assertEqual('node1', aliased.any_node.names.local)

    def test_ensure_export_while_drbd_disconnected_keeps_the_volume(self):
        self.cluster.disconnect_drbd()
        volume = mock.Mock(volume_attachment=[mock.Mock(
            attach_status='attached', connector={'host': 'node1'},
            connection_info={'driver_volume_type': 'local',
                             'drbd_clvm_node': 'node1'})])
        volume.name = self.volume.name
        with mock.patch.object(driver.exports.LOG, 'warning') as warning:
            self.assertIsNone(self.driver.ensure_export(self.context, volume))
        self.assertIn('not Connected', str(warning.call_args))

    def _in_use_on_node1(self, volume):
        attachment = mock.Mock(
            attach_status='attached', connector={'host': 'node1'},
            connection_info={'driver_volume_type': 'local',
                             'drbd_clvm_node': 'node1'})
        in_use = mock.Mock(volume_attachment=[attachment])
        in_use.name = volume.name
        self.driver.create_export(self.context, volume, {'host': 'node1'})
        return in_use

    def _restarted_node1(self):
        """node1's driver as its volume service starts again, up to the
        ensure_export calls.
        """
        restarted = self._driver(self.cluster.nodes[0])
        restarted.check_for_setup_error()
        return restarted

    def _grown_by_node2_while_node1_is_down(self, volume):
        """Both nodes use ``volume``; node2 grows it while node1's service
        cannot be asked to refresh its device.
        """
        self.driver.ops.release(volume.name)
        for node_driver in (self.driver, self.other):
            node_driver.ops.use(volume.name)
        del self.endpoints['node1']
        self.other.extend_volume(volume, 2)

    def _commands_since(self, mark):
        return [argv for node, argv in self.cluster.commands[mark:]
                if node == 'node1']

    def test_start_up_refreshes_what_grew_and_reads_no_lv_alone(self):
        others = [self._volume() for _ in range(2)]
        for volume in others:
            self.driver.create_volume(volume)
        in_use = [self._in_use_on_node1(volume)
                  for volume in [self.volume] + others]
        self._grown_by_node2_while_node1_is_down(others[0])
        mark = len(self.cluster.commands)
        restarted = self._restarted_node1()
        for volume in in_use:
            restarted.ensure_export(self.context, volume)
        ran = self._commands_since(mark)
        self.assertEqual(
            [('lvchange', '--refresh',
              '%s/%s' % (self.cluster.vg_name, others[0].name))],
            [argv for argv in ran if '--refresh' in argv])
        self.assertEqual(1, ran.count(('dmsetup', 'table')))
        # no LV read alone: the start-up's listing said each is active here
        self.assertEqual([], [argv for argv in ran if argv[0] == 'lvs'
                              and '/' in argv[-1]])
        mark = len(self.cluster.commands)
        restarted.set_initialized()
        restarted.ensure_export(self.context, in_use[0])
        self.assertIn(('lvs', '%s/%s' % (self.cluster.vg_name,
                                         self.volume.name)),
                      [(argv[0], argv[-1])
                       for argv in self._commands_since(mark)])

    def test_a_change_at_start_up_makes_each_use_read_again(self):
        in_use = self._in_use_on_node1(self.volume)
        restarted = self._restarted_node1()
        # A peer call, answered while node1 still starts: the volume's
        # instance left node1.
        restarted.ops.release(self.volume.name)
        self.assertIsNone(self._active_on(0))
        restarted.ensure_export(self.context, in_use)
        self.assertEqual('sy', self._active_on(0))

    def test_start_up_without_device_sizes_refreshes_every_volume(self):
        self._in_use_on_node1(self.volume)
        with mock.patch.object(
                self.driver.ops.vg, 'device_sizes',
                side_effect=exception.CommandFailed(
                    ['dmsetup', 'table'], 1, '', 'no dm')), \
                mock.patch.object(driver.operations.LOG,
                                  'warning') as warning:
            self.assertEqual([self.volume.name],
                             self.driver.ops.refresh_active())
        self.assertIn('refreshing every active volume',
                      warning.call_args[0][0])

    def test_start_up_refresh_that_fails_names_the_volume(self):
        other = self._volume()
        self.driver.create_volume(other)
        for volume in (self.volume, other):
            self._in_use_on_node1(volume)
            self._grown_by_node2_while_node1_is_down(volume)
            self.endpoints['node1'] = peer.Endpoint(
                'node1', self.driver.any_node.handlers())
        refresh = self.driver.ops.vg.refresh

        def refresh_but_other(*names):
            if other.name in names:
                raise exception.DrbdClvmError('Failed to find %s' % other.name)
            refresh(*names)

        with mock.patch.object(self.driver.ops.vg, 'refresh',
                               side_effect=refresh_but_other), \
                mock.patch.object(driver.operations.LOG, 'error') as error:
            self.assertEqual([self.volume.name],
                             self.driver.ops.refresh_active())
        self.assertEqual(other.name, error.call_args[0][1])

    def test_validate_connector(self):
        self.assertTrue(self.driver.validate_connector({'host': 'node2'}))
        self.assertRaises(cinder_exception.InvalidConnectorException,
                          self.driver.validate_connector, {'host': 'x'})


class SnapshotManageTest(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.volume = self._volume()
        self.driver.create_volume(self.volume)
        self.driver.ops.vg.create_snapshot('old-backup', self.volume.name,
                                           1024, 4)

    def _snapshot(self):
        snapshot = fake_snapshot.fake_snapshot_obj(
            self.context, volume_id=self.volume.id, volume_size=1)
        snapshot.volume = self.volume
        return snapshot

    def test_manage_and_unmanage(self):
        snapshot = self._snapshot()
        ref = {'source-name': 'old-backup'}
        entries = self.other.get_manageable_snapshots([], None, 10, 0,
                                                      ['size'], ['asc'])
        entry, = entries
        self.assertTrue(entry['safe_to_manage'])
        self.assertEqual({'source-name': self.volume.name},
                         entry['source_reference'])
        self.assertEqual(
            1, self.other.manage_existing_snapshot_get_size(snapshot, ref))
        self.other.manage_existing_snapshot(snapshot, ref)
        lv = self._lvs()['_' + snapshot.name]
        self.assertEqual(('cinder-snapshot:%s' % snapshot.id,), lv.tags)
        entry, = self.other.get_manageable_snapshots(
            [snapshot], None, 10, 0, ['size'], ['asc'])
        self.assertFalse(entry['safe_to_manage'])
        self.assertEqual(snapshot.id, entry['cinder_id'])
        self.driver.unmanage_snapshot(snapshot)
        self.assertEqual((), self._lvs()['_' + snapshot.name].tags)

    def test_snapshot_of_another_volume_refused(self):
        other_volume = self._volume()
        self.driver.create_volume(other_volume)
        snapshot = self._snapshot()
        snapshot.volume = other_volume
        snapshot.volume_id = other_volume.id
        self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                          self.driver.manage_existing_snapshot, snapshot,
                          {'source-name': 'old-backup'})
        self.assertIn('old-backup', self._lvs())


class PeerCallContextTest(test.TestCase):
    """A peer call carries the served request's global id, so that the
    answering node's log names the request.
    """

    def test_the_requests_global_id(self):
        context.RequestContext('user', 'project',
                               global_request_id='req-%s' % uuid.uuid4())
        served = context.RequestContext(
            'user', 'project', global_request_id='req-%s' % uuid.uuid4())
        called = driver.peer_call_context()
        self.assertEqual(served.global_request_id, called.global_request_id)
        self.assertNotEqual(served.request_id, called.request_id)
        self.assertTrue(called.is_admin)

    def test_a_request_without_one_lends_its_own_id(self):
        served = context.RequestContext('user', 'project')
        self.assertEqual(served.request_id,
                         driver.peer_call_context().global_request_id)

    def test_the_served_context_stays_current(self):
        served = context.RequestContext('user', 'project')
        driver.peer_call_context()
        self.assertIs(served, oslo_context.get_current())


class InterfaceTest(test.TestCase):
    """Cinder's compliance check compares with ``inspect.ismethod``, which
    is always false for functions on Python 3; check presence here.
    """

    INTERFACES = (volume_driver.VolumeDriverCore,
                  volume_manageable_driver.VolumeListManageableDriver,
                  volume_snapshot_revert.VolumeSnapshotRevertDriver,
                  volume_snapshotmanagement_driver.
                  VolumeSnapshotManagementDriver)
    #: what backups of snapshots need, outside the interfaces
    SNAPSHOT_EXPORT = ('create_export_snapshot', 'remove_export_snapshot',
                       'initialize_connection_snapshot',
                       'terminate_connection_snapshot')

    def test_every_interface_method_is_implemented(self):
        names = list(self.SNAPSHOT_EXPORT)
        for interface_class in self.INTERFACES:
            names += [name for name, _ in inspect.getmembers(
                interface_class, inspect.isfunction)]
        missing = []
        for name in names:
            method = getattr(driver.DrbdClvmVolumeDriver, name, None)
            if isinstance(method, property):
                continue
            if method is None or 'raise NotImplementedError' in \
                    inspect.getsource(method):
                missing.append(name)
        self.assertEqual([], missing)


class OptionsTest(test.TestCase):
    """The driver's options as Cinder lists and reads them."""

    def test_get_driver_options_lists_every_option(self):
        names = [option.name for option in driver.get_driver_options()]
        self.assertEqual([option.name for option in opts.drbd_clvm_opts],
                         names)
        # Cinder asks the class (cinder-manage, the driver listing).
        self.assertEqual(names, [
            option.name for option in interface_util.DriverInfo(
                driver.DrbdClvmVolumeDriver).driver_options])
        self.assertEqual(names, [option.name for option in
                                 dict(opts.list_opts())['drbd']])
        for module in (driver, health):
            with open(module.__file__) as handle:
                read = set(re.findall(
                    r'(?:conf|configuration)\.(drbd_clvm_\w+)',
                    handle.read()))
            self.assertNotEqual(set(), read)
            self.assertLessEqual(read, set(names), module.__name__)

    def test_old_names_in_cinder_conf_set_the_new_options(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'cinder.conf')
        with open(path, 'w') as handle:
            handle.write('[backend_defaults]\nlock_manager = sanlock\n'
                         '[drbd]\ndrbd_resource = r7\n'
                         'cluster_node_name = alpha\n'
                         'cluster_peer_nodes = beta,gamma\n')
        self.addCleanup(configuration.CONF, [], default_config_files=[])
        configuration.CONF(['--config-file', path], default_config_files=[])
        conf = configuration.Configuration(driver.get_driver_options(),
                                           config_group='drbd')
        self.assertEqual('sanlock', conf.drbd_clvm_lock_manager)
        self.assertEqual('r7', conf.drbd_clvm_drbd_resource)
        self.assertEqual('alpha', conf.drbd_clvm_cluster_node_name)
        self.assertEqual(['beta', 'gamma'],
                         conf.drbd_clvm_cluster_peer_nodes)
