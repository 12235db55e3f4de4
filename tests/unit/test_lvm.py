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

"""The clustered VG layer: reports and refusals recorded on the lab
cluster, and the input checks that run before any command."""

import dataclasses

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from tests.unit import recorded

VGS = ('node1-14-vgs_reportformat_json_units_b_o_vg_name_vg_attr_vg_size_'
       'vg_f.txt')
METADATA_FULL = 'gate-metadata-full/'
LVS = ('node1-23-lvs_reportformat_json_units_b_o_lv_name_vg_name_lv_attr_'
       'lv_s.txt')


class ReportTest(testtools.TestCase):

    def test_shared_vg(self):
        vg, = lvm.parse_vgs_json(recorded.load(VGS).output)
        self.assertEqual('vgc', vg.name)
        self.assertEqual('dlm', vg.lock_type)
        self.assertEqual(264241152, vg.size_bytes)
        self.assertEqual(4194304, vg.extent_bytes)

    def test_lvs(self):
        first, second = lvm.parse_lvs_json(recorded.load(LVS).output)
        self.assertEqual('volume-0001', first.name)
        self.assertEqual(24, first.size_mib)
        self.assertEqual(('cinder-volume-id:0001',), first.tags)
        self.assertEqual('0001', first.tag_value('cinder-volume-id:'))
        self.assertTrue(first.active_locally)
        self.assertTrue(first.active_exclusively)
        self.assertFalse(first.active_remotely)
        self.assertFalse(first.open)
        self.assertFalse(first.is_snapshot)
        self.assertEqual((), second.tags)

    def test_metadata_area_full(self):
        vg, = lvm.parse_vgs_json(recorded.load(
            METADATA_FULL + 'node1-01-vgs_reportformat_json_units_b_o_vg_'
                            'name_vg_attr_vg_size_vg_f.txt').output)
        self.assertEqual(1279, vg.lv_count)
        self.assertEqual(1044480, vg.metadata_area_bytes)
        self.assertEqual(0, vg.metadata_free_bytes)

    def test_metadata_area_not_reported(self):
        vg, = lvm.parse_vgs_json(recorded.load(VGS).output)
        self.assertIsNone(vg.metadata_area_bytes)
        self.assertIsNone(vg.metadata_free_bytes)

    def test_not_json_is_quoted(self):
        error = self.assertRaises(exception.DrbdClvmError, lvm.parse_lvs_json,
                                  '  Reading VG vgc without a lock.')
        self.assertIn('Reading VG vgc without a lock', str(error))


class DeviceSizeTest(testtools.TestCase):
    """node1 after node2 grew an LV both had active (gate-start-up)."""

    LISTING = ('gate-start-up/node1-08-lvs_reportformat_json_units_b_o_'
               'lv_name_lv_attr_lv_size_lv_t.txt')
    TABLE = 'gate-start-up/node1-09-dmsetup_table.txt'

    def test_table_summed_per_device(self):
        sizes = lvm.parse_dmsetup_table(recorded.load(self.TABLE).output)
        self.assertEqual(8 * lvm.MIB, sizes['vgc-rec--grown'])
        self.assertEqual(12 * lvm.MIB, sizes['vgc-rec--plain'])
        self.assertIn('vgc-rec--origin-real', sizes)
        self.assertEqual({}, lvm.parse_dmsetup_table('No devices found\n'))

    def test_names_with_dashes(self):
        self.assertEqual('my--vg-_snap--a--b',
                         lvm.device_mapper_name('my-vg', '_snap-a-b'))

    def test_the_grown_lv_is_the_one_behind(self):
        listing = recorded.load(self.LISTING)
        # LVM warned on stderr that the device no longer matches
        report, warning = listing.output.split('  WARNING: ')
        self.assertIn('Cannot find matching striped segment', warning)
        runner = recorded.ReplayRunner(
            dataclasses.replace(listing, output=report),
            recorded.load(self.TABLE))
        vg = lvm.ClusteredVG(runner, 'vgc')
        lvs = vg.logical_volumes()
        sizes = vg.device_sizes(lv.name for lv in lvs)
        self.assertEqual(['rec-grown'], [
            lv.name for lv in lvs
            if not lv.is_snapshot and sizes[lv.name] != lv.size_bytes])
        self.assertEqual({}, vg.device_sizes(['not-active-here']))


