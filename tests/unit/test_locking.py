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

"""Lock-manager plugins against recorded (lvmlockd with dlm or sanlock) and
documented (clvmd) outputs."""

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base
from drbd_clvm_driver.locking import clvmd
from drbd_clvm_driver.locking import lvmlockd
from drbd_clvm_driver.locking import sanlock
from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes
from drbd_clvm_driver.privileged import checks
from tests.unit import recorded


def vg_from(filename):
    return lvm.parse_vgs_json(recorded.load(filename).output)[0]


SHARED_VG = ('node1-14-vgs_reportformat_json_units_b_o_vg_name_vg_attr_'
             'vg_size_vg_f.txt')


def answer(command, output, exit_code=0):
    return recorded.Recording(command, 'node1', exit_code, output)


_READINGS = 'gate-readings/'
LVMLOCKD_UP = _READINGS + 'node1-05-pidof_lvmlockd.txt'
DLM_CONTROLD_UP = _READINGS + 'node1-06-pidof_dlm_controld.txt'
#: the VG's lockspace on the node that led its last recovery (ff), on the
#: other node after a lock-stop and lock-start (55), and with none (stopped)
LOCKSPACE_LEADER = (_READINGS + 'node1-04-cat_sys_kernel_dlm_lvm_vgc_'
                    'recover_status.txt')
LOCKSPACE_MEMBER = (_READINGS + 'lockstop-node2-18-cat_sys_kernel_dlm_lvm_vgc_'
                    'recover_status.txt')
NO_LOCKSPACE = (_READINGS + 'lockstop-node2-16-cat_sys_kernel_dlm_lvm_vgc_'
                'recover_status.txt')
#: pidof finds nothing: exit 1, no output (recorded for clvmd)
NOT_RUNNING = recorded.load(_READINGS + 'node1-07-pidof_clvmd.txt')


def not_running(daemon):
    return answer('pidof %s' % daemon, NOT_RUNNING.output,
                  NOT_RUNNING.exit_code)


class LvmLockdTest(testtools.TestCase):

    def _plugin(self, *recordings):
        return lvmlockd.LvmLockd(recorded.ReplayRunner(*recordings), 'vgc')

    def _health(self, lvmlockd_up=LVMLOCKD_UP, dlm_up=DLM_CONTROLD_UP,
                lockspace=LOCKSPACE_LEADER):
        return self._plugin(*[
            recording if isinstance(recording, recorded.Recording)
            else recorded.load(recording)
            for recording in (lvmlockd_up, dlm_up, lockspace)]).health()

    def test_healthy_on_either_node(self):
        self.assertEqual([], self._health())
        self.assertEqual([], self._health(lockspace=LOCKSPACE_MEMBER))

    def test_readings_are_files_and_pid_checks(self):
        self.assertEqual(
            [('pidof', 'lvmlockd'), ('pidof', 'dlm_controld'),
             ('cat', '/sys/kernel/dlm/lvm_vgc/recover_status')],
            self._plugin().health_readings())

    def test_lockspace_not_started(self):
        self.assertEqual(['the dlm has no lockspace for VG vgc (lvm_vgc): '
                          'run vgchange --lock-start vgc'],
                         self._health(lockspace=NO_LOCKSPACE))

    def test_lockspace_stopped_for_recovery(self):
        stopped = answer('cat /sys/kernel/dlm/lvm_vgc/recover_status', '0\n')
        reasons = self._health(lockspace=stopped)
        self.assertEqual(1, len(reasons))
        self.assertIn('stopped for recovery (recover_status 0)', reasons[0])

    def test_unreadable_status_is_not_running(self):
        garbage = answer('cat /sys/kernel/dlm/lvm_vgc/recover_status', 'x\n')
        self.assertIn('stopped for recovery', self._health(
            lockspace=garbage)[0])

    def test_dlm_controld_down(self):
        self.assertEqual(['dlm_controld is not running: start dlm on this '
                          'node'],
                         self._health(dlm_up=not_running('dlm_controld')))

    def test_lvmlockd_not_running(self):
        self.assertEqual(['lvmlockd is not running: start it on this node'],
                         self._health(lvmlockd_up=not_running('lvmlockd')))

    def test_check_setup_raises_when_unhealthy(self):
        plugin = self._plugin(not_running('lvmlockd'),
                              recorded.load(DLM_CONTROLD_UP),
                              recorded.load(LOCKSPACE_LEADER))
        self.assertRaises(exception.LockManagerUnavailable,
                          plugin.check_setup, vg_from(SHARED_VG))

    def test_shared_vg_accepted(self):
        self._plugin().check_volume_group(vg_from(SHARED_VG))

    def test_local_vg_refused_with_fix(self):
        vg = vg_from(SHARED_VG)
        local = lvm.VolumeGroup(**dict(vg.__dict__, attr='wz--n-',
                                       lock_type=''))
        error = self.assertRaises(exception.VolumeGroupNotClustered,
                                  self._plugin().check_volume_group, local)
        self.assertIn('vgchange --lock-type dlm vgc', str(error))

    def test_sanlock_vg_refused(self):
        vg = vg_from(SHARED_VG)
        sanlock = lvm.VolumeGroup(**dict(vg.__dict__, lock_type='sanlock'))
        error = self.assertRaises(exception.VolumeGroupNotClustered,
                                  self._plugin().check_volume_group, sanlock)
        self.assertIn("'sanlock'", str(error))


