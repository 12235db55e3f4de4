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

"""Quorum parsing and the safety gate, fed recorded outputs."""

import dataclasses
import logging
from unittest import mock

import fixtures
import testtools

from drbd_clvm_driver import cluster
from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import sanlock
from drbd_clvm_driver import nodes
from drbd_clvm_driver.replication import drbd as replication_drbd
from drbd_clvm_driver import runner
from tests.unit import recorded
from tests.unit import test_locking


class QuorumParseTest(testtools.TestCase):

    def test_quorate_two_nodes(self):
        state = cluster.parse_quorumtool(
            recorded.load('node1-08-corosync_quorumtool_s.txt').output)
        self.assertTrue(state.quorate)
        self.assertEqual(2, state.nodes)
        self.assertIsNone(state.problem)

    def test_corosync_down(self):
        state = cluster.parse_quorumtool(
            recorded.load('run2-node1-23-corosync_quorumtool_s.txt').output)
        self.assertFalse(state.quorate)
        self.assertIn('Cannot initialize CMAP service', state.problem)

    def test_not_quorate(self):
        text = recorded.load('node1-08-corosync_quorumtool_s.txt').output
        state = cluster.parse_quorumtool(
            text.replace('Quorate:          Yes', 'Quorate:          No')
                .replace('Nodes:            2', 'Nodes:            1'))
        self.assertFalse(state.quorate)
        self.assertEqual(1, state.nodes)
        self.assertIsNone(state.problem)


class NoReadings(runner.CommandRunner):
    """The fakes below answer without readings; the gate still asks. The
    commands it runs are kept and succeed.
    """

    def __init__(self):
        super().__init__()
        self.reads = 0
        self.ran = []

    def read(self, commands, timeout=None):
        self.reads += 1
        return runner.Readings()

    def _execute(self, argv, timeout):
        self.ran.append(argv)
        return 0, '', ''


def change(gate):
    """One metadata command behind ``gate``."""
    with gate.guarding("create('v', 4)"):
        gate.runner.run(['lvcreate', '-n', 'v'])


class FixedQuorum:
    READING = cluster.Quorum.READING

    def __init__(self, state):
        self._state = state

    def state_from(self, results):
        return self._state


class FixedDrbd(replication_drbd.DrbdReplication):
    """The DRBD plugin answering with ``state`` (an exception is raised);
    a test may set it anew between the gate's check and its confirmation.
    """

    def __init__(self, state):
        super().__init__(NoReadings(), 'r0')
        self.state_now = state

    def readings(self, with_generation):
        return [drbd.PROC_DRBD]

    def state_from(self, results, with_generation):
        return self.state()

    def state(self, with_generation=False):
        if isinstance(self.state_now, Exception):
            raise self.state_now
        return self.state_now


class FixedLockManager:
    def __init__(self, reasons=()):
        self.reasons = list(reasons)

    def health_readings(self):
        return []

    def health_from(self, results):
        return self.reasons

    def departed(self, names):
        return None


def proc_state(filename, generation_file=None):
    """The state in a recorded /proc/drbd, with the current UUID from a
    recorded ``drbdsetup get-gi`` if one is named.
    """
    state = drbd.parse_proc_drbd(recorded.load(filename).output, 0, 'r0')
    if generation_file is None:
        return state
    return dataclasses.replace(state, generation=drbd.parse_get_gi(
        recorded.load(generation_file).output))


QUORATE = cluster.QuorumState(True, 2)
#: node1 while node2 was fenced (fault campaign, corosync killed on node2)
FENCED_SURVIVOR = 'gate-faults/corosync-killed/node1-01-cat_proc_drbd.txt'
#: node2 after its link was cut, before any fence: the peer's disk unknown
UNKNOWN_PEER = 'node2-27-cat_proc_drbd.txt'


