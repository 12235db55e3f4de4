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

"""Replication plugins: DRBD's confirmation and a shared LUN's checks."""

import dataclasses
import os

import fixtures
import testtools

from drbd_clvm_driver import cluster
from drbd_clvm_driver import exception
from drbd_clvm_driver import fence_state
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import native
from drbd_clvm_driver.replication import base
from drbd_clvm_driver.replication import drbd as replication_drbd
from drbd_clvm_driver.replication import shared_lun
from drbd_clvm_driver import runner
from tests.unit import recorded
from tests.unit import test_cluster


class SysfsRunner(runner.CommandRunner):
    """Answers a shared LUN's readings as a node would: ``readlink -f`` by
    ``links`` (stable path -> device node), ``ls`` and ``cat`` under
    /sys/class/block from a directory laid out as the kernel's; records
    every command asked for.
    """

    def __init__(self, root):
        super().__init__()
        self.root = root
        self.links = {}
        self.asked = []

    def _execute(self, argv, timeout):
        self.asked.append(argv)
        if argv[0] == 'readlink':
            if argv[2] in self.links:
                return 0, self.links[argv[2]] + '\n', ''
            return 1, '', ''
        if argv[0] not in ('cat', 'ls'):
            return 0, '', ''
        path = os.path.join(self.root,
                            argv[1][len(shared_lun.SYS_BLOCK) + 1:])
        if argv[0] == 'ls':
            return native.list_directory(path)
        try:
            with open(path) as sysfs_file:
                return 0, sysfs_file.read(), ''
        except OSError as error:
            return 1, '', 'cat: %s: %s\n' % (argv[1], error.strerror)