class ClvmdTest(testtools.TestCase):
    """clvmd cannot run on any current distribution; the outputs here
    follow LVM 2.02's documented formats (vg_attr 'c', lvmconfig).
    """

    def _vg(self, attr):
        return lvm.VolumeGroup(**dict(vg_from(SHARED_VG).__dict__, attr=attr,
                                      lock_type=''))

    def test_clustered_vg_with_locking_type_3(self):
        plugin = clvmd.Clvmd(recorded.ReplayRunner(
            answer('lvmconfig global/locking_type', 'locking_type=3\n')),
            'vgc')
        plugin.check_volume_group(self._vg('wz--nc'))

    def test_not_clustered(self):
        plugin = clvmd.Clvmd(recorded.ReplayRunner(), 'vgc')
        error = self.assertRaises(exception.VolumeGroupNotClustered,
                                  plugin.check_volume_group,
                                  self._vg('wz--n-'))
        self.assertIn('vgchange -cy vgc', str(error))

    def test_locking_type_not_3(self):
        # What the lab's lvm.conf (lvmlockd) answers: no locking_type at all.
        plugin = clvmd.Clvmd(recorded.ReplayRunner(answer(
            'lvmconfig global/locking_type',
            '  Configuration node global/locking_type not found', 5)), 'vgc')
        error = self.assertRaises(exception.VolumeGroupNotClustered,
                                  plugin.check_volume_group,
                                  self._vg('wz--nc'))
        self.assertIn('locking_type = 3', str(error))

    def test_daemon_down(self):
        plugin = clvmd.Clvmd(recorded.ReplayRunner(
            recorded.load(_READINGS + 'node1-07-pidof_clvmd.txt')), 'vgc')
        self.assertIn('clvmd is not running', plugin.health()[0])

    def test_daemon_up(self):
        plugin = clvmd.Clvmd(recorded.ReplayRunner(
            answer('pidof clvmd', '1234\n')), 'vgc')
        self.assertEqual([], plugin.health())


_SANLOCK = 'gate-shared-lun-sanlock/'
#: a node of the three-node sanlock lab, holding the VG's lockspace
SANLOCK_JOINED = _SANLOCK + 'node1-05-sanlock_client_gets.txt'
#: node3 after vgchange --lock-stop: no lockspace
SANLOCK_LEFT = _SANLOCK + 'node3-30-sanlock_client_gets.txt'
SANLOCK_JOINING = (_SANLOCK +
                   'bytheagent-node2-sanlock_client_gets_joining.txt')
