"""Lock-manager plugins against recorded (lvmlockd) and documented (clvmd)
outputs."""

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base
from drbd_clvm_driver.locking import clvmd
from drbd_clvm_driver.locking import lvmlockd
from drbd_clvm_driver import lvm
from tests.unit import recorded


def vg_from(filename):
    return lvm.parse_vgs_json(recorded.load(filename).output)[0]


SHARED_VG = ('node1-14-vgs_reportformat_json_units_b_o_vg_name_vg_attr_'
             'vg_size_vg_f.txt')


def answer(command, output, exit_code=0):
    return recorded.Recording(command, 'node1', exit_code, output)


class LvmLockdTest(testtools.TestCase):

    def _plugin(self, *recordings):
        return lvmlockd.LvmLockd(recorded.ReplayRunner(*recordings), 'vgc')

    def test_healthy(self):
        plugin = self._plugin(recorded.load('node1-12-lvmlockctl_info.txt'),
                              recorded.load('node1-11-dlm_tool_status.txt'))
        self.assertEqual([], plugin.health())

    def test_lockspace_being_removed(self):
        # lvmlockd killed on node2: the lockspace is marked REM:.
        plugin = self._plugin(
            recorded.load('run2-node2-10-lvmlockctl_info.txt'),
            recorded.load('node2-11-dlm_tool_status.txt'))
        reasons = plugin.health()
        self.assertEqual(1, len(reasons))
        self.assertIn('removing the lockspace', reasons[0])

    def test_dlm_controld_down(self):
        plugin = self._plugin(
            recorded.load('node1-12-lvmlockctl_info.txt'),
            recorded.load('run2-node1-24-dlm_tool_status.txt'))
        self.assertEqual(['dlm_controld is not running or not quorate '
                          '(dlm_tool status: cannot connect to dlm_controld)'],
                         plugin.health())

    def test_lvmlockd_not_running(self):
        plugin = self._plugin(
            answer('lvmlockctl --info', 'Cannot connect to lvmlockd.', 1),
            recorded.load('node1-11-dlm_tool_status.txt'))
        self.assertIn('lvmlockd is not running', plugin.health()[0])

    def test_lockspace_not_started(self):
        info = recorded.load('node1-12-lvmlockctl_info.txt').output
        plugin = self._plugin(
            answer('lvmlockctl --info', info.replace('lvm_vgc', 'lvm_other')),
            recorded.load('node1-11-dlm_tool_status.txt'))
        self.assertIn('vgchange --lock-start vgc', plugin.health()[0])

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

    def test_check_setup_raises_when_unhealthy(self):
        plugin = self._plugin(
            answer('lvmlockctl --info', 'Cannot connect to lvmlockd.', 1),
            recorded.load('node1-11-dlm_tool_status.txt'))
        self.assertRaises(exception.LockManagerUnavailable,
                          plugin.check_setup, vg_from(SHARED_VG))


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
            answer('pidof clvmd', '', 1)), 'vgc')
        self.assertIn('clvmd is not running', plugin.health()[0])

    def test_daemon_up(self):
        plugin = clvmd.Clvmd(recorded.ReplayRunner(
            answer('pidof clvmd', '1234\n')), 'vgc')
        self.assertEqual([], plugin.health())


class LoadTest(testtools.TestCase):

    def test_entry_points(self):
        runner = recorded.ReplayRunner()
        self.assertIsInstance(base.load('lvmlockd', runner, 'vgc'),
                              lvmlockd.LvmLockd)
        self.assertIsInstance(base.load('clvmd', runner, 'vgc'), clvmd.Clvmd)

    def test_unknown_name(self):
        error = self.assertRaises(exception.LockManagerNotFound, base.load,
                                  'sanlockd', recorded.ReplayRunner(), 'vgc')
        self.assertIn(base.NAMESPACE, str(error))
        self.assertIn('sanlockd', str(error))
