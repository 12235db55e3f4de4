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

"""Cluster quorum, and the safety gate every LVM metadata change passes.

The lab cluster showed why the gate exists: with DRBD disconnected an
``lvcreate`` on one node succeeds and the reconnect ends in split-brain, and
with corosync gone ``lvcreate`` hangs instead of failing.  So the gate checks
the replication (a plugin: DRBD, a shared LUN), the lock manager (a plugin)
and corosync's quorum where either rests on it, with bounded readings
*before* any metadata command runs, and a refusal changes nothing.  All
readings are taken in one :meth:`~drbd_clvm_driver.commands.CommandRunner.
read`: through the privileged daemon that is one trip, answered from kernel
files and libraries rather than by starting programs; the verdict is never
kept from one change to the next.

A check before cannot see a DRBD link cut while the command runs: on the
gate cluster such an ``lvcreate`` blocked in DRBD and then completed on both
nodes apart.  So the gate also asks the replication *after* each command
whether the write reached every node (for DRBD: the same data generation).

Through the privileged daemon a metadata change is one call: the daemon
builds the same gate (:func:`build_gate`, from :meth:`SafetyGate.spec`),
checks, runs the command only if the check passed, and takes the
replication's readings again the moment it ends
(:meth:`SafetyGate.judge_then_run`); the caller judges what came back.
"""

import contextlib
import dataclasses
import re

from oslo_log import log as logging