SANLOCK_UP = _SANLOCK + 'node1-35-pidof_sanlock.txt'
WDMD_UP = _SANLOCK + 'node1-36-pidof_wdmd.txt'
SANLOCK_VG = _SANLOCK + ('node1-08-vgs_reportformat_json_units_b_o_vg_name_'
                         'vg_attr_vg_size_vg_f.txt')


class SanlockTest(testtools.TestCase):

    def _health(self, lockspaces=SANLOCK_JOINED, down=()):
        running = {'lvmlockd': LVMLOCKD_UP, 'sanlock': SANLOCK_UP,
                   'wdmd': WDMD_UP}
        recordings = [not_running(daemon) if daemon in down
                      else recorded.load(running[daemon])
                      for daemon in running]
        recordings.append(recorded.load(lockspaces))
        return sanlock.Sanlock(recorded.ReplayRunner(*recordings),
                               'vgc').health()

    def test_joined_lockspace_is_healthy(self):
        self.assertEqual([], self._health())

    def test_left_lockspace(self):
        self.assertEqual(['sanlock holds no lockspace for VG vgc (lvm_vgc): '
                          'run vgchange --lock-start vgc'],
                         self._health(SANLOCK_LEFT))

    def test_joining_lockspace(self):
        self.assertEqual(['sanlock is joining the lockspace of VG vgc '
                          '(lvm_vgc): wait until it has joined'],
                         self._health(SANLOCK_JOINING))

    def test_parse_lockspaces(self):
        self.assertEqual({'lvm_vgc': ''}, sanlock.parse_lockspaces(
            recorded.load(SANLOCK_JOINED).output))
        self.assertEqual({'lvm_vgc': 'ADD'}, sanlock.parse_lockspaces(
            recorded.load(SANLOCK_JOINING).output))
        self.assertEqual({}, sanlock.parse_lockspaces(
            recorded.load(SANLOCK_LEFT).output))

    def test_watchdog_daemon_down(self):
        self.assertEqual(['wdmd is not running: start it on this node'],
                         self._health(down=('wdmd',)))

    def test_every_daemon_down_names_each(self):
        reasons = self._health(SANLOCK_LEFT,
                               down=('lvmlockd', 'sanlock', 'wdmd'))
        self.assertEqual(3, len(reasons))

    def test_sanlock_vg_accepted_dlm_vg_refused(self):
        plugin = sanlock.Sanlock(recorded.ReplayRunner(), 'vgc')
        plugin.check_volume_group(vg_from(SANLOCK_VG))
        error = self.assertRaises(exception.VolumeGroupNotClustered,
                                  plugin.check_volume_group,
                                  vg_from(SHARED_VG))
        self.assertIn("lock type 'dlm'", str(error))

    def test_no_quorum_needed(self):
        self.assertFalse(sanlock.Sanlock.needs_quorum)
        self.assertTrue(lvmlockd.LvmLockd.needs_quorum)

    def test_the_daemon_takes_its_readings(self):
        for argv in sanlock.Sanlock(None, 'vgc').health_readings():
            checks.check('cluster_state', list(argv))


_NODE_DEAD = ('gate-shared-lun-sanlock-node-dead/%s/'
              'node1-01-sanlock_client_host_status_s_lvm_vgc_D.txt')
#: node1 of the sanlock lab, every lease renewed
HOSTS_ALIVE = _NODE_DEAD % 'alive'
#: node3's qemu killed: its lease not seen renewed for 39 s
HOSTS_SILENT = _NODE_DEAD % 'silent'
#: for 80 s, 8 I/O timeouts: failed
HOSTS_FAILED = _NODE_DEAD % 'departed'
THREE = nodes.NodeNames('node1', ['node2', 'node3'])


