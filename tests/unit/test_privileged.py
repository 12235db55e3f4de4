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

"""The privileged daemon's entry points: what they let through, what they
refuse (inside the daemon, whatever the caller checked), and how they
answer readings without starting programs.

The entry points run here in-process (oslo.privsep's client mode off): the
same functions the daemon runs, without root.
"""

import os
import subprocess
import sys
from unittest import mock

import fixtures
import testtools

from drbd_clvm_driver import cluster
from drbd_clvm_driver import data
from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import clvmd
from drbd_clvm_driver.locking import lvmlockd
from drbd_clvm_driver.locking import sanlock
from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes
from drbd_clvm_driver import privileged
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import gatekeeper
from drbd_clvm_driver.privileged import held
from drbd_clvm_driver.privileged import lvm_shell
from drbd_clvm_driver.privileged import native
from drbd_clvm_driver.privileged import programs
from drbd_clvm_driver.privileged import root
from drbd_clvm_driver import runner
from drbd_clvm_driver import stack
from tests.unit import recorded


class InDaemon(fixtures.Fixture):
    """Entry points called directly, as the daemon calls them."""

    def _setUp(self):
        privileged.default.set_client_mode(False)
        self.addCleanup(privileged.default.set_client_mode, True)


class Capture(runner.CommandRunner):
    """Records each argv the driver's layers would send to the daemon."""

    def __init__(self):
        super().__init__(default_timeout=30)
        self.seen = []
        #: programs that fail (exit 1) when run
        self.failing = set()

    def _execute(self, argv, timeout):
        self.seen.append(list(argv))
        if argv[0] in self.failing:
            return 1, '', ''
        if argv == ('cat', '/proc/drbd'):
            return 0, recorded.load('node1-01-cat_proc_drbd.txt').output, ''
        if argv[0] == 'cat':
            return 0, recorded.load(
                'gate-readings/node1-02-cat_sys_kernel_debug_drbd_minors_0_'
                'data_gen_id.txt').output, ''
        if argv[:2] == ('drbdadm', 'sh-minor'):
            return 0, '0\n', ''
        return 0, ('{"report": [{"lv": [], "vg": [], "pv": [{"pv_name": '
                   '"/dev/drbd0", "vg_name": "cinder-volumes"}]}]}'), ''


class DriverCommandsPassTest(testtools.TestCase):

    def test_every_command_the_driver_runs_has_a_shape(self):
        capture = Capture()
        vg = lvm.ClusteredVG(capture, 'cinder-volumes')
        vg.create('volume-1', 1024, tags=['cinder-volume:1'])
        vg.create('volume-2', 8, activation=lvm.Activation.EXCLUSIVE)
        vg.create_snapshot('_snapshot-1', 'volume-1', 1024, 4,
                           tags=['cinder-snapshot:1'])
        vg.create_snapshot('_clone-2', 'volume-1', 1024, chunk_kib=512)
        vg.extend('volume-1', 2048)
        vg.extend('volume-1', 4096, shared=True)
        vg.refresh('volume-1')
        vg.refresh('volume-1', 'volume-2')
        vg.device_sizes(['volume-1'])
        for mode in (lvm.Activation.EXCLUSIVE, lvm.Activation.SHARED,
                     lvm.Activation.INACTIVE):
            vg.activate('volume-1', mode)
        vg.change_tags('volume-1', add=['a:b'],
                       delete=['cinder-state:creating'])
        vg.merge_snapshot('_snapshot-1')
        vg.rename('a', 'b')
        vg.remove('volume-1')
        vg.remove_plain('volume-1')
        vg.logical_volumes()
        capture.run(['lvs', '--reportformat', 'json', '--units', 'b', '-o',
                     lvm._LV_FIELDS, 'cinder-volumes/volume-1'])
        # (no VG in this capture's answers: both vgs forms are sent)
        self.assertRaises(exception.VolumeGroupNotFound,
                          vg.volume_group_and_tags)
        data.copy(capture, '/dev/cinder-volumes/a', '/dev/cinder-volumes/b',
                  1024, 60, target_mib=2048)
        capture.failing.add('fallocate')
        data.copy(capture, '/dev/cinder-volumes/a', '/dev/cinder-volumes/b',
                  1024, 60)
        capture.failing.clear()
        data.wipe(capture, '/dev/cinder-volumes/a', 1024, 60)
        data.wipe(capture, '/dev/mapper/cinder--volumes-_snap-cow', 16, 60)
        drbd.DrbdResource(capture, 'r0').state_with_generation()
        cluster.Quorum(capture).state()
        cluster.Quorum(capture).members()
        lvmlockd.LvmLockd(capture, 'cinder-volumes').health()
        clvmd.Clvmd(capture, 'cinder-volumes').health()
        sanlock.Sanlock(capture, 'cinder-volumes').departed(
            nodes.NodeNames('node1', ['node2']))
        capture.run(['lvmconfig', 'global/locking_type'])
        self.assertGreater(len(capture.seen), 30)
        self.assertIn(['pvck', '--dump', 'headers', '/dev/drbd0'],
                      capture.seen)
        for argv in capture.seen:
            family = checks.family_of(argv)
            self.assertIsNotNone(family, argv)
            self.assertEqual(argv, checks.check(family, argv))


