"""Cluster quorum, and the safety gate every LVM metadata change passes.

The lab cluster showed why the gate exists: with DRBD disconnected an
``lvcreate`` on one node succeeds and the reconnect ends in split-brain, and
with corosync gone ``lvcreate`` hangs instead of failing.  So the gate checks
quorum, DRBD and the lock manager with bounded commands *before* any
metadata command runs, and a refusal changes nothing.
"""

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

    :param problem: why corosync could not be asked (daemon down), or None.
    :param members: the names of the nodes in the membership now (or their
        addresses, where corosync's node list names none).
    """

    quorate: bool
    nodes: int
    problem: str = None
    members: tuple = ()


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
    _, _, membership = text.partition('Membership information')
    return QuorumState(quorate.group(1) == 'Yes',
                       int(nodes.group(1)) if nodes else 0,
                       members=tuple(_MEMBER_LINE.findall(membership)))


class Quorum:
    """Asks corosync for quorum through a command runner."""

    def __init__(self, runner, timeout=10):
        self.runner = runner
        self.timeout = timeout

    def state(self):
        result = self.runner.run(['corosync-quorumtool', '-s'],
                                 timeout=self.timeout, check=False)
        return parse_quorumtool(result.stdout + result.stderr)


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

    def reasons(self):
        """Every reason the cluster is unsafe now; empty when it is safe.

        Quorum is read first: without corosync the other checks can only
        confirm what it already says.
        """
        reasons = []
        for check in (self._quorum_reasons, self._drbd_reasons,
                      self.lock_manager.health):
            try:
                reasons.extend(check())
            except exception.DrbdClvmError as error:
                reasons.append(str(error))
        return reasons

    def ensure_safe(self):
        """Raise :class:`~.exception.ClusterUnsafe` unless the gate is open."""
        reasons = self.reasons()
        if reasons:
            LOG.error('Cluster unsafe, refusing LVM metadata change: %s',
                      '; '.join(reasons))
            raise exception.ClusterUnsafe(reasons)

    def _quorum_reasons(self):
        state = self.quorum.state()
        if state.problem:
            return [state.problem]
        if not state.quorate:
            return ['corosync quorum lost (%d node(s) visible)' % state.nodes]
        return []

    def _drbd_reasons(self):
        state = self.drbd_resource.state()
        reasons = []
        if state.may_be_split_brain:
            reasons.append(
                'DRBD %s is %s with %s KiB out of sync: the nodes may have '
                'diverged (split-brain); resolve it before any change' % (
                    state.name, state.connection, state.out_of_sync_kib))
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