class SafetyGateTest(testtools.TestCase):

    def _gate(self, drbd_state, quorum=QUORATE, lock_reasons=()):
        return cluster.SafetyGate(FixedDrbd(drbd_state), FixedQuorum(quorum),
                                  FixedLockManager(lock_reasons))

    def test_healthy_cluster_passes(self):
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'))
        self.assertEqual([], gate.reasons())
        change(gate)
        self.assertEqual([('lvcreate', '-n', 'v')], gate.runner.ran)

    def test_standalone_refused(self):
        gate = self._gate(proc_state('node1-27-cat_proc_drbd.txt'))
        error = self.assertRaises(exception.ClusterUnsafe, change, gate)
        self.assertIn('StandAlone, not Connected', str(error))
        self.assertIn('Primary/Unknown', str(error))
        self.assertIn('Nothing was changed', str(error))

    def test_wf_connection_refused(self):
        gate = self._gate(proc_state(UNKNOWN_PEER))
        self.assertIn('DRBD r0 is WFConnection, not Connected: the peer is '
                      'not confirmed fenced (disk DUnknown); DRBD holds I/O '
                      'until its fence succeeds', gate.reasons())

    def test_split_brain_named(self):
        gate = self._gate(proc_state('node1-32-cat_proc_drbd.txt'))
        self.assertTrue(any('split-brain' in reason
                            for reason in gate.reasons()))

    def test_fenced_peer_leaves_the_survivor_serving(self):
        # The survivor while its fenced peer is away: WFConnection, peer
        # Outdated, what it wrote meanwhile out of sync for the peer.
        gate = self._gate(proc_state(FENCED_SURVIVOR))
        verdict = gate.verdict()
        self.assertEqual((), verdict.reasons)
        self.assertEqual('DRBD r0 is WFConnection with the peer fenced '
                         '(Outdated): this node serves alone until the peer '
                         'rejoins', verdict.degraded)
        change(gate)
        self.assertEqual([('lvcreate', '-n', 'v')], gate.runner.ran)

    def test_survivor_serves_while_the_peer_resyncs_from_it(self):
        # As the fault campaign saw the survivor while the fenced node
        # caught up.
        gate = self._gate(self._connected(
            connection='SyncSource', peer_disk=drbd.DiskState.INCONSISTENT,
            peer_role=drbd.Role.SECONDARY, out_of_sync_kib=7196))
        verdict = gate.verdict()
        self.assertEqual((), verdict.reasons)
        self.assertEqual('DRBD r0 is SyncSource: the peer rejoined and '
                         'copies 7196 KiB from this node', verdict.degraded)

    def test_resyncing_node_refuses_until_up_to_date(self):
        gate = self._gate(self._connected(
            connection='SyncTarget', disk=drbd.DiskState.INCONSISTENT,
            role=drbd.Role.SECONDARY, out_of_sync_kib=7196))
        reasons = gate.reasons()
        self.assertIn('DRBD r0 is SyncTarget, 7196 KiB left to resync',
                      reasons)
        self.assertFalse(any('split-brain' in reason for reason in reasons))

    def test_outdated_node_never_serves_alone(self):
        # The double fault: the node fenced first boots while the other is
        # off; its own copy may lack what the other made alone.
        for disk in (drbd.DiskState.OUTDATED, drbd.DiskState.CONSISTENT):
            gate = self._gate(dataclasses.replace(
                proc_state(UNKNOWN_PEER), disk=disk, role=drbd.Role.SECONDARY,
                peer_disk=drbd.DiskState.UNKNOWN))
            reasons = gate.reasons()
            self.assertIn("DRBD r0: this node's copy is %s: the peer may "
                          "have made changes while this node was away. "
                          "Changes wait until the peer is back and this "
                          "node has resynced from it; never promote this "
                          "copy by force" % disk, reasons)
            self.assertRaises(exception.ClusterUnsafe, change, gate)
            self.assertEqual([], gate.runner.ran)

    def test_secondary_with_a_fenced_peer_refused(self):
        gate = self._gate(dataclasses.replace(
            proc_state(FENCED_SURVIVOR), role=drbd.Role.SECONDARY))
        self.assertIn('DRBD r0 roles are Secondary/Unknown, not '
                      'Primary/Primary', gate.reasons())

    def test_standalone_with_a_fenced_peer_refused(self):
        # It would never take the peer back by itself.
        gate = self._gate(dataclasses.replace(
            proc_state(FENCED_SURVIVOR),
            connection=drbd.ConnectionState.STANDALONE))
        self.assertIn('DRBD r0 is StandAlone: the peer was fenced '
                      '(Outdated) but this node no longer listens for it; '
                      'run "drbdadm connect r0" so it can rejoin and resync',
                      gate.reasons())

    def test_drbd9_fenced_peer_leaves_the_survivor_serving(self):
        # DRBD 9 (not in the lab's kernel, so written from its JSON
        # format): "Connecting" is 8.4's WFConnection.
        state = drbd.parse_status_json(
            '[{"name": "r0", "role": "Primary", "devices": [{"volume": 0, '
            '"disk-state": "UpToDate"}], "connections": [{"peer-node-id": 1,'
            ' "connection-state": "Connecting", "peer-role": "Unknown", '
            '"peer_devices": [{"volume": 0, "peer-disk-state": "Outdated", '
            '"out-of-sync": 268}]}]}]', 'r0')
        self.assertEqual((), self._gate(state).verdict().reasons)
        unknown = dataclasses.replace(state, peer_disk='DUnknown')
        self.assertNotEqual([], self._gate(unknown).reasons())

    def _connected(self, **changes):
        state = proc_state('node1-01-cat_proc_drbd.txt')
        values = dict(state.__dict__, **changes)
        return drbd.ResourceState(**values)

    def test_peer_caught_up_but_secondary_serves(self):
        # The returning node has resynced and is not promoted yet: it
        # cannot write, and this node's writes reach it.
        verdict = self._gate(self._connected(
            peer_role=drbd.Role.SECONDARY)).verdict()
        self.assertEqual((), verdict.reasons)
        self.assertIn('still Secondary', verdict.degraded)

    def test_secondary_refused(self):
        gate = self._gate(self._connected(role=drbd.Role.SECONDARY))
        self.assertEqual(['DRBD r0 roles are Secondary/Primary, not '
                          'Primary/Primary'], gate.reasons())

    def test_peer_secondary_and_behind_refused(self):
        gate = self._gate(self._connected(
            peer_role=drbd.Role.SECONDARY,
            peer_disk=drbd.DiskState.INCONSISTENT))
        self.assertNotEqual([], gate.reasons())

    def test_inconsistent_refused(self):
        gate = self._gate(self._connected(disk=drbd.DiskState.INCONSISTENT))
        self.assertEqual(["DRBD r0: this node's copy is Inconsistent (a new "
                          "disk, or a resync that has not finished): changes "
                          "wait until it has synced from the peer"],
                         gate.reasons())

    def test_outdated_refused(self):
        gate = self._gate(self._connected(peer_disk=drbd.DiskState.OUTDATED))
        self.assertEqual(1, len(gate.reasons()))

    def test_quorum_lost_refused(self):
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'),
                          quorum=cluster.QuorumState(False, 1))
        self.assertEqual(['corosync quorum lost (1 node(s) visible)'],
                         gate.reasons())

    def test_corosync_down_refused(self):
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'),
                          quorum=cluster.QuorumState(False, 0, 'no corosync'))
        self.assertEqual(['no corosync'], gate.reasons())

    def test_lock_manager_reason_carried(self):
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'),
                          lock_reasons=['lvmlockd is not running'])
        self.assertRaises(exception.ClusterUnsafe, change, gate)

    def test_unreadable_drbd_is_a_reason_not_a_crash(self):
        gate = self._gate(
            exception.DrbdStateError('DRBD minor 0 is not there'))
        self.assertEqual(['DRBD minor 0 is not there'], gate.reasons())

    def test_timeout_is_a_reason(self):
        gate = self._gate(exception.CommandTimeout(['cat', '/proc/drbd'], 10))
        self.assertIn('did not finish within 10 s', gate.reasons()[0])