class RefusedInTheDaemonTest(testtools.TestCase):
    """Bad names, sizes and paths stop at the entry point: nothing runs."""

    def setUp(self):
        super().setUp()
        self.useFixture(InDaemon())
        self.popen = self.useFixture(fixtures.MockPatchObject(
            subprocess, 'Popen')).mock

    def _refused(self, entry_point, argv):
        self.assertRaises(exception.CommandRefused, entry_point, argv, 10)

    def test_bad_names(self):
        for name in ('../etc', '..', '-rf', 'a b', 'x' * 121, 'a;b', ''):
            self._refused(root.lvm, ['lvremove', '-y', 'vgc/%s' % name])
            self._refused(root.lvm, ['lvchange', '--refresh', 'vgc/lv',
                                     'vgc/%s' % name])
            self._refused(root.lvm, ['lvcreate', '-y', '-an', '-L', '4m',
                                     '-n', name, 'vgc'])

    def test_bad_sizes(self):
        for size in ('0m', '-4m', '4g', '4', '1e3m', '4m ', '12345678901m'):
            self._refused(root.lvm, ['lvextend', '-L', size, 'vgc/lv'])

    def test_options_not_in_a_shape(self):
        self._refused(root.lvm, ['lvcreate', '-y', '-an', '-L', '4m', '-n',
                                 'lv', '--config', 'devices{}', 'vgc'])
        self._refused(root.lvm, ['lvremove', '-ff', 'vgc/lv'])
        self._refused(root.lvm, ['vgremove', 'vgc'])
        self._refused(root.lvm, ['lvchange', '-ay', 'vgc/lv'])
        self._refused(root.lvm, ['lvchange', '--refresh'])
        # pvck only dumps a device's headers: no repair, no file
        self._refused(root.lvm, ['pvck', '--repair', '/dev/drbd0'])
        self._refused(root.lvm, ['pvck', '--dump', 'metadata_search',
                                 '/dev/drbd0'])
        self._refused(root.lvm, ['pvck', '--dump', 'headers', '/etc/shadow'])
        self._refused(root.lvm, ['pvck', '--dump', 'headers',
                                 '/dev/../etc/shadow'])
        self._refused(root.lvm, ['pvs', '-o', 'pv_name', '--select', 'x'])

    def test_the_shell_flag_is_a_bool(self):
        for entry_point, args in (
                (root.lvm, ()),
                (root.lvm_guarded, ({'vg_name': 'vgc'},))):
            self.assertRaises(
                exception.CommandRefused, entry_point,
                ['lvremove', '-y', 'vgc/lv'], 10, *args, 'yes')
        self.popen.assert_not_called()

    def test_bad_data_paths(self):
        wipe = ['bs=1M', 'count=4', 'oflag=direct', 'conv=fdatasync']
        for target in ('of=/dev/sda', 'of=/etc/shadow', 'of=/dev/vgc/../sda',
                       'of=/dev/mapper/root'):
            self._refused(root.data, ['dd', 'if=/dev/zero', target] + wipe)
        self._refused(root.data, ['dd', 'if=/etc/shadow', 'of=/dev/vgc/lv',
                                  'bs=1M', 'count=4', 'iflag=direct',
                                  'oflag=direct', 'conv=fdatasync'])
        zero = ['fallocate', '--punch-hole', '--keep-size', '--offset', '0',
                '--length', '4194304']
        for target in ('/dev/sda', '/etc/shadow', '/dev/vgc/../sda',
                       '/dev/mapper/root'):
            self._refused(root.data, zero + [target])
        self._refused(root.data, zero[:-2] + ['--length', '0',
                                              '/dev/vgc/lv'])
        self._refused(root.data, zero[:-3] + ['1', '--length', '4194304',
                                              '/dev/vgc/lv'])

    def test_lv_shaped_path_that_is_no_lv_refused(self):
        # /dev/vgc/lv does not exist here: not a device LVM made.
        error = self.assertRaises(
            exception.CommandRefused, root.data,
            ['dd', 'if=/dev/zero', 'of=/dev/vgc/lv', 'bs=1M', 'count=4',
             'oflag=direct', 'conv=fdatasync'], 10)
        self.assertIn("not a logical volume's device", str(error))
        error = self.assertRaises(
            exception.CommandRefused, root.data,
            ['fallocate', '--punch-hole', '--keep-size', '--offset', '0',
             '--length', '4194304', '/dev/vgc/lv'], 10)
        self.assertIn("Refused fallocate on /dev/vgc/lv: not a logical "
                      "volume's device", str(error))
        self.popen.assert_not_called()

    def test_headers_of_a_shared_lun(self):
        # the path pvs names on the shared-LUN labs' nodes
        argv = ['pvck', '--dump', 'headers',
                '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drbdclvmlun']
        self.assertEqual(argv, checks.check('lvm', argv))

    def test_families_do_not_mix(self):
        self._refused(root.lvm, ['dd', 'if=/dev/zero', 'of=/dev/vgc/lv',
                                 'bs=1M', 'count=4', 'oflag=direct',
                                 'conv=fdatasync'])
        self._refused(root.data, ['lvremove', '-y', 'vgc/lv'])
        self.assertRaises(exception.CommandRefused, root.cluster_state,
                          [['cat', '/proc/drbd'], ['lvremove', '-y', 'v/l']],
                          10)

    def test_readings_only_of_known_files(self):
        for argv in (['cat', '/etc/shadow'], ['cat', '/proc/drbd/../kcore'],
                     ['cat', '/sys/kernel/dlm/lvm_vgc/control'],
                     ['pidof', 'sshd'], ['sh', '-c', 'id'], [],
                     ['cat', 1], 'cat /proc/drbd'):
            self.assertRaises(exception.CommandRefused, root.cluster_state,
                              [argv], 10)

    def test_guarded_command_and_its_gate_are_checked_first(self):
        self.useFixture(fixtures.MockPatchObject(gatekeeper, '_GATES', {}))
        create = ['lvcreate', '-y', '-an', '-L', '4m', '-n', 'lv', 'vgc']
        spec = {'vg_name': 'vgc', 'replication': 'drbd', 'target': 'r0',
                'lock_manager': 'lvmlockd', 'timeout': 10}
        for argv in (['lvremove', '-y', 'vgc/..'], ['vgremove', 'vgc'],
                     ['dd', 'if=/dev/zero', 'of=/dev/vgc/lv', 'bs=1M',
                      'count=4', 'oflag=direct', 'conv=fdatasync']):
            self.assertRaises(exception.CommandRefused, root.lvm_guarded,
                              argv, 10, spec)
        for bad in ({'vg_name': '../etc'}, {'target': 'r0;id'},
                    {'target': '/dev/../etc/shadow'}, {'target': '/etc/x'},
                    {'replication': 'nosuch'}, {'replication': 'Drbd'},
                    {'lock_manager': 'Lvm Lockd'}, {'lock_manager': 'nosuch'},
                    {'timeout': 0}, {'timeout': True}, {'timeout': '10'},
                    {'timeout': 99999}, {'extra': 1}):
            self.assertRaises(exception.CommandRefused, root.lvm_guarded,
                              create, 10, dict(spec, **bad))
        self.assertRaises(exception.CommandRefused, root.lvm_guarded, create,
                          10, [spec])
        self.assertEqual({}, gatekeeper._GATES)

    def tearDown(self):
        self.popen.assert_not_called()
        super().tearDown()


