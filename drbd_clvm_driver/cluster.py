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
as it was, down to its data generation.

Through the privileged daemon a metadata change is one call: the daemon
builds the same gate (:func:`build_gate`, from :meth:`SafetyGate.spec`),
checks, runs the command only if the check passed, and reads DRBD again the
moment it ends (:meth:`SafetyGate.judge_then_run`); the caller judges what
came back.
"""

import contextlib
import dataclasses
import re

from oslo_log import log as logging

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver import runner as runner_module

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

    def spec(self):
        """The options :func:`build_gate` makes this gate again from (in
        the privileged daemon).
        """
        return {'vg_name': self.lock_manager.vg_name,
                'drbd_resource': self.drbd_resource.name,
                'lock_manager': self.lock_manager.name,
                'timeout': self.timeout}

    @contextlib.contextmanager
    def guarding(self, change):
        """The gate around the block's metadata command: its first command
        runs only if the check right before it passes
        (:class:`~.exception.ClusterUnsafe` otherwise), and DRBD must be as
        the check saw it after the block (:meth:`confirm`). A block that
        ran no command changed nothing and is neither checked nor confirmed.

        :param change: the command, for the operator.
        """
        guard = Guard(self)
        with self.runner.guarded(guard):
            yield
        if guard.checked is not None:
            after = guard.after
            if after is None:
                after = self._read_drbd()
            self.confirm(guard.checked, change, after)

    def judge_then_run(self, run_command):
        """One metadata change as the gate sees it: the check, then
        ``run_command()`` (returning ``(exit_code, stdout, stderr)``) only
        if it passed, then DRBD's readings the moment it ended. The
        privileged daemon runs this around the command itself; other
        runners here.

        :returns: plain values, as they cross the daemon's socket: the
            reasons the cluster is unsafe (then nothing ran and the rest is
            None), the DRBD state checked (a dict), the command's answer,
            and the readings after it (commands and answers; None where
            they could not be taken, for the caller to take).
        """
        reasons, checked = self._inspect(with_generation=True)
        if reasons:
            return reasons, None, None, None, None
        answer = run_command()
        try:
            after = self._read_drbd()
        except exception.DrbdClvmError:
            return [], dataclasses.asdict(checked), answer, None, None
        return ([], dataclasses.asdict(checked), answer,
                [list(argv) for argv in after], after.answers())

    def confirm(self, checked, change, readings):
        """Raise :class:`~.exception.ClusterChangedDuringChange` unless DRBD
        is still as the check before ``change`` saw it.

        Still Connected, UpToDate and Primary on both sides is not enough:
        the link may have dropped and come back.  The current generation UUID
        tells, since a Primary starts a new one the moment it loses its peer.
        Quorum and the lock manager are not asked again: only DRBD decides
        whether the metadata write reached both nodes.

        :param checked: the :class:`~.drbd.ResourceState` the check passed,
            with its generation.
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

    def _read_drbd(self):
        """DRBD's readings with the generation, for :meth:`confirm`."""
        return self.runner.read(
            self.drbd_resource.readings(with_generation=True), self.timeout)

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


class Guard:
    """One metadata change's way through the gate, as the command runner
    sees it (:meth:`~drbd_clvm_driver.runner.CommandRunner.guarded`).

    :param gate: the :class:`SafetyGate`.
    """

    def __init__(self, gate):
        self.gate = gate
        #: the DRBD state the check passed; None until a command ran
        self.checked = None
        #: DRBD's readings right after the command; None when another
        #: command of the block ran after them
        self.after = None

    def judged(self, verdict, seconds):
        """Take what :meth:`SafetyGate.judge_then_run` returned.

        :returns: the command's ``(exit_code, stdout, stderr)``.
        :raises ClusterUnsafe: the check did not pass; nothing ran.
        """
        reasons, checked, answer, commands, answers = verdict
        if reasons:
            LOG.error('Cluster unsafe, refusing LVM metadata change: %s',
                      '; '.join(reasons))
            raise exception.ClusterUnsafe(list(reasons))
        self.checked = drbd.ResourceState(**checked)
        if commands is not None:
            self.after = runner_module.Readings.from_answers(
                commands, answers, self.gate.timeout, seconds,
                self.gate.runner.node)
        return tuple(answer)

    def ran_again(self):
        """Another command of the block ran: DRBD is read again after it."""
        self.after = None


def build_gate(runner, vg_name, drbd_resource, lock_manager='lvmlockd',
               timeout=10):
    """The safety gate over ``runner``: the DRBD resource, corosync's
    quorum and the lock-manager plugin named, each reading bounded by
    ``timeout`` seconds.
    """
    return SafetyGate(
        drbd.DrbdResource(runner, drbd_resource, timeout),
        Quorum(runner, timeout),
        locking_base.load(lock_manager, runner, vg_name, timeout))
