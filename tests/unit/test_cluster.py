"""Quorum parsing and the safety gate, fed recorded outputs."""

import testtools

from drbd_clvm_driver import cluster
from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from tests.unit import recorded


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


class FixedQuorum:
    def __init__(self, state):
        self._state = state

    def state(self):
        return self._state


class FixedDrbd:
    def __init__(self, state):
        self._state = state

    def state(self):
        if isinstance(self._state, Exception):
            raise self._state
        return self._state


class FixedLockManager:
    def __init__(self, reasons=()):
        self.reasons = list(reasons)

    def health(self):
        return self.reasons


def proc_state(filename):
    return drbd.parse_proc_drbd(recorded.load(filename).output, 0, 'r0')


QUORATE = cluster.QuorumState(True, 2)


class SafetyGateTest(testtools.TestCase):

    def _gate(self, drbd_state, quorum=QUORATE, lock_reasons=()):
        return cluster.SafetyGate(FixedDrbd(drbd_state), FixedQuorum(quorum),
                                  FixedLockManager(lock_reasons))

    def test_healthy_cluster_passes(self):
        gate = self._gate(proc_state('node1-01-cat_proc_drbd.txt'))
        self.assertEqual([], gate.reasons())
        gate.ensure_safe()

    def test_standalone_refused(self):
        gate = self._gate(proc_state('node1-27-cat_proc_drbd.txt'))
        error = self.assertRaises(exception.ClusterUnsafe, gate.ensure_safe)
        self.assertIn('StandAlone, not Connected', str(error))
        self.assertIn('Primary/Unknown', str(error))
        self.assertIn('Nothing was changed', str(error))

    def test_wf_connection_refused(self):
        gate = self._gate(proc_state('node2-27-cat_proc_drbd.txt'))
        self.assertIn('DRBD r0 is WFConnection, not Connected',
                      gate.reasons())

    def test_split_brain_named(self):
        gate = self._gate(proc_state('node1-32-cat_proc_drbd.txt'))
        self.assertTrue(any('split-brain' in reason
                            for reason in gate.reasons()))

    def _connected(self, **changes):
        state = proc_state('node1-01-cat_proc_drbd.txt')
        values = dict(state.__dict__, **changes)
        return drbd.ResourceState(**values)

    def test_secondary_refused(self):
        gate = self._gate(self._connected(peer_role=drbd.Role.SECONDARY))
        self.assertEqual(['DRBD r0 roles are Primary/Secondary, not '
                          'Primary/Primary'], gate.reasons())

    def test_inconsistent_refused(self):
        gate = self._gate(self._connected(disk=drbd.DiskState.INCONSISTENT))
        self.assertEqual(['DRBD r0 disks are Inconsistent/UpToDate, not '
                          'UpToDate/UpToDate'], gate.reasons())

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
        self.assertRaises(exception.ClusterUnsafe, gate.ensure_safe)

    def test_unreadable_drbd_is_a_reason_not_a_crash(self):
        gate = self._gate(drbd.DrbdStateError('DRBD minor 0 is not there'))
        self.assertEqual(['DRBD minor 0 is not there'], gate.reasons())

    def test_timeout_is_a_reason(self):
        gate = self._gate(exception.CommandTimeout(['cat', '/proc/drbd'], 10))
        self.assertIn('did not finish within 10 s', gate.reasons()[0])