class LvmDeviceTest(testtools.TestCase):

    def _device(self, uuid):
        base = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(base, 'sys', 'dm-3', 'dm'))
        with open(os.path.join(base, 'sys', 'dm-3', 'dm', 'uuid'), 'w') as f:
            f.write(uuid)
        open(os.path.join(base, 'dm-3'), 'w').close()
        os.symlink(os.path.join(base, 'dm-3'), os.path.join(base, 'lv'))
        return os.path.join(base, 'lv'), os.path.join(base, 'sys')

    def test_an_lv_is_one(self):
        path, sys_block = self._device('LVM-abcdefdef\n')
        self.assertTrue(root.is_lvm_device(path, sys_block))

    def test_another_dm_device_is_not(self):
        path, sys_block = self._device('CRYPT-LUKS2-abc\n')
        self.assertFalse(root.is_lvm_device(path, sys_block))


class RunTest(testtools.TestCase):

    def test_time_bound_kills_the_command(self):
        exit_code, _, _ = programs.run(['sleep', '30'], 0.2)
        self.assertIsNone(exit_code)

    def test_abandoned_command_is_killed(self):
        calls = []

        def abandoned():
            calls.append(True)
            return len(calls) > 1

        exit_code, _, _ = programs.run(['sleep', '5'], 60, abandoned=abandoned)
        self.assertIsNone(exit_code)
        self.assertEqual(2, len(calls))

    def test_command_outliving_no_check_runs_to_its_end(self):
        self.assertEqual(
            (0, 'done\n', ''),
            programs.run(['sh', '-c', 'sleep 1.5; echo done'], 60,
                         abandoned=lambda: False))

    def test_time_bound_holds_with_checks(self):
        exit_code, _, _ = programs.run(['sleep', '30'], 0.5,
                                       abandoned=lambda: False)
        self.assertIsNone(exit_code)

    def test_client_gone_while_the_main_thread_runs(self):
        self.assertFalse(root.client_gone())

    def test_copy_stops_when_the_daemon_exits(self):
        # The daemon's main thread exits once its service's socket closes;
        # a copy still running in its pool is then stopped, not waited for.
        script = (
            'import concurrent.futures, sys\n'
            'from drbd_clvm_driver.privileged import programs\n'
            'from drbd_clvm_driver.privileged import root\n'
            'pool = concurrent.futures.ThreadPoolExecutor(1)\n'
            'running = pool.submit(programs.run, ["sleep", "20"], 60,\n'
            '                      abandoned=root.client_gone)\n'
            'running.add_done_callback(\n'
            '    lambda done: print("exit code", done.result()[0]))\n')
        finished = subprocess.run([sys.executable, '-c', script],
                                  stdout=subprocess.PIPE, text=True,
                                  timeout=60, check=True)
        self.assertEqual('exit code None\n', finished.stdout)

    def test_copies_stop_with_their_client(self):
        self.useFixture(InDaemon())
        with mock.patch.object(programs, 'run') as run, \
                mock.patch.object(root, 'is_lvm_device', return_value=True):
            root.data(['dd', 'if=/dev/vgc/a', 'of=/dev/vgc/b', 'bs=1M',
                       'count=4', 'iflag=direct', 'oflag=direct',
                       'conv=fdatasync'], 10)
        self.assertIs(root.client_gone, run.call_args[1]['abandoned'])

    def test_exit_code_and_output(self):
        self.assertEqual((3, 'out\n', ''),
                         programs.run(['sh', '-c', 'echo out; exit 3'], 10))

    def test_missing_program_is_an_answer(self):
        # corosync-quorumtool on a node without corosync installed
        self.assertEqual(
            (127, '', 'no-such-tool-here: command not found\n'),
            programs.run(['no-such-tool-here', '-s'], 10))