class NameTest(testtools.TestCase):

    def test_cinder_names_pass(self):
        for name in ('volume-6b2f2c1e-43a6-4c46-a8e4-1e1e1e1e1e1e',
                     '_snapshot-1', 'a.b+c_d-e'):
            self.assertEqual(name, lvm.validate_name(name))

    def test_bad_names_refused(self):
        for name in ('vol; rm -rf /', '-vol', '--help', '..', '.',
                     'vol/../x', 'volumé', 'x' * 200, '', 'snapshot-1',
                     'pvmove0', 'v_tmeta', 'a b', 'vol\n'):
            self.assertRaises(exception.InvalidInput, lvm.validate_name, name)

    def test_non_string_refused(self):
        self.assertRaises(exception.InvalidInput, lvm.validate_name, None)


class SizeTest(testtools.TestCase):

    def test_positive_whole_numbers(self):
        self.assertEqual(1024, lvm.validate_size_mib(1024))

    def test_refused(self):
        for size in (0, -1, 1.5, '10', None, True):
            self.assertRaises(exception.InvalidInput, lvm.validate_size_mib,
                              size)


class RefusalTest(testtools.TestCase):
    """What node2 of the lab got back, turned into the driver's errors."""

    def _vg(self, argv, filename):
        runner = recorded.ReplayRunner(node='node2')
        runner.serve(argv, recorded.load(filename))
        return lvm.ClusteredVG(runner, 'vgc')

    def test_locked_by_other_host(self):
        vg = self._vg(['lvchange', '-aey', 'vgc/volume-0001'],
                      'node2-16-lvchange_aey_vgc_volume_0001.txt')
        error = self.assertRaises(exception.LockedByOtherNode, vg.activate,
                                  'volume-0001', lvm.Activation.EXCLUSIVE)
        self.assertTrue(error.retriable)
        self.assertIn('LV locked by other host: vgc/volume-0001', str(error))

    def test_extend_of_shared_active(self):
        vg = self._vg(['lvextend', '-L', '24m', 'vgc/volume-0002'],
                      'node2-18-lvextend_L_24M_vgc_volume_0002.txt')
        error = self.assertRaises(exception.LockedByOtherNode, vg.extend,
                                  'volume-0002', 24)
        self.assertIn('shared mode', str(error))

    def test_remove_of_volume_held_by_peer(self):
        vg = self._vg(['lvremove', '-y', 'vgc/volume-0001'],
                      'node2-19-lvremove_y_vgc_volume_0001.txt')
        self.assertRaises(exception.LockedByOtherNode, vg.remove,
                          'volume-0001')

    def test_too_big(self):
        vg = self._vg(['lvcreate', '-y', '-an', '-L', '102400m', '-n',
                       'too-big', 'vgc'],
                      'node2-21-lvcreate_y_an_L_100G_n_too_big_vgc.txt')
        error = self.assertRaises(exception.InsufficientSpace, vg.create,
                                  'too-big', 102400)
        self.assertIn('insufficient free space (53 extents)', str(error))

    def test_metadata_area_full(self):
        name = 'volume-5ca1e000-0000-4000-8000-00000000ff01'
        tag = 'cinder-volume:5ca1e000-0000-4000-8000-00000000ff01'
        vg = self._vg(['lvcreate', '-y', '-an', '-L', '4m', '-n', name,
                       '--addtag', tag, 'vgc'],
                      METADATA_FULL + 'node1-02-lvcreate_y_an_L_4m_n_volume_'
                                      '5ca1e000_0000_4000_8000_00000000.txt')
        error = self.assertRaises(exception.MetadataAreaFull, vg.create,
                                  name, 4, tags=[tag])
        self.assertIn('metadata area is full', str(error))
        self.assertIn('exceeds maximum metadata size (521472 bytes)',
                      str(error))

    def test_lock_manager_down(self):
        vg = self._vg(['lvcreate', '-y', '-an', '-L', '8m', '-n', 'no-lockd',
                       'vgc'],
                      'run2-node2-11-lvcreate_y_an_L_8M_n_no_lockd_vgc.txt')
        self.assertRaises(exception.LockManagerUnavailable, vg.create,
                          'no-lockd', 8)

    def test_snapshot_of_origin_held_elsewhere(self):
        # Origin shared-active on both nodes, then exclusive on the other.
        # (Recorded without -c: LVM refuses on the origin's lock before it
        # looks at the chunk size.)
        for origin, recording in (
                ('volume-b', 'run2-node1-11-lvcreate_y_s_L_8M_n_snap_b_'
                             'shared_vgc_volume_b.txt'),
                ('volume-a', 'run2-node2-08-lvcreate_y_s_L_8M_n_snap_a_'
                             'fromB_vgc_volume_a.txt')):
            vg = self._vg(['lvcreate', '-y', '-s', '-c', '4k', '-L', '8m',
                           '-n', 'snap', 'vgc/' + origin], recording)
            error = self.assertRaises(exception.LockedByOtherNode,
                                      vg.create_snapshot, 'snap', origin, 8,
                                      4)
            self.assertIn('Failed to lock origin LV vgc/' + origin,
                          str(error))

    def _deactivate(self, exit_code, words):
        runner = recorded.ReplayRunner()
        runner.serve(['lvchange', '-an', 'vgc/volume-0001'],
                     recorded.Recording('lvchange', 'node1', exit_code,
                                        words))
        return self.assertRaises(
            exception.DrbdClvmError, lvm.ClusteredVG(runner, 'vgc').activate,
            'volume-0001', lvm.Activation.INACTIVE)

    def test_open_volume(self):
        error = self._deactivate(lvm.ECMD_FAILED,
                                 '  Logical volume vgc/volume-0001 in use.')
        self.assertIsInstance(error, exception.VolumeBusy)

    def test_lockspace_still_starting_is_the_lock_manager(self):
        # Words of node2's lvcreate right after it rejoined and went
        # Primary (fault campaign, changes-during-resync).
        runner = recorded.ReplayRunner()
        argv = ['lvcreate', '-y', '-an', '-L', '8m', '-n', 'volume-0001',
                'vgc']
        runner.serve(argv, recorded.Recording(
            ' '.join(argv), 'node2', lvm.ECMD_FAILED,
            '  VG vgc lock failed: lock start in progress\n'))
        error = self.assertRaises(exception.LockManagerUnavailable,
                                  lvm.ClusteredVG(runner, 'vgc').create,
                                  'volume-0001', 8)
        self.assertIn('still starting on this node', str(error))
        self.assertTrue(error.retriable)

    def test_refusal_words_from_another_program_are_its_failure(self):
        # LVM's refusals exit with its code; the root helper's do not.
        error = self._deactivate(1, 'sudo: bind: Address already in use')
        self.assertIsInstance(error, exception.CommandFailed)
        self.assertEqual(1, error.exit_code)

    def test_bad_name_never_reaches_lvm(self):
        runner = recorded.ReplayRunner()
        vg = lvm.ClusteredVG(runner, 'vgc')
        self.assertRaises(exception.InvalidInput, vg.create, 'bad;name', 8)
        self.assertRaises(exception.InvalidInput, vg.create, 'ok', 0)
        self.assertRaises(exception.InvalidInput, vg.create, 'ok', 8,
                          tags=['bad tag'])
        self.assertEqual([], runner.calls)

    def test_missing_vg(self):
        runner = recorded.ReplayRunner()
        runner.serve(['vgs', '--reportformat', 'json', '--units', 'b', '-o',
                      lvm._VG_FIELDS, 'vgc'],
                     recorded.Recording('vgs', 'node1', 5,
                                        '  Volume group "vgc" not found\n'
                                        '  Cannot process volume group vgc'))
        error = self.assertRaises(exception.VolumeGroupNotFound,
                                  lvm.ClusteredVG(runner, 'vgc').volume_group)
        self.assertIn('check volume_group', str(error))