class SharedLunTest(testtools.TestCase):

    TARGET = '/dev/disk/by-id/wwn-0x6001405abc'

    def setUp(self):
        super().setUp()
        self.sys_block = self.useFixture(fixtures.TempDir()).path
        self.runner = SysfsRunner(self.sys_block)

    def _disk(self, name, state='running', slaves=(), suspended=None):
        directory = os.path.join(self.sys_block, name)
        os.makedirs(os.path.join(directory, 'slaves'))
        self._write(os.path.join(directory, 'dev'), '253:3\n')
        if state is not None:
            self._write(os.path.join(directory, 'device', 'state'),
                        state + '\n')
        if suspended is not None:
            self._write(os.path.join(directory, 'dm', 'suspended'),
                        '%d\n' % suspended)
        for slave in slaves:
            os.symlink(os.path.join(self.sys_block, slave),
                       os.path.join(directory, 'slaves', slave))

    @staticmethod
    def _write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as sysfs_file:
            sysfs_file.write(text)

    def _lun(self, kernel_name):
        # udev links /dev/disk/by-id/NAME to ../../KERNEL_NAME
        self.runner.links[self.TARGET] = '/dev/' + kernel_name
        return shared_lun.SharedLun(self.runner, self.TARGET)

    def _state(self, lun):
        return lun.state_from(self.runner.read(lun.readings(True)), True)

    def test_scsi_disk_running(self):
        self._disk('sdb')
        lun = self._lun('sdb')
        state = self._state(lun)
        self.assertEqual([], lun.reasons(state))
        self.assertEqual((('sdb', 'running'),), state.paths)
        self.assertEqual([('cat', '/sys/class/block/sdb/dev'),
                          ('cat', '/sys/class/block/sdb/device/state')],
                         lun.readings(True))

    def test_scsi_disk_offline_refused(self):
        self._disk('sdb', state='transport-offline')
        lun = self._lun('sdb')
        self.assertEqual(
            ['no path to the shared LUN %s is running: %s (sdb), paths sdb '
             'transport-offline' % (lun.target, lun.target)],
            lun.reasons(self._state(lun)))

    def test_multipath_with_one_path_left_passes(self):
        self._disk('sdb', state='running')
        self._disk('sdc', state='blocked')
        self._disk('dm-3', state=None, slaves=('sdb', 'sdc'), suspended=0)
        lun = self._lun('dm-3')
        state = self._state(lun)
        self.assertEqual([], lun.reasons(state))
        self.assertEqual((('sdb', 'running'), ('sdc', 'blocked')),
                         state.paths)

    def test_multipath_without_a_path_refused(self):
        self._disk('sdb', state='transport-offline')
        self._disk('sdc', state='blocked')
        self._disk('dm-3', state=None, slaves=('sdb', 'sdc'), suspended=0)
        lun = self._lun('dm-3')
        reasons = lun.reasons(self._state(lun))
        self.assertEqual(1, len(reasons))
        self.assertIn('sdb transport-offline, sdc blocked', reasons[0])

    def test_suspended_map_refused(self):
        self._disk('sdb')
        self._disk('dm-3', state=None, slaves=('sdb',), suspended=1)
        lun = self._lun('dm-3')
        self.assertEqual(['the shared LUN %s (dm-3) is suspended'
                          % lun.target], lun.reasons(self._state(lun)))

    def test_absent_device_refused(self):
        # udev removed the link with the disk
        lun = shared_lun.SharedLun(self.runner, self.TARGET)
        state = self._state(lun)
        self.assertFalse(state.present)
        self.assertEqual(['the shared LUN %s is not present on this node'
                          % lun.target], lun.reasons(state))

    def test_disk_without_a_state_file_counts_as_present(self):
        # virtio-blk has no device/state
        self._disk('vdb', state=None)
        lun = self._lun('vdb')
        self.assertEqual([], lun.reasons(self._state(lun)))

    def test_state_crosses_the_daemon_as_plain_values(self):
        self._disk('sdb')
        self._disk('dm-3', state=None, slaves=('sdb',), suspended=0)
        lun = self._lun('dm-3')
        state = self._state(lun)
        self.assertEqual(state, lun.state_from_plain(
            dataclasses.asdict(state)))

    def test_the_daemon_takes_its_readings(self):
        self._disk('sdb')
        self._disk('dm-3', state=None, slaves=('sdb',), suspended=0)
        for argv in self._lun('dm-3').readings(True) + self.runner.asked:
            checks.check('cluster_state', list(argv))
        for argv in (['cat', '/sys/class/block/sdb/device/delete'],
                     ['cat', '/sys/class/block/sdb/../sda/dev'],
                     ['cat', '/sys/class/block/SDB/dev']):
            self.assertRaises(exception.CommandRefused, checks.check,
                              'cluster_state', argv)

    def test_nothing_to_confirm_after_a_change(self):
        self._disk('sdb')
        lun = self._lun('sdb')
        gate = cluster.SafetyGate(lun, None,
                                  test_cluster.FixedLockManager())
        with gate.guarding("create('v', 4)"):
            gate.runner.run(['lvcreate', '-n', 'v'])
        # where the path points, the disks under it, the check's two
        # readings and the command; no reading after
        self.assertEqual([('readlink', '-f', self.TARGET),
                          ('ls', '/sys/class/block/sdb/slaves'),
                          ('cat', '/sys/class/block/sdb/dev'),
                          ('cat', '/sys/class/block/sdb/device/state'),
                          ('lvcreate', '-n', 'v')], gate.runner.asked)

    def test_refused_change_runs_nothing(self):
        self._disk('sdb', state='offline')
        lun = self._lun('sdb')
        gate = cluster.SafetyGate(lun, None,
                                  test_cluster.FixedLockManager())
        error = self.assertRaises(exception.ClusterUnsafe,
                                  test_cluster.change, gate)
        self.assertIn('is running: ', str(error))
        self.assertNotIn(('lvcreate', '-n', 'v'), gate.runner.asked)


_LUN = 'gate-shared-lun/'
#: what node1 and node3 of the three-node lab printed for the readings
NODE1 = ('node1-01-readlink_f_dev_disk_by_id_scsi_0QEMU_QEMU_HARDDISK_'
         'drbdclvml.txt', 'node1-02-ls_sys_class_block_sda_slaves.txt',
         'node1-03-cat_sys_class_block_sda_dev.txt',
         'node1-04-cat_sys_class_block_sda_device_state.txt')
NODE3_OFFLINE = 'node3-23-cat_sys_class_block_sda_device_state.txt'