_GI = 'gate-generation/'
#: node1 healthy, as the gate guests recorded it
HEALTHY = proc_state('node1-01-cat_proc_drbd.txt',
                     _GI + 'node1-01-drbdsetup_get_gi_0.txt')


class ConfirmTest(testtools.TestCase):
    """After the change: DRBD must be as the gate saw it before."""

    def setUp(self):
        super().setUp()
        self.drbd = FixedDrbd(HEALTHY)
        self.gate = cluster.SafetyGate(self.drbd, FixedQuorum(QUORATE),
                                       FixedLockManager())
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.ERROR))

    def _change_to(self, after):
        with self.gate.guarding("create('v', 4)"):
            self.gate.runner.run(['lvcreate', '-n', 'v'])
            self.drbd.state_now = after

    def _changed(self, after):
        return self.assertRaises(exception.ClusterChangedDuringChange,
                                 self._change_to, after)

    def test_token_is_the_state_checked_with_its_generation(self):
        reasons, checked, answer, _, _ = self.gate.judge_then_run(
            runner.DeferredCommand(lambda: (0, 'done', '')))
        self.assertEqual(([], (0, 'done', '')), (reasons, answer))
        self.assertEqual(HEALTHY, drbd.ResourceState(**checked))
        self.assertEqual('7E3173C55CA44047', HEALTHY.generation)

    def test_refusal_runs_nothing(self):
        self.drbd.state_now = proc_state(UNKNOWN_PEER)
        reasons, checked, answer, _, _ = self.gate.judge_then_run(
            runner.DeferredCommand(lambda: self.fail('ran although refused')))
        self.assertIn('the peer is not confirmed fenced', reasons[0])
        self.assertEqual((None, None), (checked, answer))

    def test_unchanged_is_confirmed(self):
        self._change_to(HEALTHY)
        self.assertEqual('', self.log.output)
        self.assertEqual(1, len(self.gate.runner.ran))

    def test_refused_before_the_command_runs(self):
        self.drbd.state_now = proc_state(UNKNOWN_PEER)
        ran = []
        with testtools.ExpectedException(exception.ClusterUnsafe):
            with self.gate.guarding("create('v', 4)"):
                self.gate.runner.run(['lvcreate', '-n', 'v'])
                ran.append(True)
        self.assertEqual(([], []), (ran, self.gate.runner.ran))
        self.assertIn('Cluster unsafe, refusing LVM metadata change',
                      self.log.output)

    def test_a_failed_change_is_not_confirmed(self):
        # The block's own error is what the caller must see, even though
        # DRBD changed meanwhile.
        with testtools.ExpectedException(exception.CommandFailed):
            with self.gate.guarding("create('v', 4)"):
                self.gate.runner.run(['lvcreate', '-n', 'v'])
                self.drbd.state_now = proc_state(FENCED_SURVIVOR)
                raise exception.CommandFailed(('lvcreate',), 5, '', '')

    def test_a_block_without_a_command_is_neither_checked_nor_confirmed(self):
        with self.gate.guarding("create('v', 4)"):
            self.drbd.state_now = proc_state(FENCED_SURVIVOR)
        self.assertEqual(0, self.gate.runner.reads)

    def test_drbd_unreadable_after_the_command_is_read_again_here(self):
        original = self.gate.judge_then_run

        def judged_without_after(command):
            verdict = original(command)
            return verdict[:3] + (None, None)

        self.gate.judge_then_run = judged_without_after
        reads = self.gate.runner.reads
        self._change_to(HEALTHY)
        # the check, then the confirmation's own reading
        self.assertEqual(reads + 3, self.gate.runner.reads)

    def test_drbd_is_read_again_after_a_second_command(self):
        with self.gate.guarding("create('v', 4)"):
            self.gate.runner.run(['lvcreate', '-n', 'v'])
            reads = self.gate.runner.reads
            self.gate.runner.run(['lvchange', '-an', 'vgc/v'])
        self.assertEqual(reads + 1, self.gate.runner.reads)

    def test_link_cut_during_the_change(self):
        # node1 right after drbdadm disconnect, as the gate recorded it.
        error = self._changed(proc_state(
            _GI + 'node1-05-cat_proc_drbd.txt',
            _GI + 'node1-07-drbdsetup_get_gi_0.txt'))
        message = str(error)
        self.assertIn("DRBD r0 changed while create('v', 4) ran", message)
        self.assertIn('cs:Connected', message)
        self.assertIn('cs:StandAlone', message)
        self.assertIn('gi:7E3173C55CA44047', message)
        self.assertIn('gi:FA31739A4B95E8EF', message)
        self.assertIn('may exist only on this node and was not confirmed',
                      message)
        self.assertIn('drbdadm get-gi r0', message)
        self.assertFalse(error.retriable)
        self.assertIsInstance(error, exception.DrbdClvmError)
        self.assertIn("DRBD r0 changed while create('v', 4) ran: before r0 "
                      "cs:Connected", self.log.output)
        self.assertIn('after r0 cs:StandAlone', self.log.output)

    def test_connected_again_with_a_new_generation(self):
        # The link dropped and came back while the command ran: the state
        # looks healthy, only the current UUID tells (after the recovery).
        error = self._changed(proc_state(
            'node1-01-cat_proc_drbd.txt',
            _GI + 'reconnected-node1-01-drbdsetup_get_gi_0.txt'))
        self.assertIn('gi:FA31739A4B95E8EF', str(error))
        self.assertIn('gi:FA31739A4B95E8EF', self.log.output)

    def test_change_while_serving_alone_is_confirmed(self):
        alone = proc_state(FENCED_SURVIVOR, 'gate-faults/corosync-killed/'
                           'node1-02-drbdsetup_get_gi_0.txt')
        self.drbd.state_now = alone
        self._change_to(alone)
        self.assertEqual('', self.log.output)

    def test_peer_rejoining_during_a_change_alone_is_confirmed(self):
        # The returning peer starts its resync: still the generation the
        # check saw, and every write now reaches it too.
        alone = proc_state(FENCED_SURVIVOR, 'gate-faults/corosync-killed/'
                           'node1-02-drbdsetup_get_gi_0.txt')
        self.drbd.state_now = alone
        self._change_to(dataclasses.replace(
            alone, connection='SyncSource', peer_role=drbd.Role.SECONDARY,
            peer_disk=drbd.DiskState.INCONSISTENT))
        self.assertEqual('', self.log.output)

    def test_peer_demoted_during_the_change_is_confirmed(self):
        # Still connected, in the same generation: the write reached it.
        self._change_to(dataclasses.replace(HEALTHY,
                                            peer_role=drbd.Role.SECONDARY))
        self.assertEqual('', self.log.output)

    def test_peer_behind_after_the_change_is_not_confirmed(self):
        self._changed(dataclasses.replace(
            HEALTHY, peer_role=drbd.Role.SECONDARY,
            peer_disk=drbd.DiskState.INCONSISTENT))

    def test_unreadable_after_is_not_a_confirmation(self):
        error = self._changed(exception.CommandTimeout(
            ['cat', '/proc/drbd'], 10))
        self.assertIn('after: unreadable: cat /proc/drbd did not finish',
                      str(error))

    def test_peer_rebuilds_the_error(self):
        error = self._changed(proc_state(
            _GI + 'node1-05-cat_proc_drbd.txt',
            _GI + 'node1-07-drbdsetup_get_gi_0.txt'))
        rebuilt = exception.from_peer(type(error).__name__, str(error))
        self.assertIsInstance(rebuilt, exception.ClusterChangedDuringChange)
        self.assertFalse(rebuilt.retriable)


