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

"""The gate's agent client: a guest that goes away mid-answer is a
GuestError the gate's waits handle, whatever the socket says.
"""

import json
import os
import socket
from unittest import mock

import fixtures
import testtools

from drbd_clvm_driver import exception
from tests.cluster import guests
from tests.unit import recorded


class AgentClientTest(testtools.TestCase):

    def _client(self, *chunks):
        client = guests.AgentClient('/nonexistent/node1.agent')
        client._socket = mock.Mock(spec=socket.socket)
        client._socket.recv.side_effect = chunks
        return client

    def test_answer_read_across_chunks(self):
        client = self._client(b'{"id": 1, "exit_', b'code": 0}\n')
        self.assertEqual({'id': 1, 'exit_code': 0},
                         client.call(['true'], 5))

    def test_reset_while_answering_is_a_hang_up(self):
        # node1 fenced (qemu reset) during a call, as a scenario's cleanup
        # saw it on the real cluster
        client = self._client(ConnectionResetError(104, 'Connection reset '
                                                        'by peer'))
        error = self.assertRaises(guests.GuestError, client.call,
                                  ['cat', '/proc/sys/kernel/random/boot_id'],
                                  5)
        self.assertIn('hung up: [Errno 104] Connection reset by peer',
                      str(error))
        self.assertIsNone(client._socket)  # the next call reconnects

    def test_closed_is_a_hang_up(self):
        error = self.assertRaises(guests.GuestError,
                                  self._client(b'').call, ['true'], 5)
        self.assertIn('hung up', str(error))


class SharedLunLabTest(testtools.TestCase):
    """The three-node lab as qemu and the scenario tests see it."""

    def setUp(self):
        super().setUp()
        self.workdir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.MockPatch('subprocess.run'))

    def _lab(self, control=None, lock_manager='sanlock'):
        hubs = []
        lab = guests._make_guests('/images', self.workdir, 'root.img',
                                  control, hubs, 3, lock_manager)
        for hub in hubs:
            self.addCleanup(hub.stop)
        return lab, hubs

    def test_every_guest_shares_one_disk_and_has_a_watchdog(self):
        lab, hubs = self._lab()
        self.assertEqual(1, len(hubs))
        self.assertEqual(['node1', 'node2', 'node3'],
                         [guest.name for guest in lab])
        lun = os.path.join(self.workdir, 'shared-lun.img')
        self.assertEqual(guests.SHARED_LUN_SIZE, os.path.getsize(lun))
        for guest in lab:
            command = ' '.join(guest.command())
            self.assertIn('file=%s,if=none,id=lun' % lun, command)
            self.assertIn('scsi-hd,drive=lun,share-rw=on,serial=%s'
                          % guests.SHARED_LUN_SERIAL, command)
            self.assertIn('-device i6300esb', command)
            self.assertIn('drbd_clvm_lab=shared_lun drbd_clvm_nodes=3 '
                          'drbd_clvm_lock=sanlock', command)
            # no DRBD disk of its own
            self.assertIsNone(guest.disk)

    def test_cinder_on_three_nodes_adds_a_compute_host(self):
        lab, hubs = self._lab(control=['tcp:10.0.2.100:5672-cmd:x'],
                              lock_manager='lvmlockd')
        self.assertEqual(2, len(hubs))  # the cluster wire, the storage one
        self.assertEqual([('node1', 'cluster'), ('node2', 'cluster'),
                          ('node3', 'cluster'), ('node4', 'compute')],
                         [(guest.name, guest.role) for guest in lab])
        for guest in lab[:3]:
            macs = [mac for mac, netdev in guest.networks]
            self.assertEqual([guests.WIRE_MAC, guests.STORAGE_MAC,
                              guests.CONTROL_MAC], macs)
            self.assertIsNotNone(guest.shared_lun)
        self.assertEqual([guests.STORAGE_MAC],
                         [mac for mac, netdev in lab[3].networks])
        self.assertIsNone(lab[3].shared_lun)

    def test_the_lab_crosses_to_the_scenario_process(self):
        lab = {'replication': 'shared_lun',
               'target': guests.SHARED_LUN_DEVICE,
               'lock_manager': 'sanlock', 'fencing': False}
        cluster = guests.RealCluster(
            [guests.RealNode('node%d' % number, '/x/node%d.agent' % number)
             for number in (1, 2, 3)], lab)
        path = os.path.join(self.workdir, 'state.json')
        with open(path, 'w') as handle:
            json.dump(cluster.state(), handle)
        attached = guests.attach(path)
        self.assertEqual(('shared_lun', guests.SHARED_LUN_DEVICE, 'sanlock',
                          False), (attached.replication, attached.target,
                                   attached.lock_manager, attached.fencing))
        self.assertEqual(3, len(attached.nodes))

    def test_the_drbd_pair_by_default(self):
        cluster = guests.RealCluster([])
        self.assertEqual(('drbd', guests.DRBD_RESOURCE, 'lvmlockd', True),
                         (cluster.replication, cluster.target,
                          cluster.lock_manager, cluster.fencing))