class RecordedSharedLunTest(testtools.TestCase):
    """The plugin over what the lab's nodes printed (a SCSI disk shared
    by three qemu guests).
    """

    DEVICE = '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drbdclvmlun'

    def _lun(self, *files):
        replay = recorded.ReplayRunner(
            *(recorded.load(_LUN + name) for name in files))
        return shared_lun.SharedLun(replay, self.DEVICE)

    def test_every_node_sees_the_disk_running(self):
        lun = self._lun(*NODE1)
        state = lun.state()
        self.assertEqual(('sda', True, (('sda', 'running'),)),
                         (state.kernel_name, state.present, state.paths))
        self.assertEqual([], lun.reasons(state))

    def test_path_offline_is_refused(self):
        lun = self._lun(*NODE1[:3])
        lun.runner.serve(('cat', '/sys/class/block/sda/device/state'),
                         recorded.load(_LUN + NODE3_OFFLINE))
        self.assertEqual(
            ['no path to the shared LUN %s is running: %s (sda), paths sda '
             'offline' % (self.DEVICE, self.DEVICE)],
            lun.reasons(lun.state()))

    def test_three_nodes_are_quorate(self):
        state = cluster.parse_quorumtool(recorded.load(
            _LUN + 'node3-19-corosync_quorumtool_s.txt').output)
        self.assertEqual((True, 3), (state.quorate, state.nodes))

    def test_daemon_answers_as_the_programs_print(self):
        # Through the privileged daemon these are read, not run: the
        # answers must be what the lab's readlink and ls printed.
        directory = self.useFixture(fixtures.TempDir()).path
        os.mkdir(os.path.join(directory, 'slaves'))
        ls = recorded.load(_LUN + NODE1[1])
        self.assertEqual((ls.exit_code, ls.output, ''),
                         native.list_directory(
                             os.path.join(directory, 'slaves')))
        os.symlink('/dev/null', os.path.join(directory, 'lun'))
        readlink = recorded.load(_LUN + NODE1[0])
        self.assertEqual(
            (readlink.exit_code, readlink.output.replace('/dev/sda',
                                                         '/dev/null'), ''),
            native.resolve(os.path.join(directory, 'lun')))


class NoQuorumLockManager(test_cluster.FixedLockManager):
    needs_quorum = False
    vg_name = 'vgc'


class BuildGateTest(testtools.TestCase):

    def test_drbd_with_dlm_asks_corosync(self):
        gate = cluster.build_gate(test_cluster.NoReadings(), 'vgc', 'r0')
        self.assertEqual('drbd', gate.replication.name)
        self.assertIsNotNone(gate.quorum)
        self.assertEqual({'vg_name': 'vgc', 'replication': 'drbd',
                          'target': 'r0', 'lock_manager': 'lvmlockd',
                          'timeout': 10}, gate.spec())

    def test_shared_lun_asks_corosync_when_the_lock_manager_needs_it(self):
        gate = cluster.build_gate(test_cluster.NoReadings(), 'vgc',
                                  '/dev/mapper/mpatha',
                                  replication='shared_lun')
        self.assertEqual('shared_lun', gate.replication.name)
        self.assertIsNotNone(gate.quorum)
        # the daemon builds the same gate from its description
        self.assertEqual(gate.spec(), checks.check_gate_spec(gate.spec()))

    def test_shared_lun_without_corosync(self):
        self.useFixture(fixtures.MockPatchObject(
            locking_base, 'load',
            lambda *args, **kwargs: NoQuorumLockManager()))
        gate = cluster.build_gate(test_cluster.NoReadings(), 'vgc',
                                  '/dev/mapper/mpatha',
                                  replication='shared_lun')
        self.assertIsNone(gate.quorum)
        self.assertEqual([], gate._quorum_reasons(runner.Readings()))

    def test_unknown_plugin(self):
        error = self.assertRaises(
            exception.ReplicationNotFound, cluster.build_gate,
            test_cluster.NoReadings(), 'vgc', 'r0', replication='ceph')
        self.assertIn('"drbd" and "shared_lun"', str(error))