from drbd_clvm_driver import commands as commands_module
from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver.replication import base as replication_base

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


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The gate's answer now.

    :param reasons: why changes are refused; empty when they are allowed.
    :param degraded: while allowed, why fewer nodes or copies serve than
        the cluster was built with (a peer fenced, a resync running), or
        None.
    """

    reasons: tuple
    degraded: str = None


class SafetyGate:
    """One call that says whether LVM metadata may change now, and why not.

    :param replication: the replication plugin
        (:class:`~drbd_clvm_driver.replication.base.Replication`).
    :param quorum: a :class:`Quorum`, or None where neither the replication
        nor the lock manager rests on corosync.
    :param lock_manager: a lock-manager plugin
        (:class:`~drbd_clvm_driver.locking.base.LockManager`).
    """

    def __init__(self, replication, quorum, lock_manager):
        self.replication = replication
        self.quorum = quorum
        self.lock_manager = lock_manager
        #: all read through the same runner, with the same bound
        self.runner = replication.runner
        self.timeout = replication.timeout

    def reasons(self):
        """Every reason the cluster is unsafe now; empty when it is safe.

        Quorum's reasons come first: without corosync the other checks can
        only confirm what it already says.
        """
        return self._inspect(with_generation=False)[0]

    def verdict(self):
        """:meth:`reasons` and, where changes are allowed, whether the
        cluster serves degraded (:class:`Verdict`), from one set of
        readings.
        """
        reasons, state = self._inspect(with_generation=False)
        degraded = None
        if not reasons and state is not None:
            degraded = self.replication.degraded(state)
        return Verdict(tuple(reasons), degraded)

    def departed(self, names):
        """The peers of ``names`` (a :class:`~.nodes.NodeNames`) that have
        left the cluster, so that nothing waits on them: every peer where
        the replication proves them fenced (a DRBD peer Outdated), else
        those the lock manager knows gone (sanlock: their lease failed,
        their watchdog resets them), else those outside corosync's quorate
        membership (fenced, or about to be before the lock manager lets
        anything they held go). Empty where none can tell.
        """
        try:
            fenced = self.replication.peers_fenced(self.replication.state())
        except exception.DrbdClvmError:
            fenced = None
        if fenced:
            return frozenset(names.peers)
        if fenced is False:
            return frozenset()
        known = self.lock_manager.departed(names)
        if known is not None or self.quorum is None:
            return known or frozenset()
        if not self.quorum.state().quorate:
            return frozenset()
        members = {names.node_of(member) for member in self.quorum.members()}
        if names.local not in members:
            # not a membership this node can read itself in
            return frozenset()
        return frozenset(node for node in names.peers if node not in members)

    def spec(self):
        """The options :func:`build_gate` makes this gate again from (in
        the privileged daemon).
        """
        return {'vg_name': self.lock_manager.vg_name,
                'replication': self.replication.name,
                'target': self.replication.target,
                'lock_manager': self.lock_manager.name,
                'timeout': self.timeout}

    @contextlib.contextmanager
    def guarding(self, change):
        """The gate around the block's metadata command: its first command
        runs only if the check right before it passes
        (:class:`~.exception.ClusterUnsafe` otherwise), and the change must
        have reached every node after the block (:meth:`confirm`). A block
        that ran no command changed nothing and is neither checked nor
        confirmed.

        :param change: the command, for the operator.
        """
        guard = Guard(self)
        with self.runner.guarded(guard):
            yield
        if guard.checked is not None:
            after = guard.after
            if after is None:
                after = self._read_after()
            self.confirm(guard.checked, change, after)

    def judge_then_run(self, command):
        """One metadata change as the gate sees it: the check, then the
        command only if it passed, then the replication's readings the
        moment it ended. The privileged daemon runs this around the command
        itself; other runners here.

        :param command: the change, with ``start()`` (called before the
            check: the daemon starts LVM there, held back by LVM's own VG
            lock, :mod:`~drbd_clvm_driver.privileged.held`), ``finish()``
            (the check passed: returns ``(exit_code, stdout, stderr)``) and
            ``cancel()`` (it did not: nothing may change), e.g. a
            :class:`~drbd_clvm_driver.commands.DeferredCommand`.
        :returns: plain values, as they cross the daemon's socket: the
            reasons the cluster is unsafe (then nothing ran and the rest is
            None), the replication's state checked (a dict), the command's
            answer, and the readings after it (commands and answers; None
            where they could not be taken, for the caller to take).
        """
        command.start()
        try:
            reasons, checked = self._inspect(with_generation=True)
        except BaseException:
            command.cancel()
            raise
        if reasons:
            command.cancel()
            return reasons, None, None, None, None
        answer = command.finish()
        try:
            after = self._read_after()
        except exception.DrbdClvmError:
            return [], dataclasses.asdict(checked), answer, None, None
        return ([], dataclasses.asdict(checked), answer,
                [list(argv) for argv in after], after.answers())

    def confirm(self, checked, change, readings):
        """Raise :class:`~.exception.ClusterChangedDuringChange` unless the
        replication says ``change`` reached every node
        (:meth:`~.replication.base.Replication.confirmed`).

        Quorum and the lock manager are not asked again: only the
        replication decides whether the metadata write reached every node.

        :param checked: the replication's state the check passed.
        :param change: the metadata command that ran, for the operator.
        :param readings: the replication's :meth:`~.replication.base.
            Replication.confirm_readings`, taken after it.
        """
        after = self.replication.confirmed(checked, readings)
        if after is None:
            return
        LOG.error('%s changed while %s ran: before %s, after %s; the '
                  'change may exist only on this node',
                  self.replication.label, change, checked.describe(), after)
        raise exception.ClusterChangedDuringChange(
            self.replication.target, change, checked.describe(), after)

    def _read_after(self):
        """The replication's readings for :meth:`confirm`."""
        commands = self.replication.confirm_readings()
        if not commands:
            return commands_module.Readings(self.runner.node)
        return self.runner.read(commands, self.timeout)

    def _inspect(self, with_generation):
        """:meth:`reasons`, and the replication's state (None where it
        could not be read); every reading is taken in one
        :meth:`~.commands.CommandRunner.read`, so through the privileged
        daemon the whole check is one trip.
        """
        replication_state = None
        reasons = []
        try:
            replication_readings = self.replication.readings(with_generation)
        except exception.DrbdClvmError as error:
            replication_readings = None
            reasons.append(str(error))
        quorum_readings = [self.quorum.READING] if self.quorum else []
        results = self.runner.read(
            quorum_readings + (replication_readings or [])
            + self.lock_manager.health_readings(), self.timeout)

        def replication_reasons():
            nonlocal replication_state
            if replication_readings is None:
                return []
            replication_state = self.replication.state_from(
                results, with_generation)
            return self.replication.reasons(replication_state)

        for check in (lambda: self._quorum_reasons(results),
                      replication_reasons,
                      lambda: self.lock_manager.health_from(results)):
            try:
                reasons.extend(check())
            except exception.DrbdClvmError as error:
                reasons.append(str(error))
        return reasons, replication_state

    def _quorum_reasons(self, results):
        if self.quorum is None:
            return []
        state = self.quorum.state_from(results)
        if state.problem:
            return [state.problem]
        if not state.quorate:
            return ['corosync quorum lost' + (
                ' (%d node(s) visible)' % state.nodes if state.nodes
                else '')]
        return []


class Guard:
    """One metadata change's way through the gate, as the command runner
    sees it (:meth:`~drbd_clvm_driver.commands.CommandRunner.guarded`).

    :param gate: the :class:`SafetyGate`.
    """

    def __init__(self, gate):
        self.gate = gate
        #: the replication's state the check passed; None until a command
        #: ran
        self.checked = None
        #: the replication's readings right after the command; None when
        #: another command of the block ran after them
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
        self.checked = self.gate.replication.state_from_plain(checked)
        if commands is not None:
            self.after = commands_module.Readings.from_answers(
                commands, answers, self.gate.timeout, seconds,
                self.gate.runner.node)
        return tuple(answer)

    def ran_again(self):
        """Another command of the block ran: the replication is read again
        after it.
        """
        self.after = None


def build_gate(runner, vg_name, target, lock_manager='lvmlockd', timeout=10,
               replication='drbd'):
    """The safety gate over ``runner``: the replication plugin named (over
    ``target``, e.g. the DRBD resource), the lock-manager plugin named and
    corosync's quorum where either needs it, each reading bounded by
    ``timeout`` seconds.
    """
    replication = replication_base.load(replication, runner, target, timeout)
    lock_manager = locking_base.load(lock_manager, runner, vg_name, timeout)
    needs_quorum = replication.needs_quorum or lock_manager.needs_quorum
    return SafetyGate(replication,
                      Quorum(runner, timeout) if needs_quorum else None,
                      lock_manager)