class LockDisciplineTest(testtools.TestCase):
    """Every booted mode ends by reading the nodes' consoles for lvmlockd's
    word that metadata was committed under a shared VG lock.
    """

    RECORDED = os.path.join(recorded.FIXTURES, 'lvm-shell',
                            'node1-console-shared-lock-commits.txt')

    def _console(self, text):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'node2.console.log')
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def test_the_recorded_commits_are_found(self):
        found = guests.shared_lock_commits([self.RECORDED])
        self.assertEqual(7, len(found))
        self.assertEqual(
            (self.RECORDED, 'lvmlockd[337]: 1796426901 S lvm_vgc R VGLK '
             'res_update cl 355 version on non-ex lock'), found[0])
        error = self.assertRaises(guests.GuestError,
                                  guests.check_lock_discipline,
                                  [self._console(''), self.RECORDED])
        self.assertIn('7 LVM metadata change(s) committed under a shared '
                      'VG lock', str(error))

    def test_other_lvmlockd_messages_pass(self):
        clean = self._console(
            'lvmlockd[307]: 1796427585 S lvm_vgc R VGLK res_update cl 81 '
            'lock not found\r\n[ 12.5] dlm: lvm_vgc: joining the lockspace '
            'group...\r\n')
        self.assertEqual([], guests.shared_lock_commits([clean]))
        guests.check_lock_discipline([clean])


class ProvenanceTest(testtools.TestCase):

    def test_the_gates_command_line_as_run(self):
        argv = ['/repo/tests/cluster/gate.py', '--no-scenarios', '--logs',
                'results/gate faults']
        with mock.patch('sys.argv', argv):
            command = guests.provenance()['command']
        self.assertEqual(
            "tools/cluster/gate --no-scenarios --logs 'results/gate faults'",
            command)


class WaitUntilTest(testtools.TestCase):

    def test_looks_less_often_the_longer_it_waits(self):
        looks = []
        pauses = []
        self.useFixture(fixtures.MockPatch(
            'tests.cluster.guests.time.sleep', pauses.append))

        def tenth_look():
            looks.append(None)
            return len(looks) == 10

        guests.wait_until(tenth_look, 60, 'the tenth look')
        self.assertEqual(9, len(pauses))
        self.assertEqual(guests.POLL_FIRST, pauses[0])
        self.assertEqual(sorted(pauses), pauses)
        self.assertEqual(guests.POLL_LONGEST, pauses[-1])

    def test_names_what_it_waited_for_when_time_runs_out(self):
        self.useFixture(fixtures.MockPatch(
            'tests.cluster.guests.time.sleep'))
        error = self.assertRaises(guests.GuestError, guests.wait_until,
                                  lambda: False, -1, 'a sign of life')
        self.assertIn('a sign of life', str(error))


class WaitReadyTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatch(
            'tests.cluster.guests.time.sleep'))

    def test_a_guest_too_busy_to_answer_is_not_ready_yet(self):
        node = mock.Mock()
        node.name = 'node2'
        node.run.side_effect = [
            mock.Mock(stdout='booting'),
            exception.CommandTimeout(['cat', '/run/drbd-clvm/state'], 10,
                                     'node2'),
            mock.Mock(stdout='ready')]
        guests.wait_ready([node], timeout=60)
        self.assertEqual(3, node.run.call_count)

    def test_a_failed_stack_ends_the_wait(self):
        node = mock.Mock()
        node.name = 'node2'
        node.run.return_value = mock.Mock(stdout='failed: corosync')
        error = self.assertRaises(guests.GuestError, guests.wait_ready,
                                  [node], timeout=60)
        self.assertIn('cluster stack failed', str(error))