class ConfiguredTargetTest(testtools.TestCase):

    @staticmethod
    def _conf(**values):
        return type('Conf', (), dict(
            {'drbd_clvm_replication': 'drbd',
             'drbd_clvm_drbd_resource': 'r0',
             'drbd_clvm_shared_lun_device': None}, **values))()

    def test_each_plugin_reads_its_own_option(self):
        self.assertEqual('r0', base.configured_target(self._conf()))
        self.assertEqual('/dev/mapper/mpatha', base.configured_target(
            self._conf(drbd_clvm_replication='shared_lun',
                       drbd_clvm_shared_lun_device='/dev/mapper/mpatha')))

    def test_missing_device_is_a_clear_error(self):
        error = self.assertRaises(
            exception.InvalidInput, base.configured_target,
            self._conf(drbd_clvm_replication='shared_lun'))
        self.assertIn('drbd_clvm_replication = shared_lun needs '
                      'drbd_clvm_shared_lun_device', str(error))

    def test_unknown_plugin(self):
        self.assertRaises(exception.ReplicationNotFound,
                          base.configured_target,
                          self._conf(drbd_clvm_replication='nosuch'))


class DrbdNodeRunner(runner.CommandRunner):
    """Answers the DRBD plugin's readings from a recorded /proc/drbd and
    the fence program's record (absent where None).
    """

    def __init__(self, proc_drbd, fence_record=None):
        super().__init__()
        self.proc_drbd = recorded.load(proc_drbd).output
        self.fence_record = fence_record

    def _execute(self, argv, timeout):
        argv = list(argv)
        if argv == ['drbdadm', 'sh-minor', 'r0']:
            return 0, '0\n', ''
        if argv == ['cat', '/proc/drbd']:
            return 0, self.proc_drbd, ''
        if argv == ['cat', fence_state.FAILING_FILE] and self.fence_record:
            return 0, self.fence_record, ''
        return 1, '', 'cat: %s: No such file or directory\n' % argv[1]


class FenceFailingTest(testtools.TestCase):
    """While the fence of the peer fails, the refusal says so and how to
    get out; a record left from an earlier failure changes nothing.
    """

    RECORD = fence_state.FenceFailure(
        'node2', 1764840000.0, 'fence_ipmilan failed to fence node2 (exit '
        '1): Unable to connect', 10).to_text()

    def _reasons(self, proc_drbd, record):
        plugin = replication_drbd.DrbdReplication(
            DrbdNodeRunner(proc_drbd, record), 'r0')
        state = plugin.state()
        # as the privileged daemon hands it over
        return plugin.reasons(plugin.state_from_plain(
            dataclasses.asdict(state)))

    def test_failed_fence_is_named_with_the_way_out(self):
        [connection, *_] = self._reasons(test_cluster.UNKNOWN_PEER,
                                         self.RECORD)
        self.assertEqual(
            'DRBD r0 is WFConnection, not Connected: the fence of node2 has '
            'failed since 2025-12-04 09:20:00 UTC (fence_ipmilan failed to '
            'fence node2 (exit 1): Unable to connect); nothing is written '
            'until a fence succeeds. Repair the fence device '
            '(drbd-clvm-fence tries again every 10 s), or, once you have '
            'made sure node2 is powered off, run "drbd-clvm-fence confirm '
            'node2" on this node', connection)

    def test_without_a_record_the_peer_is_unknown(self):
        reasons = self._reasons(test_cluster.UNKNOWN_PEER, None)
        self.assertIn('not confirmed fenced (disk DUnknown)', reasons[0])

    def test_unreadable_record_still_refuses(self):
        reasons = self._reasons(test_cluster.UNKNOWN_PEER, '{"node": ')
        self.assertIn('unreadable (%s)' % fence_state.FAILING_FILE,
                      reasons[0])

    def test_old_record_is_ignored_once_the_peer_is_fenced_or_back(self):
        for proc_drbd in (test_cluster.FENCED_SURVIVOR,
                          'node1-01-cat_proc_drbd.txt'):
            self.assertEqual([], self._reasons(proc_drbd, self.RECORD))

    def test_confirmation_reads_no_fence_record(self):
        plugin = replication_drbd.DrbdReplication(
            DrbdNodeRunner(test_cluster.UNKNOWN_PEER), 'r0')
        self.assertIn(('cat', fence_state.FAILING_FILE),
                      plugin.readings(False))
        self.assertNotIn(('cat', fence_state.FAILING_FILE),
                         plugin.confirm_readings())
