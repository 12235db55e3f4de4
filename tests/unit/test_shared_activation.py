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

"""Shared activation as the real gate cluster answered it
(fixtures/recorded/gate-active-active): what the LVM layer makes of each
answer, and the operations that build on it."""

from unittest import mock

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations
from tests.unit import recorded

_DIR = 'gate-active-active/'


def _load(name):
    return recorded.load(_DIR + name)


def _serve(runner, recording, **replace):
    """Serve a recording for the driver's own spelling of its command."""
    argv = list(recording.argv)
    for old, new in replace.items():
        argv[argv.index(old)] = new
    runner.serve(argv, recording)


class SharedActivationTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = recorded.ReplayRunner(node='node2')
        self.vg = lvm.ClusteredVG(self.runner, 'vgc')

    def test_shared_reads_as_exclusive(self):
        # lvmlockd's LVM cannot tell the modes apart in its report.
        lv, = lvm.parse_lvs_json(_load(
            'node1-04-lvs_reportformat_json_units_b_o_lv_name_lv_attr_lv_'
            'size_lv_t.txt').output)
        self.assertTrue(lv.active_locally)
        self.assertTrue(lv.active_exclusively)
        self.assertFalse(lv.is_origin)

    def test_plain_extend_of_shared_lv_is_a_shared_conflict(self):
        self.runner.serve(['lvextend', '-L', '16m', 'vgc/rec-shared'],
                          _load('node2-05-lvextend_L_16m_vgc_rec_shared.txt'))
        error = self.assertRaises(exception.SharedLockConflict,
                                  self.vg.extend, 'rec-shared', 16)
        self.assertIn('incompatible mode', str(error))

    def test_shared_update_extend(self):
        _serve(self.runner, _load(
            'node2-06-lvextend_L_16m_lockopt_shupdate_vgc_rec_shared.txt'))
        self.vg.extend('rec-shared', 16, shared=True)
        self.assertEqual([('lvextend', '-L', '16m', '--lockopt', 'shupdate',
                           'vgc/rec-shared')], self.runner.calls)

    def test_extend_from_a_node_not_holding_it(self):
        # Refused the same with or without the shared update: the node
        # holding it must run it.
        for name in ('node2-12-lvextend_L_24m_vgc_rec_shared.txt',
                     'node2-13-lvextend_L_24m_lockopt_shupdate_vgc_rec_'
                     'shared.txt'):
            _serve(self.runner, _load(name))
        self.assertRaises(exception.LockedByOtherNode, self.vg.extend,
                          'rec-shared', 24)
        error = self.assertRaises(exception.LockedByOtherNode,
                                  self.vg.extend, 'rec-shared', 24,
                                  shared=True)
        self.assertNotIsInstance(error, exception.SharedLockConflict)

    def test_refresh(self):
        _serve(self.runner,
               _load('node1-09-lvchange_refresh_vgc_rec_shared.txt'))
        self.vg.refresh('rec-shared')
        self.assertEqual([('lvchange', '--refresh', 'vgc/rec-shared')],
                         self.runner.calls)

    def test_device_sizes_differ_until_refresh(self):
        def size(name):
            return int(_load(name).output)
        self.assertEqual(
            (8 * 1024 ** 2, 16 * 1024 ** 2, 16 * 1024 ** 2),
            (size('node1-07-blockdev_getsize64_dev_vgc_rec_shared.txt'),
             size('node2-08-blockdev_getsize64_dev_vgc_rec_shared.txt'),
             size('node1-10-blockdev_getsize64_dev_vgc_rec_shared.txt')))


class ExtendInUseTest(testtools.TestCase):
    """The operation on top: a shared conflict becomes a shared update
    and a refresh of this node's device.
    """

    def test_extend_falls_back_to_shared_update_and_refreshes(self):
        vg = mock.Mock(spec=lvm.ClusteredVG)
        vg.extend.side_effect = [exception.SharedLockConflict('shared'),
                                 None]
        vg.find.return_value = mock.Mock(active_locally=True)
        ops = operations.VolumeOperations(
            vg, mock.MagicMock(), mock.MagicMock())
        self.assertTrue(ops.extend_volume('v', 4, 8))
        self.assertEqual([mock.call('v', 8), mock.call('v', 8, shared=True)],
                         vg.extend.call_args_list)
        vg.refresh.assert_called_once_with('v')

    def test_plain_extend_needs_no_refresh(self):
        vg = mock.Mock(spec=lvm.ClusteredVG)
        ops = operations.VolumeOperations(
            vg, mock.MagicMock(), mock.MagicMock())
        self.assertFalse(ops.extend_volume('v', 4, 8))
        vg.refresh.assert_not_called()