#: the gate guests' readings, as the daemon answers them (files by path)
GATE_FILES = {
    '/proc/drbd': 'node1-01-cat_proc_drbd.txt',
    '/sys/kernel/debug/drbd/minors/0/data_gen_id':
        'gate-readings/node1-02-cat_sys_kernel_debug_drbd_minors_0_data_gen_'
        'id.txt',
    '/sys/kernel/dlm/lvm_vgc/recover_status':
        'gate-readings/node1-04-cat_sys_kernel_dlm_lvm_vgc_recover_status.txt',
}


class GuardedInTheDaemon(fixtures.Fixture):
    """The daemon's side, in this process: its readings answered from
    recordings of the gate guests, the programs it would start recorded in
    ``order`` (with the files it reads) and answered from ``programs``.
    """

    def __init__(self, proc_drbd='node1-01-cat_proc_drbd.txt'):
        super().__init__()
        self.files = dict(GATE_FILES, **{'/proc/drbd': proc_drbd})

    def _setUp(self):
        self.useFixture(InDaemon())
        self.useFixture(fixtures.MockPatchObject(gatekeeper, '_GATES', {}))
        self.order = []
        self.programs = {('drbdadm', 'sh-minor', 'r0'): (0, '0\n', '')}
        for target, name, answer in (
                (native, 'read_file', self._file),
                (native, 'pidof', lambda name: (0, '7\n', '')),
                (native._QUORUM, 'answer',
                 lambda: (0, 'Quorate: Yes\n', '')),
                (programs, 'run', self._program),
                # LVM's lock files and shell are not this host's: each
                # change starts after the check, as a program (the held
                # start: test_held; the shell: test_lvm_shell)
                (held, 'lvm_lock_dir', lambda: None),
                (lvm_shell, 'run', self._program)):
            self.useFixture(fixtures.MockPatchObject(target, name,
                                                     side_effect=answer))

    def _file(self, path):
        self.order.append(path)
        if path not in self.files:
            return 1, '', 'cat: %s: No such file or directory\n' % path
        return 0, recorded.load(self.files[path]).output, ''

    def _program(self, argv, timeout, abandoned=None):
        self.order.append(' '.join(argv))
        return self.programs.get(tuple(argv), (0, 'done', ''))