class SanlockDepartedTest(testtools.TestCase):
    """Which peers have left, from what sanlock reads of their leases."""

    def _departed(self, output, names=THREE, exit_code=0):
        plugin = sanlock.Sanlock(recorded.ReplayRunner(), 'vgc')
        plugin.runner.serve(plugin.host_status(), recorded.Recording(
            ' '.join(plugin.host_status()), 'node1', exit_code, output))
        return plugin.departed(names)

    def _recorded(self, filename, names=THREE):
        return self._departed(recorded.load(filename).output, names)

    def test_parse_host_status(self):
        leases = sanlock.parse_host_status(
            recorded.load(HOSTS_SILENT).output)
        self.assertEqual([1, 2, 3], [lease.host_id for lease in leases])
        node3 = leases[2]
        self.assertEqual(('node3', 39, 10, False), (
            node3.host, node3.silent_seconds, node3.io_timeout,
            node3.failed))
        self.assertEqual([0, 0], [lease.silent_seconds
                                  for lease in leases[:2]])

    def test_every_lease_renewed(self):
        self.assertEqual(frozenset(), self._recorded(HOSTS_ALIVE))

    def test_silent_for_less_than_eight_io_timeouts_is_still_there(self):
        # its lease may still be renewed: what it holds is held
        self.assertEqual(frozenset(), self._recorded(HOSTS_SILENT))

    def test_failed_lease_has_departed(self):
        self.assertEqual({'node3'}, self._recorded(HOSTS_FAILED))

    def test_peers_spelled_as_fqdn(self):
        names = nodes.NodeNames('node1.example.com', ['node2.example.com',
                                                      'node3.example.com'])
        self.assertEqual({'node3.example.com'},
                         self._recorded(HOSTS_FAILED, names))

    def test_host_of_another_cluster_is_not_a_peer(self):
        names = nodes.NodeNames('node1', ['node2'])
        self.assertEqual(frozenset(), self._recorded(HOSTS_FAILED, names))

    def test_back_under_another_host_id_is_not_gone(self):
        failed = recorded.load(HOSTS_FAILED).output
        node3_again = recorded.load(HOSTS_ALIVE).output.split(
            '\n3 timestamp')[1]
        self.assertEqual(frozenset(), self._departed(
            failed + '\n4 timestamp' + node3_again))

    def test_unreadable_cannot_tell(self):
        self.assertIsNone(self._departed(
            'failed to connect to daemon\n', exit_code=1))

    def test_name_sanlock_cut_short(self):
        # 36 characters of UUID, a dot, and 10 of the node's name
        names = nodes.NodeNames('storage-a1', ['storage-b10.example.com',
                                               'storage-b11.example.com',
                                               'storage-c12.example.com'])

        def lease(cut):
            return sanlock.HostLease(
                3, 86, '1c7eb2e3-512d-4d75-ba34-50532074dcb2.' + cut, 82, 10)

        self.assertEqual('storage-c12.example.com',
                         sanlock._peer_named(names, lease('storage-c1')))
        # the beginning of two nodes' names: neither
        self.assertIsNone(sanlock._peer_named(names, lease('storage-b1')))

    def test_name_given_to_sanlock(self):
        lease = sanlock.HostLease(3, 86, 'node3', 82, 10)
        self.assertEqual('node3', sanlock._peer_named(THREE, lease))

    def test_the_daemon_takes_the_reading(self):
        checks.check('cluster_state',
                     list(sanlock.Sanlock(None, 'vgc').host_status()))

    def test_dlm_leaves_it_to_corosync(self):
        self.assertIsNone(lvmlockd.LvmLockd(None, 'vgc').departed(THREE))


class LoadTest(testtools.TestCase):

    def test_entry_points(self):
        runner = recorded.ReplayRunner()
        self.assertIsInstance(base.load('lvmlockd', runner, 'vgc'),
                              lvmlockd.LvmLockd)
        self.assertIsInstance(base.load('clvmd', runner, 'vgc'), clvmd.Clvmd)
        self.assertIsInstance(base.load('sanlock', runner, 'vgc'),
                              sanlock.Sanlock)

    def test_unknown_name(self):
        error = self.assertRaises(exception.LockManagerNotFound, base.load,
                                  'sanlockd', recorded.ReplayRunner(), 'vgc')
        self.assertIn(base.NAMESPACE, str(error))
        self.assertIn("'sanlockd'", str(error))
        self.assertIn('"lvmlockd", "sanlock" and "clvmd"', str(error))
