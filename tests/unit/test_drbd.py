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

"""DRBD state parsing, fed outputs recorded on the lab cluster."""

import dataclasses
import json

import testtools

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from tests.unit import recorded


class ProcDrbdTest(testtools.TestCase):

    def _state(self, filename):
        return drbd.parse_proc_drbd(recorded.load(filename).output, 0, 'r0')

    def test_connected_dual_primary(self):
        state = self._state('node1-01-cat_proc_drbd.txt')
        self.assertEqual(drbd.ConnectionState.CONNECTED, state.connection)
        self.assertTrue(state.is_connected)
        self.assertTrue(state.both_primary)
        self.assertTrue(state.both_up_to_date)
        self.assertFalse(state.may_be_split_brain)

    def test_disconnected_standalone(self):
        state = self._state('node1-27-cat_proc_drbd.txt')
        self.assertTrue(state.is_standalone)
        self.assertEqual(drbd.Role.UNKNOWN, state.peer_role)
        self.assertEqual(drbd.DiskState.UNKNOWN, state.peer_disk)
        self.assertFalse(state.both_primary)
        self.assertFalse(state.may_be_split_brain)

    def test_waiting_for_connection(self):
        state = self._state('node2-27-cat_proc_drbd.txt')
        self.assertEqual(drbd.ConnectionState.WF_CONNECTION, state.connection)
        self.assertFalse(state.is_connected)

    def test_split_brain_after_reconnect(self):
        # A create during the disconnect, then drbdadm connect: StandAlone
        # with 128 KiB out of sync, as the lab recorded.
        state = self._state('node1-32-cat_proc_drbd.txt')
        self.assertEqual(128, state.out_of_sync_kib)
        self.assertTrue(state.may_be_split_brain)

    def test_an_inconsistent_copy_has_not_diverged(self):
        # A new disk waiting for its peer counts everything out of sync;
        # it has nothing of its own to have diverged with.
        state = dataclasses.replace(
            self._state('node1-32-cat_proc_drbd.txt'),
            connection=drbd.ConnectionState.WF_CONNECTION,
            disk=drbd.DiskState.INCONSISTENT, out_of_sync_kib=1572796)
        self.assertFalse(state.may_be_split_brain)

    def test_peer_fenced(self):
        # Recorded on the survivor while the fault campaign's fenced node
        # rebooted: the peer's disk is Outdated, 268 KiB to resync to it.
        state = self._state(
            'gate-faults/corosync-killed/node1-01-cat_proc_drbd.txt')
        self.assertEqual((drbd.ConnectionState.WF_CONNECTION,
                          drbd.DiskState.OUTDATED, 268),
                         (state.connection, state.peer_disk,
                          state.out_of_sync_kib))
        self.assertTrue(state.peer_fenced)
        self.assertFalse(state.may_be_split_brain)

    def test_peer_not_fenced_while_connected(self):
        self.assertFalse(self._state(
            'node1-01-cat_proc_drbd.txt').peer_fenced)

    def test_version(self):
        text = recorded.load('node1-01-cat_proc_drbd.txt').output
        self.assertEqual((8, 4), drbd.proc_drbd_version(text))

    def test_not_drbd_output(self):
        self.assertRaises(exception.DrbdStateError, drbd.proc_drbd_version,
                          'cat: /proc/drbd: No such file or directory')

    def test_missing_minor_names_the_resource(self):
        text = recorded.load('node1-01-cat_proc_drbd.txt').output
        error = self.assertRaises(exception.DrbdStateError,
                                  drbd.parse_proc_drbd, text, 3, 'r9')
        self.assertIn('r9', str(error))

    def test_malformed_line_is_quoted(self):
        error = self.assertRaises(
            exception.DrbdStateError, drbd.parse_proc_drbd,
            'version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected garbage',
            0, 'r0')
        self.assertIn('cs:Connected garbage', str(error))

    def test_unconfigured(self):
        state = drbd.parse_proc_drbd(
            'version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Unconfigured\n',
            0, 'r0')
        self.assertEqual(drbd.ConnectionState.UNCONFIGURED, state.connection)
        self.assertFalse(state.both_up_to_date)


# DRBD 9 is not what the lab runs (Debian 12 ships the 8.4 module); this
# document follows the JSON layout drbd-utils prints for
# ``drbdsetup status --json`` and is marked as written, not recorded.
WRITTEN_DRBD9_STATUS = [{
    'name': 'r0', 'node-id': 1, 'role': 'Primary', 'suspended': False,
    'devices': [{'volume': 0, 'minor': 0, 'disk-state': 'UpToDate'}],
    'connections': [{
        'peer-node-id': 2, 'name': 'node2', 'connection-state': 'Connected',
        'peer-role': 'Primary',
        'peer_devices': [{'volume': 0, 'replication-state': 'Established',
                          'peer-disk-state': 'UpToDate',
                          'out-of-sync': 0}]}]}]


