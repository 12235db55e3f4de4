"""Cluster quorum, and the safety gate every LVM metadata change passes.

The lab cluster showed why the gate exists: with DRBD disconnected an
``lvcreate`` on one node succeeds and the reconnect ends in split-brain, and
with corosync gone ``lvcreate`` hangs instead of failing.  So the gate checks
quorum, DRBD and the lock manager with bounded readings *before* any
metadata command runs, and a refusal changes nothing.  All readings are
taken in one :meth:`~drbd_clvm_driver.runner.CommandRunner.read`: through
the privileged daemon that is one trip, answered from kernel files and
libraries rather than by starting programs; the verdict is never kept from
one change to the next.

A check before cannot see a DRBD link cut while the command runs: on the
gate cluster such an ``lvcreate`` blocked in DRBD and then completed on both
nodes apart.  So the gate also confirms *after* each command that DRBD stayed
as it was, down to its data generation; those readings ride with the
command, in the same trip to the privileged daemon
(:meth:`~drbd_clvm_driver.runner.CommandRunner.reading_after`).
"""

import contextlib
import dataclasses
import re

from oslo_log import log as logging

from drbd_clvm_driver import exception

LOG = logging.getLogger(__name__)

_QUORATE_LINE = re.compile(r'^Quorate:\s+(\S+)', re.MULTILINE)
_NODES_LINE = re.compile(r'^Nodes:\s+(\d+)', re.MULTILINE)
#: "    Nodeid      Votes Name" rows: id, votes, name, maybe "(local)"
_MEMBER_LINE = re.compile(r'^\s+\d+\s+\d+\s+(\S+)', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class QuorumState:
    """What ``corosync-quorumtool -s`` says of this node's membership.

    :param nodes: how many nodes corosync sees; 0 where the answer does
        not say (the privileged daemon's, from libquorum).
    :param problem: why corosync could not be asked (daemon down), or None.
    """

    quorate: bool
    nodes: int
    problem: str = None


def parse_quorumtool(text):
    """Read ``corosync-quorumtool -s`` output into a :class:`QuorumState`.

    With corosync down the tool prints only an error such as ``Cannot
    initialize CMAP service``; that line becomes the problem.
    """
    quorate = _QUORATE_LINE.search(text)
    if not quorate:
        first_line = next((line.strip() for line in text.splitlines()
                           if line.strip()), 'no output')
        return QuorumState(False, 0, 'corosync is not answering: %s'
                           % first_line)
    nodes = _NODES_LINE.search(text)
    return QuorumState(quorate.group(1) == 'Yes',
                       int(nodes.group(1)) if nodes else 0)


def parse_members(text):
    """The node names of ``corosync-quorumtool -l``'s membership table (or
    their addresses, where corosync's node list names none).
    """
    _, _, membership = text.partition('Membership information')
    return tuple(_MEMBER_LINE.findall(membership))


class Quorum:
    """Asks corosync for quorum through a command runner.

    Quorum is one reading, ``corosync-quorumtool -s``, which the safety
    gate takes together with its other checks; the membership (node names)
    is read apart, with ``-l``, where it is needed.
    """

    READING = ('corosync-quorumtool', '-s')

    def __init__(self, runner, timeout=10):
        self.runner = runner
        self.timeout = timeout

    def state(self):
        return self.state_from(self.runner.read([self.READING],
                                                self.timeout))

    @classmethod
    def state_from(cls, results):
        result = results.output(cls.READING, check=False)
        return parse_quorumtool(result.stdout + result.stderr)

    def members(self):
        """The names of the nodes in corosync's membership now."""
        result = self.runner.run(['corosync-quorumtool', '-l'],
                                 timeout=self.timeout, check=False)
        return parse_members(result.stdout)


class SafetyGate:
    """One call that says whether LVM metadata may change now, and why not.

    :param drbd_resource: a :class:`~drbd_clvm_driver.drbd.DrbdResource`.
    :param quorum: a :class:`Quorum`.
    :param lock_manager: a lock-manager plugin
        (:class:`~drbd_clvm_driver.locking.base.LockManager`).
    """

    def __init__(self, drbd_resource, quorum, lock_manager):
        self.drbd_resource = drbd_resource
        self.quorum = quorum
        self.lock_manager = lock_manager
        #: the three read through the same runner, with the same bound
        self.runner = quorum.runner
        self.timeout = quorum.timeout

    def reasons(self):
        """Every reason the cluster is unsafe now; empty when it is safe.

        Quorum's reasons come first: without corosync the other checks can
        only confirm what it already says.
        """
        return self._inspect(with_generation=False)[0]

    def ensure_safe(self):
        """Raise :class:`~.exception.ClusterUnsafe` unless the gate is open.

        :returns: the DRBD state the gate passed, with its generation: the
            token :meth:`confirm` compares with after the change.
        """
        reasons, drbd_state = self._inspect(with_generation=True)
        if reasons:
            LOG.error('Cluster unsafe, refusing LVM metadata change: %s',
                      '; '.join(reasons))
            raise exception.ClusterUnsafe(reasons)
        return drbd_state

    @contextlib.contextmanager
    def guarding(self, change):
        """The gate around the block's one metadata command: :meth:`
        ensure_safe` before it, :meth:`confirm` after it, with DRBD's state
        read right after the command, in the command's own trip where the
        runner can.

        :param change: the command, for the operator.
        """
        checked = self.ensure_safe()
        with self.runner.reading_after(
                self.drbd_resource.readings(with_generation=True),
                self.timeout) as after:
            yield
        self.confirm(checked, change, after.readings)

    def confirm(self, checked, change, readings):
        """Raise :class:`~.exception.ClusterChangedDuringChange` unless DRBD
        is still as :meth:`ensure_safe` saw it before ``change`` ran.

        Still Connected, UpToDate and Primary on both sides is not enough:
        the link may have dropped and come back.  The current generation UUID
        tells, since a Primary starts a new one the moment it loses its peer.
        Quorum and the lock manager are not asked again: only DRBD decides
        whether the metadata write reached both nodes.

        :param checked: what :meth:`ensure_safe` returned.
        :param change: the metadata command that ran, for the operator.
        :param readings: DRBD's :meth:`~.drbd.DrbdResource.readings`, with
            the generation, taken after it.
        """
        try:
            now = self.drbd_resource.state_from(readings,
                                                with_generation=True)
        except exception.DrbdClvmError as error:
            after = 'unreadable: %s' % error
        else:
            if (not self._drbd_reasons(now)
                    and now.generation == checked.generation):
                return
            after = now.describe()
        LOG.error('DRBD %s changed while %s ran: before %s, after %s; the '
                  'change may exist only on this node', checked.name, change,
                  checked.describe(), after)
        raise exception.ClusterChangedDuringChange(
            checked.name, change, checked.describe(), after)

    def _inspect(self, with_generation):
        """:meth:`reasons`, and the DRBD state (None where it could not be
        read); every reading is taken in one :meth:`~.runner.CommandRunner.
        read`, so through the privileged daemon the whole check is one trip.
        """
        drbd_state = None
        reasons = []
        try:
            drbd_readings = self.drbd_resource.readings(with_generation)
        except exception.DrbdClvmError as error:
            drbd_readings = None
            reasons.append(str(error))
        results = self.runner.read(
            [self.quorum.READING] + (drbd_readings or [])
            + self.lock_manager.health_readings(), self.timeout)

        def drbd_reasons():
            nonlocal drbd_state
            if drbd_readings is None:
                return []
            drbd_state = self.drbd_resource.state_from(results,
                                                       with_generation)
            return self._drbd_reasons(drbd_state)

        for check in (lambda: self._quorum_reasons(results), drbd_reasons,
                      lambda: self.lock_manager.health_from(results)):
            try:
                reasons.extend(check())
            except exception.DrbdClvmError as error:
                reasons.append(str(error))
        return reasons, drbd_state

    def _quorum_reasons(self, results):
        state = self.quorum.state_from(results)
        if state.problem:
            return [state.problem]
        if not state.quorate:
            return ['corosync quorum lost' + (
                ' (%d node(s) visible)' % state.nodes if state.nodes
                else '')]
        return []

    @staticmethod
    def _drbd_reasons(state):
        reasons = []
        if state.may_be_split_brain:
            reasons.append(
                'DRBD %s is %s with %s KiB out of sync: the nodes may have '
                'diverged (split-brain); resolve it before any change' % (
                    state.name, state.connection, state.out_of_sync_kib))
        elif state.is_resyncing:
            reasons.append('DRBD %s is %s, %s KiB left to resync' % (
                state.name, state.connection, state.out_of_sync_kib))
        elif state.peer_fenced:
            reasons.append(
                'DRBD %s is %s: the peer was fenced (Outdated); changes are '
                'accepted again once it has rejoined and resynced' % (
                    state.name, state.connection))
        elif not state.is_connected:
            reasons.append('DRBD %s is %s, not Connected' % (
                state.name, state.connection))
        if not state.both_up_to_date:
            reasons.append('DRBD %s disks are %s/%s, not UpToDate/UpToDate'
                           % (state.name, state.disk, state.peer_disk))
        if not state.both_primary:
            reasons.append('DRBD %s roles are %s/%s, not Primary/Primary'
                           % (state.name, state.role, state.peer_role))
        return reasons