class GuardedChangeTest(testtools.TestCase):
    """A metadata change through the daemon: check, command, readings."""

    SPEC = {'vg_name': 'vgc', 'replication': 'drbd', 'target': 'r0',
            'lock_manager': 'lvmlockd', 'timeout': 10}
    CREATE = ['lvcreate', '-y', '-an', '-L', '4m', '-n', 'lv', 'vgc']

    def test_check_then_command_then_drbd(self):
        daemon = self.useFixture(GuardedInTheDaemon())
        reasons, checked, answer, commands, answers = root.lvm_guarded(
            self.CREATE, 10, self.SPEC)
        self.assertEqual([], reasons)
        self.assertEqual(drbd.parse_data_gen_id(recorded.load(GATE_FILES[
            '/sys/kernel/debug/drbd/minors/0/data_gen_id']).output),
            checked['generation'])
        self.assertEqual((0, 'done', ''), answer)
        created = daemon.order.index(' '.join(self.CREATE))
        self.assertEqual(['/proc/drbd',
                          '/sys/kernel/debug/drbd/minors/0/data_gen_id'],
                         daemon.order[created + 1:])
        self.assertIn('/sys/kernel/dlm/lvm_vgc/recover_status',
                      daemon.order[:created])
        self.assertEqual([['cat', '/proc/drbd'],
                          ['cat', '/sys/kernel/debug/drbd/minors/0/'
                                  'data_gen_id']], commands)
        self.assertEqual(2, len(answers))

    def test_unsafe_cluster_runs_nothing(self):
        daemon = self.useFixture(GuardedInTheDaemon(
            proc_drbd='node1-27-cat_proc_drbd.txt'))
        reasons, checked, answer, _, _ = root.lvm_guarded(
            self.CREATE, 10, self.SPEC)
        self.assertIn('DRBD r0 is StandAlone, not Connected: the peer is not '
                      'confirmed fenced (disk DUnknown); DRBD holds I/O until '
                      'its fence succeeds', reasons)
        self.assertEqual((None, None), (checked, answer))
        self.assertNotIn(' '.join(self.CREATE), daemon.order)

    def test_the_volume_service_refuses_and_changes_nothing(self):
        self.useFixture(GuardedInTheDaemon(
            proc_drbd='node1-27-cat_proc_drbd.txt'))
        ops = stack.build(runner.PrivsepCommandRunner(node='node1'), 'vgc',
                          'r0', lock_path=self.useFixture(
                              fixtures.TempDir()).path).ops
        error = self.assertRaises(exception.ClusterUnsafe, ops.create_volume,
                                  'volume-1', 4, '1')
        self.assertIn('StandAlone', str(error))