class CommandLineTest(testtools.TestCase):
    """The exact argument lists, as the lab cluster accepted them."""

    def _vg(self):
        runner = recorded.ReplayRunner()
        runner.recordings = AnyCommand()
        return lvm.ClusteredVG(runner, 'vgc'), runner

    def test_snapshot_chunk(self):
        vg, runner = self._vg()
        vg.create_snapshot('_clone-v', 'volume-a', 8,
                           tags=['cinder-state:creating'], chunk_kib=512)
        self.assertEqual([('lvcreate', '-y', '-s', '-c', '512k', '-L', '8m',
                           '-n', '_clone-v', '--addtag',
                           'cinder-state:creating', 'vgc/volume-a')],
                         runner.calls)
        for chunk in (0, 3, 1024, '512', None):
            self.assertRaises(exception.InvalidInput, vg.create_snapshot,
                              'snap', 'volume-a', 8, chunk_kib=chunk)
        self.assertEqual(1, len(runner.calls))

    def test_create_is_inactive_and_tagged(self):
        vg, runner = self._vg()
        vg.create('volume-1', 16, tags=['cinder-volume:1'])
        self.assertEqual([('lvcreate', '-y', '-an', '-L', '16m', '-n',
                           'volume-1', '--addtag', 'cinder-volume:1', 'vgc')],
                         runner.calls)

    def test_create_active_for_a_copy(self):
        vg, runner = self._vg()
        vg.create('volume-2', 8, activation=lvm.Activation.EXCLUSIVE)
        self.assertEqual([('lvcreate', '-y', '-aey', '-L', '8m', '-n',
                           'volume-2', 'vgc')], runner.calls)
        self.assertRaises(exception.InvalidInput, vg.create, 'volume-3', 8,
                          activation=lvm.Activation.SHARED)

    def test_activation_modes(self):
        vg, runner = self._vg()
        vg.activate('v', lvm.Activation.EXCLUSIVE)
        vg.activate('v', lvm.Activation.SHARED)
        vg.activate('v', lvm.Activation.INACTIVE)
        self.assertEqual([('lvchange', '-aey', 'vgc/v'),
                          ('lvchange', '-asy', 'vgc/v'),
                          ('lvchange', '-an', 'vgc/v')], runner.calls)
        self.assertRaises(exception.InvalidInput, vg.activate, 'v', 'y')