class Membership:
    """corosync as a recorded ``corosync-quorumtool -s`` shows it."""

    READING = cluster.Quorum.READING

    def __init__(self, filename):
        self.text = recorded.load(filename).output
        self.asked = 0

    def state(self):
        return cluster.parse_quorumtool(self.text)

    def members(self):
        self.asked += 1
        return cluster.parse_members(self.text)


class DepartedTest(testtools.TestCase):
    """Which peers have left the cluster, so nothing waits on them."""

    names = nodes.NodeNames('node1', ['node2'])

    def _gate(self, drbd_state, corosync):
        return cluster.SafetyGate(FixedDrbd(drbd_state), corosync,
                                  FixedLockManager())

    def test_fenced_drbd_peer_has_left(self):
        corosync = Membership('node1-08-corosync_quorumtool_s.txt')
        gate = self._gate(proc_state(FENCED_SURVIVOR), corosync)
        self.assertEqual({'node2'}, gate.departed(self.names))
        # DRBD proved it: corosync was not asked.
        self.assertEqual(0, corosync.asked)

    def test_connected_peer_has_not_left(self):
        corosync = Membership('gate-faults/corosync-killed/'
                              'node1-03-corosync_quorumtool_s.txt')
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'), corosync)
        self.assertEqual(frozenset(), gate.departed(self.names))
        self.assertEqual(0, corosync.asked)

    def test_unknown_peer_outside_the_membership_has_left(self):
        # The fence not yet confirmed: corosync has dropped node2, and the
        # gate still refuses every change until DRBD says it is fenced.
        gate = self._gate(proc_state(UNKNOWN_PEER), Membership(
            'gate-faults/corosync-killed/node1-03-corosync_quorumtool_s.txt'))
        self.assertEqual({'node2'}, gate.departed(self.names))

    def test_fqdn_member_is_the_node(self):
        corosync = Membership('node1-08-corosync_quorumtool_s.txt')
        gate = self._gate(proc_state(UNKNOWN_PEER), corosync)
        names = nodes.NodeNames('node1.example.com', ['node2.example.com'])
        self.assertEqual(frozenset(), gate.departed(names))

    def test_nothing_known_without_quorum(self):
        corosync = Membership('run2-node1-23-corosync_quorumtool_s.txt')
        gate = self._gate(proc_state(UNKNOWN_PEER), corosync)
        self.assertEqual(frozenset(), gate.departed(self.names))


