"""The Cinder-facing driver alone: set-up checks, error mapping, manage,
exports and stats, on the simulator."""

from unittest import mock

from cinder import context
from cinder import exception as cinder_exception
from cinder.tests.unit import fake_snapshot
from cinder.tests.unit import fake_volume
from cinder.tests.unit import test
from cinder.volume import configuration

from drbd_clvm_driver import driver
from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import opts
from tests.sim import cluster as sim


class DriverTestCase(test.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=16 * 1024)
        self.context = context.get_admin_context()
        self.driver = self._driver(self.cluster.nodes[0])

    def _driver(self, node, **overrides):
        conf = configuration.Configuration(opts.drbd_clvm_opts,
                                           config_group='drbd')
        values = dict(volume_group=self.cluster.vg_name,
                      drbd_resource=self.cluster.drbd_resource,
                      target_helper='fake', volume_clear='none',
                      volume_backend_name='drbd', lock_manager='lvmlockd')
        values.update(overrides)
        for name, value in values.items():
            self.override_config(name, value, group='backend_defaults')
        volume_driver = driver.DrbdClvmVolumeDriver(
            configuration=conf, runner=node.runner)
        volume_driver.do_setup(self.context)
        return volume_driver

    def _volume(self, size=1, **kwargs):
        return fake_volume.fake_volume_obj(self.context, size=size, **kwargs)

    def _lvs(self):
        return {lv.name: lv for lv in lvm.ClusteredVG(
            self.cluster.nodes[1].runner, self.cluster.vg_name
        ).logical_volumes()}


class SetupTest(DriverTestCase):

    def test_healthy(self):
        self.driver.check_for_setup_error()

    def test_missing_vg(self):
        broken = self._driver(self.cluster.nodes[0], volume_group='nope')
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            broken.check_for_setup_error)
        self.assertIn('Volume group nope not found', str(error))

    def test_wrong_lock_manager_for_vg(self):
        broken = self._driver(self.cluster.nodes[0], lock_manager='clvmd')
        error = self.assertRaises(
            cinder_exception.VolumeBackendAPIException,
            broken.check_for_setup_error)
        self.assertIn('vgchange -cy', str(error))

    def test_unknown_lock_manager(self):
        error = self.assertRaises(exception.LockManagerNotFound,
                                  self._driver, self.cluster.nodes[0],
                                  lock_manager='sanlockd')
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

    def test_delete_of_volume_held_by_other_node_is_busy(self):
        volume = self._volume()
        other = self._driver(self.cluster.nodes[1])
        self.driver.create_volume(volume)
        other.create_export(self.context, volume, {})
        self.assertRaises(cinder_exception.VolumeIsBusy,
                          self.driver.delete_volume, volume)
        self.assertIn(volume.name, self._lvs())

    def test_wipe_on_delete(self):
        wiping = self._driver(self.cluster.nodes[0], volume_clear='zero',
                              volume_clear_size=0)
        volume = self._volume()
        wiping.create_volume(volume)
        wiping.delete_volume(volume)
        dd = [argv for node, argv in self.cluster.commands
              if argv[0] == 'dd']
        self.assertEqual(1, len(dd))
        self.assertIn('of=/dev/%s/%s' % (self.cluster.vg_name, volume.name),
                      dd[0])
        self.assertIn('count=1024', dd[0])

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


class ExportTest(DriverTestCase):

    def test_export_activates_exclusively_here(self):
        volume = self._volume()
        self.driver.create_volume(volume)
        self.driver.create_export(self.context, volume, {})
        lv = self.driver.ops.vg.logical_volume(volume.name)
        self.assertTrue(lv.active_locally and lv.active_exclusively)
        other = self._driver(self.cluster.nodes[1])
        self.assertRaises(cinder_exception.VolumeIsBusy,
                          other.create_export, self.context, volume, {})
        # ensure_export on the node not serving it is not an error.
        self.assertIsNone(other.ensure_export(self.context, volume))
        self.driver.remove_export(self.context, volume)
        other.create_export(self.context, volume, {})

    def test_local_connection_on_same_host(self):
        volume = self._volume()
        info = self.driver.initialize_connection(
            volume, {'host': self.driver.hostname})
        self.assertEqual('local', info['driver_volume_type'])
        self.assertEqual('/dev/%s/%s' % (self.cluster.vg_name, volume.name),
                         info['data']['device_path'])