class AnyCommand(dict):
    """Every command succeeds with no output."""

    def __contains__(self, argv):
        return True

    def __getitem__(self, argv):
        return recorded.Recording(' '.join(argv), 'node1', 0, '')


class GateRecordingTest(testtools.TestCase):
    """Outputs the cluster gate recorded with the driver's exact queries."""

    def _lvs(self, filename):
        return {lv.name: lv for lv in lvm.parse_lvs_json(
            recorded.load('gate/' + filename).output)}

    def test_holder_sees_exclusive_snapshot_and_origin(self):
        lvs = self._lvs('node1-24-lvs_reportformat_json_units_b_o_lv_name_'
                        'lv_attr_lv_size_lv_t.txt')
        self.assertTrue(lvs['rec-volume'].active_exclusively)
        self.assertEqual('rec-volume', lvs['_snapshot-rec'].origin)
        self.assertTrue(lvs['_snapshot-rec'].is_snapshot)
        self.assertEqual(('cinder-snapshot:rec',), lvs['_snapshot-rec'].tags)

    def test_other_node_sees_inactive_and_not_open(self):
        # lv_device_open reads "unknown" where the LV is not active.
        lvs = self._lvs('node2-25-lvs_reportformat_json_units_b_o_lv_name_'
                        'lv_attr_lv_size_lv_t.txt')
        for lv in lvs.values():
            self.assertFalse(lv.open)
            self.assertFalse(lv.is_active)

    def test_missing_lv_is_not_found(self):
        runner = recorded.ReplayRunner(recorded.load(
            'gate/node2-29-lvs_reportformat_json_units_b_o_lv_name_lv_attr_'
            'lv_size_lv_t.txt'), node='node2')
        self.assertIsNone(lvm.ClusteredVG(runner, 'vgc').find(
            'no-such-volume'))

    def test_extend_of_volume_held_by_peer(self):
        runner = recorded.ReplayRunner(recorded.load(
            'gate/node2-27-lvextend_L_16m_vgc_rec_volume.txt'), node='node2')
        self.assertRaises(exception.LockedByOtherNode,
                          lvm.ClusteredVG(runner, 'vgc').extend,
                          'rec-volume', 16)


class VolumeGroupWithTagsTest(testtools.TestCase):
    """One vgs with LV columns, as the gate cluster printed it."""

    def test_rows_per_lv_carry_the_vg(self):
        vg, tags = lvm.parse_vg_with_tags_json(recorded.load(
            'gate/node1-34-vgs_with_lv_columns.txt').output)
        self.assertEqual('vgc', vg.name)
        self.assertEqual(1052770304, vg.free_bytes)
        self.assertEqual({'one': ('cinder-volume:1',), 'snap': ()}, tags)

    def test_empty_vg_has_no_row(self):
        self.assertEqual((None, {}), lvm.parse_vg_with_tags_json(
            recorded.load('gate/node1-33-vgs_with_lv_columns_empty_vg.txt'
                          ).output))


class RemovePlainTest(testtools.TestCase):
    """One-command delete: LVM's selection leaves origins and snapshots
    alone (recorded on the gate guests, exit 0 either way).
    """

    def _removed(self, name):
        recording = recorded.load(
            'gate-readings/select-node1-%s-lvremove_y_S_lv_name_%s.txt' % {
                'rec-origin': ('19', 'rec_origin'),
                'rec-snap': ('20', 'rec_snap'),
                'rec-plain': ('21', 'rec_plain'),
                'rec-missing': ('22', 'rec_missing')}[name])
        return lvm.ClusteredVG(recorded.ReplayRunner(recording),
                               'vgc').remove_plain(name)

    def test_plain_lv_removed(self):
        self.assertTrue(self._removed('rec-plain'))

    def test_origin_snapshot_and_missing_left_alone(self):
        for name in ('rec-origin', 'rec-snap', 'rec-missing'):
            self.assertFalse(self._removed(name), name)