class NativeReadingsTest(testtools.TestCase):

    def test_cluster_state_reads_files_itself(self):
        self.useFixture(InDaemon())
        popen = self.useFixture(fixtures.MockPatchObject(
            subprocess, 'Popen')).mock
        with mock.patch.object(native, 'read_file',
                               return_value=(0, 'ff\n', '')) as read:
            self.assertEqual(
                [(0, 'ff\n', '')] * 2,
                root.cluster_state(
                    [['cat', '/sys/kernel/dlm/lvm_vgc/recover_status'],
                     ['cat', '/proc/drbd']], 10))
        self.assertEqual(2, read.call_count)
        popen.assert_not_called()

    def test_missing_file_answers_like_cat(self):
        exit_code, stdout, stderr = native.read_file('/no/such/file')
        self.assertEqual((1, ''), (exit_code, stdout))
        self.assertIn('No such file or directory', stderr)

    def test_pidof_from_the_pid_file(self):
        pid_file = self.useFixture(fixtures.TempDir()).join('me.pid')
        with open(pid_file, 'w') as handle:
            handle.write('%d\n' % os.getpid())
        with open('/proc/self/comm') as comm:
            me = comm.read().strip()
        with mock.patch.dict(native.PID_FILES, {me: (pid_file,)}), \
                mock.patch.object(os, 'scandir') as scandir:
            self.assertEqual((0, '%d\n' % os.getpid(), ''),
                             native.pidof(me))
        scandir.assert_not_called()

    def test_pidof_stale_pid_file_searches_proc(self):
        pid_file = self.useFixture(fixtures.TempDir()).join('x.pid')
        with open(pid_file, 'w') as handle:
            handle.write('%d\n' % os.getpid())
        with mock.patch.dict(native.PID_FILES,
                             {'no-such-daemon': (pid_file,)}):
            self.assertEqual((1, '', ''), native.pidof('no-such-daemon'))

    def test_quorum_without_libquorum_runs_the_tool(self):
        quorum = native.CorosyncQuorum('libno-such-library.so.0')
        self.assertIsNone(quorum.answer())


class FakeLibquorum:
    """libquorum's three calls, answering with corosync's cs_error_t."""

    def __init__(self, initialize=1, quorate=1, getquorate=(1,)):
        self.initialize, self.quorate = initialize, quorate
        self.getquorate = list(getquorate)
        self.finalized = 0
        self.connections = 0

    def quorum_initialize(self, handle, callbacks, quorum_type):
        self.connections += 1
        return self.initialize

    def quorum_getquorate(self, handle, quorate):
        quorate._obj.value = self.quorate
        return self.getquorate.pop(0) if self.getquorate else 1

    def quorum_finalize(self, handle):
        self.finalized += 1


class CorosyncQuorumTest(testtools.TestCase):

    def _quorum(self, library):
        quorum = native.CorosyncQuorum()
        self.useFixture(fixtures.MockPatch('ctypes.CDLL',
                                           return_value=library))
        return quorum

    def test_quorate_in_the_tools_words(self):
        library = FakeLibquorum()
        quorum = self._quorum(library)
        answer = quorum.answer()
        self.assertEqual((0, 'Quorate: Yes\n', ''), answer)
        self.assertTrue(cluster.parse_quorumtool(answer[1]).quorate)
        quorum.answer()
        self.assertEqual(1, library.connections)  # the connection is kept

    def test_not_quorate(self):
        answer = self._quorum(FakeLibquorum(quorate=0)).answer()
        state = cluster.parse_quorumtool(answer[1])
        self.assertFalse(state.quorate)
        self.assertIsNone(state.problem)

    def test_corosync_down(self):
        answer = self._quorum(FakeLibquorum(initialize=2)).answer()
        state = cluster.parse_quorumtool(answer[1] + answer[2])
        self.assertIn('Cannot initialize QUORUM service', state.problem)

    def test_corosync_restarted_reconnects_once(self):
        # CS_ERR_LIBRARY on the old connection, then a new one answers
        library = FakeLibquorum(getquorate=(2, 1))
        self.assertEqual((0, 'Quorate: Yes\n', ''),
                         self._quorum(library).answer())
        self.assertEqual((2, 1), (library.connections, library.finalized))


class FakeLibsanlock:
    """``sanlock_get_lockspaces`` handing out ``lockspaces`` (an array of
    :class:`native.SanlockLockspace`) as the library's malloc'd list.
    """

    def __init__(self, lockspaces=None, status=0):
        self.freed = []

        # Plain functions: the code under test sets their argtypes.
        def sanlock_get_lockspaces(listed, count, flags):
            if lockspaces is not None:
                listed._obj.contents = lockspaces[0]
                count._obj.value = len(lockspaces)
            return status

        def free(pointer):
            self.freed.append(pointer)

        self.sanlock_get_lockspaces = sanlock_get_lockspaces
        self.free = free


def _lockspace(name, host_id, path, flags=0):
    lockspace = native.SanlockLockspace(name=name.encode(), host_id=host_id,
                                        flags=flags)
    lockspace.host_id_disk.path = path.encode()
    return lockspace