class StatusJsonTest(testtools.TestCase):

    def test_connected(self):
        state = drbd.parse_status_json(json.dumps(WRITTEN_DRBD9_STATUS), 'r0')
        self.assertTrue(state.is_connected)
        self.assertTrue(state.both_primary)
        self.assertTrue(state.both_up_to_date)

    def test_peer_outdated(self):
        status = json.loads(json.dumps(WRITTEN_DRBD9_STATUS))
        status[0]['connections'][0]['peer_devices'][0][
            'peer-disk-state'] = 'Outdated'
        state = drbd.parse_status_json(json.dumps(status), 'r0')
        self.assertEqual(drbd.DiskState.OUTDATED, state.peer_disk)
        self.assertFalse(state.both_up_to_date)

    def test_no_connection_is_standalone(self):
        status = json.loads(json.dumps(WRITTEN_DRBD9_STATUS))
        status[0]['connections'] = []
        state = drbd.parse_status_json(json.dumps(status), 'r0')
        self.assertTrue(state.is_standalone)

    def test_drbd84_rejects_json(self):
        # The real 8.4 answer to --json: usage text, not JSON.
        output = recorded.load('node1-06-drbdsetup_status_json_r0.txt').output
        self.assertRaises(exception.DrbdStateError, drbd.parse_status_json,
                          output, 'r0')

    def test_other_resource_only(self):
        self.assertRaises(exception.DrbdStateError, drbd.parse_status_json,
                          json.dumps(WRITTEN_DRBD9_STATUS), 'r1')


def generation_file(name):
    return recorded.load('gate-generation/' + name).output


class GetGiTest(testtools.TestCase):
    """``drbdsetup get-gi`` as DRBD 8.4 answered on the gate guests."""

    def test_healthy_nodes_share_the_current_uuid(self):
        self.assertEqual(
            '7E3173C55CA44047',
            drbd.parse_get_gi(generation_file(
                'node1-01-drbdsetup_get_gi_0.txt')))
        self.assertEqual(
            '7E3173C55CA44047',
            drbd.parse_get_gi(generation_file(
                'node2-02-drbdsetup_get_gi_0.txt')))

    def test_drbdadm_prints_the_same_line(self):
        # What the error message tells the operator to run.
        self.assertEqual('7E3173C55CA44047', drbd.parse_get_gi(
            generation_file('node1-03-drbdadm_get_gi_r0.txt')))

    def test_each_primary_starts_its_own_uuid_when_the_link_drops(self):
        node1, node2 = (drbd.parse_get_gi(generation_file(name)) for name in (
            'node1-07-drbdsetup_get_gi_0.txt',
            'node2-08-drbdsetup_get_gi_0.txt'))
        self.assertEqual('FA31739A4B95E8EF', node1)
        self.assertEqual('3AE4BEBBA2C63993', node2)

    def test_a_change_while_apart_keeps_the_uuid(self):
        self.assertEqual(
            'FA31739A4B95E8EF',
            drbd.parse_get_gi(generation_file(
                'node1-10-drbdsetup_get_gi_0.txt')))

    def test_recovery_leaves_both_with_a_new_uuid(self):
        uuids = {drbd.parse_get_gi(generation_file(name)) for name in (
            'reconnected-node1-01-drbdsetup_get_gi_0.txt',
            'reconnected-node2-02-drbdsetup_get_gi_0.txt')}
        self.assertEqual({'FA31739A4B95E8EF'}, uuids)

    def test_other_output_is_quoted(self):
        for text in ('', 'Device minor not allocated',
                     '7E3173C55CA44047:0000000000000000:1:1'):
            error = self.assertRaises(exception.DrbdStateError,
                                      drbd.parse_get_gi, text)
            self.assertIn(repr(text), str(error))


DEBUGFS_GI = '/sys/kernel/debug/drbd/minors/0/data_gen_id'
DATA_GEN_ID = ('gate-readings/node1-02-cat_sys_kernel_debug_drbd_minors_0_'
               'data_gen_id.txt')


class DataGenIdTest(testtools.TestCase):
    """DRBD 8.4's debugfs ``data_gen_id``, as the gate guests showed it."""

    def test_current_uuid_equals_get_gi(self):
        for node, files in (('node1', ('02', '03')), ('node2', ('09', '10'))):
            data_gen_id, get_gi = (
                recorded.load('gate-readings/%s-%s-%s.txt' % (
                    node, number, suffix)).output
                for number, suffix in zip(files, (
                    'cat_sys_kernel_debug_drbd_minors_0_data_gen_id',
                    'drbdsetup_get_gi_0')))
            self.assertEqual(drbd.parse_get_gi(get_gi),
                             drbd.parse_data_gen_id(data_gen_id))

    def test_garbage_quoted(self):
        error = self.assertRaises(exception.DrbdStateError,
                                  drbd.parse_data_gen_id, 'no such device')
        self.assertIn("'no such device'", str(error))