COMMIT = 'gate-commit/'
PVCK = 'pvck_dump_headers_dev_drbd0.txt'


def _commit_seen(filename):
    return lvm.parse_pvck_commit(recorded.load(COMMIT + filename).output,
                                 'vgc')


class LastCommitTest(testtools.TestCase):
    """The PVs' headers as the gate's two nodes printed them around the
    other node's commits.
    """

    def test_both_nodes_see_one_commit(self):
        self.assertIsNotNone(_commit_seen('node1-02-' + PVCK))
        self.assertEqual(_commit_seen('node1-02-' + PVCK),
                         _commit_seen('node2-03-' + PVCK))
        self.assertEqual(_commit_seen('node1-05-' + PVCK),
                         _commit_seen('node2-06-' + PVCK))

    def test_each_commit_of_the_other_node_shows(self):
        seen = [_commit_seen(name) for name in (
            'node1-02-' + PVCK, 'node1-05-' + PVCK, 'node1-08-' + PVCK)]
        self.assertEqual(3, len(set(seen)))

    def test_another_vg_or_no_header_tells_nothing(self):
        text = recorded.load(COMMIT + 'node1-02-' + PVCK).output
        self.assertIsNone(lvm.parse_pvck_commit(text, 'other'))
        self.assertIsNone(lvm.parse_pvck_commit(
            '  Cannot use /dev/drbd0: device not found\n', 'vgc'))

    def test_pvs_of_the_vg(self):
        self.assertEqual(['/dev/drbd0'], lvm.parse_pvs_json(
            recorded.load(COMMIT + 'node1-01-pvs_reportformat_json_units_b_o_'
                          'pv_name_vg_name.txt').output, 'vgc'))


class VolumeGroupReadAgainTest(testtools.TestCase):
    """The stats refresh's read is skipped while no commit shows."""

    PVCK = ('pvck', '--dump', 'headers', '/dev/drbd0')
    VGS = ('vgs', '--reportformat', 'json', '--units', 'b', '-o',
           '%s,lv_name,lv_tags' % lvm._VG_FIELDS, 'vgc')

    def setUp(self):
        super().setUp()
        self.runner = recorded.ReplayRunner(recorded.load(
            COMMIT + 'node1-01-pvs_reportformat_json_units_b_o_pv_name_vg_'
            'name.txt'))
        self.runner.serve(self.VGS, recorded.load(
            'gate/node1-34-vgs_with_lv_columns.txt'))
        self.runner.serve(self.PVCK, recorded.load(COMMIT + 'node1-02-' +
                                                   PVCK))
        self.vg = lvm.ClusteredVG(self.runner, 'vgc')

    def _reads(self):
        return self.runner.calls.count(self.VGS)

    def test_no_commit_no_read(self):
        first = self.vg.volume_group_and_tags()
        self.assertEqual(first, self.vg.volume_group_and_tags())
        self.assertEqual(1, self._reads())
        self.assertEqual({'one': ('cinder-volume:1',), 'snap': ()}, first[1])

    def test_a_commit_reads_again(self):
        self.vg.volume_group_and_tags()
        self.runner.serve(self.PVCK, recorded.load(COMMIT + 'node1-05-' +
                                                   PVCK))
        self.vg.volume_group_and_tags()
        self.vg.volume_group_and_tags()
        self.assertEqual(2, self._reads())

    def test_headers_that_tell_nothing_read_every_time(self):
        self.runner.serve(self.PVCK, recorded.Recording(
            ' '.join(self.PVCK), 'node1', 5,
            '  Cannot use /dev/drbd0: device not found\n'))
        self.vg.volume_group_and_tags()
        self.vg.volume_group_and_tags()
        self.assertEqual(2, self._reads())

    def test_headers_that_hang_end_the_refresh(self):
        self.runner.serve(self.PVCK, recorded.Recording(
            ' '.join(self.PVCK), 'node1', None, ''))
        self.assertRaises(exception.CommandTimeout,
                          self.vg.volume_group_and_tags)
        self.assertEqual(0, self._reads())

    def test_callers_cannot_change_what_is_kept(self):
        self.vg.volume_group_and_tags()[1]['one'] = ('changed',)
        self.assertEqual(('cinder-volume:1',),
                         self.vg.volume_group_and_tags()[1]['one'])