class SanlockLockspacesTest(testtools.TestCase):
    """``sanlock client gets`` answered through libsanlock_client, in the
    tool's words (checked against its recorded output).
    """

    LEASES = '/dev/mapper/vgc-lvmlock'

    def _answer(self, library):
        lockspaces = native.SanlockLockspaces()
        self.useFixture(fixtures.MockPatch('ctypes.CDLL',
                                           return_value=library))
        return lockspaces.answer()

    def test_joined_as_the_tool_prints_it(self):
        library = FakeLibsanlock(
            (native.SanlockLockspace * 1)(_lockspace('lvm_vgc', 1,
                                                     self.LEASES)))
        self.assertEqual((0, recorded.load(
            'gate-shared-lun-sanlock/node1-05-sanlock_client_gets.txt')
            .output, ''), self._answer(library))
        self.assertEqual(1, len(library.freed))

    def test_joining(self):
        library = FakeLibsanlock(
            (native.SanlockLockspace * 1)(_lockspace('lvm_vgc', 2,
                                                     self.LEASES, 0x1)))
        self.assertEqual(recorded.load(
            'gate-shared-lun-sanlock/'
            'bytheagent-node2-sanlock_client_gets_joining.txt').output,
            self._answer(library)[1])

    def test_every_lockspace_and_its_change(self):
        library = FakeLibsanlock((native.SanlockLockspace * 2)(
            _lockspace('lvm_vgc', 3, self.LEASES, 0x2),
            _lockspace('lvm_other', 3, '/dev/mapper/other-lvmlock')))
        self.assertEqual({'lvm_vgc': 'REM', 'lvm_other': ''},
                         sanlock.parse_lockspaces(
                             self._answer(library)[1]))

    def test_none(self):
        library = FakeLibsanlock()
        self.assertEqual((0, '', ''), self._answer(library))
        self.assertEqual([], library.freed)

    def test_sanlock_down_is_an_error(self):
        exit_code, stdout, stderr = self._answer(FakeLibsanlock(
            status=-111))
        self.assertEqual((1, ''), (exit_code, stdout))
        self.assertIn('-111', stderr)

    def test_without_the_library_runs_the_tool(self):
        self.assertIsNone(native.SanlockLockspaces(
            'libno-such-library.so.1').answer())

    def test_the_daemon_answers_it_itself(self):
        self.assertTrue(native.answers_itself(['sanlock', 'client',
                                               'gets']))
        self.assertFalse(native.answers_itself(['sanlock', 'client',
                                                'status']))