class SharedLunDepartedTest(testtools.TestCase):
    """Three nodes on a shared LUN under sanlock: no corosync, sanlock's
    leases say who has left.
    """

    def _gate(self, hosts, quorum=None, exit_code=0):
        replication = mock.Mock()
        replication.peers_fenced.return_value = None
        lock_manager = sanlock.Sanlock(recorded.ReplayRunner(), 'vgc')
        recording = recorded.load(hosts)
        lock_manager.runner.serve(lock_manager.host_status(),
                                  dataclasses.replace(recording,
                                                      exit_code=exit_code))
        return cluster.SafetyGate(replication, quorum, lock_manager)

    def test_failed_lease_has_left(self):
        gate = self._gate(test_locking.HOSTS_FAILED)
        self.assertEqual({'node3'}, gate.departed(test_locking.THREE))

    def test_lease_renewed_a_while_ago_has_not(self):
        gate = self._gate(test_locking.HOSTS_SILENT)
        self.assertEqual(frozenset(), gate.departed(test_locking.THREE))

    def test_sanlock_unreadable_and_no_corosync_knows_none(self):
        gate = self._gate(test_locking.HOSTS_FAILED, exit_code=1)
        self.assertEqual(frozenset(), gate.departed(test_locking.THREE))

    def test_sanlock_decides_before_corosync(self):
        corosync = Membership('node1-08-corosync_quorumtool_s.txt')
        gate = self._gate(test_locking.HOSTS_FAILED, quorum=corosync)
        self.assertEqual({'node3'}, gate.departed(test_locking.THREE))
        self.assertEqual(0, corosync.asked)


_DLM_DEAD = 'gate-shared-lun-node-dead/%s/node1-0%d-corosync_quorumtool_%s.txt'


class DlmThreeNodesDepartedTest(testtools.TestCase):
    """Three nodes on a shared LUN under dlm: node3 killed, corosync's
    quorate membership without it.
    """

    def _departed(self, moment):
        replication = mock.Mock()
        replication.peers_fenced.return_value = None
        gate = cluster.SafetyGate(replication,
                                  Membership(_DLM_DEAD % (moment, 1, 's')),
                                  FixedLockManager())
        return gate.departed(test_locking.THREE)

    def test_every_node_a_member(self):
        self.assertEqual(frozenset(), self._departed('alive'))

    def test_node3_outside_the_quorate_membership(self):
        self.assertEqual({'node3'}, self._departed('departed'))

    def test_membership_read_alone(self):
        self.assertEqual(('node1', 'node2'), cluster.parse_members(
            recorded.load(_DLM_DEAD % ('departed', 2, 'l')).output))