class DrbdResourceTest(testtools.TestCase):

    def test_reads_84_through_runner_and_caches_minor(self):
        runner = recorded.ReplayRunner(
            recorded.load('node1-01-cat_proc_drbd.txt'))
        runner.serve(['drbdadm', 'sh-minor', 'r0'],
                     recorded.Recording('drbdadm sh-minor r0', 'node1', 0,
                                        '0\n'))
        resource = drbd.DrbdResource(runner, 'r0')
        self.assertTrue(resource.state().both_primary)
        self.assertTrue(resource.state().is_connected)
        self.assertEqual(1, runner.calls.count(('drbdadm', 'sh-minor', 'r0')))

    def test_reads_9_with_json(self):
        runner = recorded.ReplayRunner()
        runner.serve(['cat', '/proc/drbd'], recorded.Recording(
            'cat /proc/drbd', 'n', 0,
            'version: 9.2.8 (api:2/proto:86-122)\n'))
        runner.serve(['drbdsetup', 'status', '--json', 'r0'],
                     recorded.Recording('', 'n', 0,
                                        json.dumps(WRITTEN_DRBD9_STATUS)))
        state = drbd.DrbdResource(runner, 'r0').state()
        self.assertTrue(state.both_up_to_date)
        self.assertEqual(2, state.peer_node_id)

    def _84(self, *recordings):
        runner = recorded.ReplayRunner(
            recorded.load('node1-01-cat_proc_drbd.txt'), *recordings)
        runner.serve(['drbdadm', 'sh-minor', 'r0'],
                     recorded.Recording('drbdadm sh-minor r0', 'node1', 0,
                                        '0\n'))
        return runner, drbd.DrbdResource(runner, 'r0')

    def test_84_generation_read_from_debugfs_with_the_state(self):
        runner, resource = self._84(recorded.load(DATA_GEN_ID))
        self.assertIsNone(resource.state().generation)
        calls = len(runner.calls)
        state = resource.state_with_generation()
        self.assertTrue(state.is_connected)
        # what drbdsetup get-gi printed at the same moment
        self.assertEqual(drbd.parse_get_gi(recorded.load(
            'gate-readings/node1-03-drbdsetup_get_gi_0.txt').output),
            state.generation)
        self.assertEqual([('cat', '/proc/drbd'), ('cat', DEBUGFS_GI)],
                         runner.calls[calls:])

    def test_84_without_debugfs_falls_back_to_get_gi_for_good(self):
        runner, resource = self._84(
            recorded.Recording('cat ' + DEBUGFS_GI, 'node1', 1,
                               'cat: %s: No such file or directory' %
                               DEBUGFS_GI),
            recorded.load('gate-generation/node1-07-drbdsetup_get_gi_0.txt'))
        self.assertEqual('FA31739A4B95E8EF',
                         resource.state_with_generation().generation)
        self.assertEqual([('cat', '/proc/drbd'),
                          ('drbdsetup', 'get-gi', '0')],
                         resource.readings(with_generation=True))

    def _drbd9(self, status):
        runner = recorded.ReplayRunner()
        runner.serve(['cat', '/proc/drbd'], recorded.Recording(
            'cat /proc/drbd', 'n', 0,
            'version: 9.2.8 (api:2/proto:86-122)\n'))
        runner.serve(['drbdsetup', 'status', '--json', 'r0'],
                     recorded.Recording('', 'n', 0, json.dumps(status)))
        return runner

    def test_9_generation_per_peer_as_documented(self):
        runner = self._drbd9(WRITTEN_DRBD9_STATUS)
        runner.serve(['drbdsetup', 'get-gi', 'r0', '2', '0'],
                     recorded.load(
                         'gate-generation/node1-01-drbdsetup_get_gi_0.txt'))
        state = drbd.DrbdResource(runner, 'r0').state_with_generation()
        self.assertEqual('7E3173C55CA44047', state.generation)

    def test_9_without_a_peer_has_no_generation_to_read(self):
        status = json.loads(json.dumps(WRITTEN_DRBD9_STATUS))
        status[0]['connections'] = []
        state = drbd.DrbdResource(self._drbd9(status),
                                  'r0').state_with_generation()
        self.assertTrue(state.is_standalone)
        self.assertIsNone(state.generation)


class DebugfsUnreadableTest(testtools.TestCase):

    def test_no_local_disk_is_an_error_not_a_fallback(self):
        runner = recorded.ReplayRunner(
            recorded.load('node1-01-cat_proc_drbd.txt'),
            recorded.Recording('cat ' + DEBUGFS_GI, 'node1', 1,
                               'cat: %s: No such device' % DEBUGFS_GI))
        runner.serve(['drbdadm', 'sh-minor', 'r0'],
                     recorded.Recording('drbdadm sh-minor r0', 'node1', 0,
                                        '0\n'))
        resource = drbd.DrbdResource(runner, 'r0')
        error = self.assertRaises(exception.CommandFailed,
                                  resource.state_with_generation)
        self.assertIn('No such device', str(error))
        self.assertEqual([('cat', '/proc/drbd'), ('cat', DEBUGFS_GI)],
                         resource.readings(with_generation=True))