class PrivsepRunnerTest(testtools.TestCase):
    """The runner the volume service uses: one daemon call per batch."""

    def setUp(self):
        super().setUp()
        self.runner = runner.PrivsepCommandRunner(node='node1')

    def test_commands_go_to_their_familys_entry_point(self):
        with mock.patch.object(root, 'lvm', return_value=[0, 'l', '']), \
                mock.patch.object(root, 'data', return_value=[0, 'd', '']):
            self.assertEqual('l', self.runner.run(
                ['lvremove', '-y', 'vgc/lv']).stdout)
            self.assertEqual('d', self.runner.run(
                ['dd', 'if=/dev/zero', 'of=/dev/vgc/lv']).stdout)

    def test_a_killed_reading_is_a_timeout(self):
        with mock.patch.object(root, 'cluster_state',
                               return_value=[[None, '', '']]):
            results = self.runner.read([('dlm_tool', 'status')], 7)
        self.assertRaises(exception.CommandTimeout, results.output,
                          ('dlm_tool', 'status'))

    def test_the_safety_gate_is_one_trip(self):
        answers = {
            ('corosync-quorumtool', '-s'): [0, 'Quorate: Yes\n', ''],
            ('pidof', 'lvmlockd'): [0, '279\n', ''],
            ('pidof', 'dlm_controld'): [0, '266\n', ''],
            ('cat', '/run/drbd-clvm/fence/failing'): [
                1, '', 'cat: /run/drbd-clvm/fence/failing: No such file\n'],
        }
        for argv, name in (
                (('cat', '/proc/drbd'), 'node1-01-cat_proc_drbd.txt'),
                (('drbdadm', 'sh-minor', 'r0'), 'gate/node1-02-drbdadm_sh_'
                 'minor_r0.txt'),
                (('cat', '/sys/kernel/debug/drbd/minors/0/data_gen_id'),
                 'gate-readings/node1-02-cat_sys_kernel_debug_drbd_minors_'
                 '0_data_gen_id.txt'),
                (('cat', '/sys/kernel/dlm/lvm_vgc/recover_status'),
                 'gate-readings/node1-04-cat_sys_kernel_dlm_lvm_vgc_'
                 'recover_status.txt')):
            answers[argv] = [0, recorded.load(name).output, '']
        trips = []

        def daemon(commands, timeout):
            trips.append(commands)
            return [answers[tuple(argv)] for argv in commands]

        node = stack.build(self.runner, 'vgc', 'r0', lock_path=self.useFixture(
            fixtures.TempDir()).path)
        with mock.patch.object(root, 'cluster_state', side_effect=daemon):
            node.gate.reasons()  # learns the DRBD version and minor
            del trips[:]
            self.assertEqual([], node.gate.reasons())
        # quorum, /proc/drbd, two pids, the lockspace
        self.assertEqual([6], [len(trip) for trip in trips])

    def test_the_shell_turned_off_reaches_the_daemon(self):
        off = runner.PrivsepCommandRunner(node='node1', lvm_shell=False)
        with mock.patch.object(root, 'lvm', return_value=(0, '', '')) as lvm:
            off.run(['lvremove', '-y', 'vgc/a'])
        self.assertEqual(((['lvremove', '-y', 'vgc/a'], 60, False),),
                         lvm.call_args[:1])

    def test_a_change_is_one_call(self):
        self.useFixture(GuardedInTheDaemon())
        calls = self.useFixture(fixtures.MockPatchObject(
            root, 'lvm_guarded', wraps=root.lvm_guarded)).mock
        reads = self.useFixture(fixtures.MockPatchObject(
            root, 'cluster_state', wraps=root.cluster_state)).mock
        lvm_calls = self.useFixture(fixtures.MockPatchObject(
            root, 'lvm', wraps=root.lvm)).mock
        node = stack.build(self.runner, 'vgc', 'r0', lock_path=self.useFixture(
            fixtures.TempDir()).path, volume_clear='none')
        node.ops.create_volume('volume-1', 4, '1')  # learns DRBD's version
        for entry_point in (calls, reads, lvm_calls):
            entry_point.reset_mock()
        node.ops.create_volume('volume-2', 4, '2')
        node.ops.extend_volume('volume-2', 4, 8)
        self.assertEqual(2, calls.call_count)
        self.assertEqual([True, True], [call[0][3] for call in
                                        calls.call_args_list])
        self.assertEqual(0, reads.call_count + lvm_calls.call_count)
        argv, timeout, spec, _ = calls.call_args_list[0][0]
        self.assertEqual('volume-2', argv[argv.index('-n') + 1])
        self.assertEqual({'vg_name': 'vgc', 'replication': 'drbd',
                          'target': 'r0', 'lock_manager': 'lvmlockd',
                          'timeout': 10}, spec)


class DaemonFailureTest(testtools.TestCase):

    def test_a_dead_daemon_is_a_clear_retriable_error(self):
        failing = OSError('Premature eof waiting for privileged process')
        with mock.patch.object(root, 'lvm', side_effect=failing):
            error = self.assertRaises(
                exception.PrivilegedDaemonUnavailable,
                runner.PrivsepCommandRunner(node='node2').run,
                ['lvremove', '-y', 'vgc/lv'])
        self.assertTrue(error.retriable)
        self.assertIn('on node2 failed (Premature eof', str(error))
        self.assertIn('drbd_clvm.filters', str(error))


class DaemonThreadsTest(testtools.TestCase):
    """On the real guests (one CPU) a 1 GiB copy held oslo.privsep's only
    thread for 200 s and every safety-gate reading waited behind it.
    """

    def test_daemon_pool_is_not_the_cpu_count(self):
        from oslo_privsep import daemon
        server = daemon.Daemon(mock.Mock(), privileged.default)
        self.addCleanup(server.thread_pool.shutdown)
        self.assertEqual(privileged.THREAD_POOL_SIZE,
                         server.thread_pool._max_workers)
        self.assertGreater(privileged.THREAD_POOL_SIZE, 8)

    def test_sample_config_shows_the_pool(self):
        from drbd_clvm_driver import opts
        sections = dict(opts.list_opts())
        size, = [option for option in sections['drbd_clvm_privileged']
                 if option.dest == 'thread_pool_size']
        self.assertEqual(privileged.THREAD_POOL_SIZE, size.default)
        self.assertNotIn('CPU cores', size.help)
