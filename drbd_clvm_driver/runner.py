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

"""The one place where the driver starts external commands.

Every command is an argument list (never a shell string) with a time bound,
run in the C locale (:func:`~drbd_clvm_driver.privileged.root.
c_locale_environment`): the driver reads the programs' words in English.
LVM blocks forever when corosync or dlm is gone, so the bound is enforced
where root is: inside the privileged daemon (:class:`PrivsepCommandRunner`,
what the volume service uses), or by ``timeout --kill-after`` next to the
command (:class:`RootCommandRunner`, for the operator commands that run as
root), with the Python side waiting a little longer as a backstop.

Tests and the cluster gate substitute :class:`CommandRunner` subclasses that
override :meth:`CommandRunner._execute`; everything above sees the same
:class:`CommandResult` and the same exceptions.
"""

import concurrent.futures
import contextlib
import dataclasses
import subprocess
import threading
import time

from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_privsep import daemon as privsep_daemon

from drbd_clvm_driver import exception
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import root

LOG = logging.getLogger(__name__)

#: how a command killed by coreutils ``timeout`` ends: 124 after TERM; after
#: KILL, ``timeout`` dies with its process group (-9 seen directly, 137
#: through a root helper that reports it as a status)
TIMEOUT_EXIT_CODES = (124, 137, -9)
#: seconds ``timeout`` waits after TERM before it sends KILL
KILL_GRACE = 5


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What one command did."""

    argv: tuple
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


class Readings(dict):
    """What :meth:`CommandRunner.read` took: argv tuple -> result.

    :param node: where they were taken, for error messages.
    """

    def __init__(self, node=None):
        super().__init__()
        self.node = node

    @classmethod
    def from_answers(cls, commands, answers, timeout, seconds, node=None):
        """Readings from ``(exit_code, stdout, stderr)`` answers, one per
        command in order; ``None`` for an exit code is a reading killed
        after ``timeout`` seconds.
        """
        results = cls(node)
        for argv, (exit_code, stdout, stderr) in zip(commands, answers):
            argv = tuple(argv)
            if exit_code is None:
                LOG.error('%s timed out after %.1f s on %s', ' '.join(argv),
                          seconds, node or 'this node')
                results[argv] = exception.CommandTimeout(argv, timeout, node)
            else:
                results[argv] = CommandResult(argv, exit_code, stdout,
                                              stderr, seconds)
        LOG.debug('%d readings in %.3f s', len(results), seconds)
        return results

    def answers(self):
        """The ``(exit_code, stdout, stderr)`` answers, in order: what
        :meth:`from_answers` reads (to cross the privileged daemon's
        socket).
        """
        return [(None, '', '') if isinstance(result, exception.CommandTimeout)
                else (result.exit_code, result.stdout, result.stderr)
                for result in self.values()]

    def output(self, argv, check=True):
        """The :class:`CommandResult` of ``argv``.

        :raises CommandTimeout: it was killed for taking too long.
        :raises CommandFailed: its exit code is not 0 and ``check`` is set.
        """
        result = self[tuple(argv)]
        if isinstance(result, exception.CommandTimeout):
            raise result
        if check and result.exit_code != 0:
            raise exception.CommandFailed(result.argv, result.exit_code,
                                          result.stdout, result.stderr,
                                          self.node)
        return result


class CommandRunner:
    """Runs argument lists with a time bound; subclasses choose where.

    :param default_timeout: seconds any command may take unless the caller
        gives its own bound.
    :param node: a name for log lines and error messages (the host name of
        the node the commands run on).
    """

    def __init__(self, default_timeout=60, node=None):
        self.default_timeout = default_timeout
        self.node = node
        # this thread's guard (:meth:`guarded`), if any
        self._local = threading.local()

    def run(self, argv, timeout=None, check=True, ok_exit_codes=(0,)):
        """Run ``argv`` and return its :class:`CommandResult`.

        Inside :meth:`guarded`, the first command passes the safety gate's
        check first, in the same trip where the runner can.

        :param argv: list of strings; the first is the program.
        :param timeout: seconds before the command is killed.
        :param check: raise :class:`~.exception.CommandFailed` when the exit
            code is not in ``ok_exit_codes``.
        :raises CommandTimeout: the command ran out of time and was killed.
        """
        argv = tuple(str(arg) for arg in argv)
        timeout = timeout or self.default_timeout
        guard = getattr(self._local, 'guard', None)
        started = time.monotonic()
        if guard is None or guard.checked is not None:
            if guard is not None:
                guard.ran_again()
            exit_code, stdout, stderr = self._execute(argv, timeout)
        else:
            # The gate's own readings, where they run here, are plain.
            self._local.guard = None
            try:
                verdict = self._execute_guarded(argv, timeout, guard.gate)
            finally:
                self._local.guard = guard
            exit_code, stdout, stderr = guard.judged(
                verdict, time.monotonic() - started)
        seconds = time.monotonic() - started
        if exit_code is None:
            LOG.error('%s timed out after %.1f s on %s',
                      ' '.join(argv), seconds, self.node or 'this node')
            raise exception.CommandTimeout(argv, timeout, self.node)
        LOG.debug('%s exited %s in %.3f s', ' '.join(argv), exit_code,
                  seconds)
        result = CommandResult(argv, exit_code, stdout, stderr, seconds)
        if check and exit_code not in ok_exit_codes:
            raise exception.CommandFailed(argv, exit_code, stdout, stderr,
                                          self.node)
        return result

    def read(self, commands, timeout=None):
        """Run independent read-only commands at once, in one trip where
        the runner can (the safety gate's readings).

        :returns: :class:`Readings`.
        """
        commands = [tuple(str(arg) for arg in argv) for argv in commands]
        timeout = timeout or self.default_timeout
        started = time.monotonic()
        answers = self._execute_all(commands, timeout)
        return Readings.from_answers(commands, answers, timeout,
                                     time.monotonic() - started, self.node)

    @contextlib.contextmanager
    def guarded(self, guard):
        """Run the block's first command behind ``guard``'s safety gate
        (a :class:`~drbd_clvm_driver.cluster.Guard`): the gate's check, the
        command only if it passed, DRBD's readings right after it - in one
        trip where the runner can (:meth:`_execute_guarded`).
        """
        outer = getattr(self._local, 'guard', None)
        self._local.guard = guard
        try:
            yield guard
        finally:
            self._local.guard = outer

    def _execute(self, argv, timeout):
        """Run the command; return ``(exit_code, stdout, stderr)``.

        ``exit_code`` is ``None`` when the command was killed for running
        longer than ``timeout`` seconds.
        """
        raise NotImplementedError

    def _execute_all(self, commands, timeout):
        """:meth:`_execute` for each command, concurrently."""
        if len(commands) == 1:
            return [self._execute(commands[0], timeout)]
        with concurrent.futures.ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda argv: self._execute(argv, timeout),
                                 commands))

    def _execute_guarded(self, argv, timeout, gate):
        """``gate``'s :meth:`~drbd_clvm_driver.cluster.SafetyGate.
        judge_then_run` around :meth:`_execute` of ``argv``, here; the
        privileged runner has its daemon do it, in one call.
        """
        return gate.judge_then_run(
            DeferredCommand(lambda: self._execute(argv, timeout)))


class DeferredCommand:
    """A change for :meth:`~drbd_clvm_driver.cluster.SafetyGate.
    judge_then_run` that nothing holds back: it starts only once the check
    has passed.

    :param run: runs it, returning ``(exit_code, stdout, stderr)``.
    """

    def __init__(self, run):
        self.finish = run

    def start(self):
        """Nothing starts before the check."""

    def cancel(self):
        """Nothing started, so nothing to stop."""


class PrivsepCommandRunner(CommandRunner):
    """Runs commands through the driver's privileged daemon
    (:mod:`drbd_clvm_driver.privileged`), which checks each one against the
    shapes the driver uses and enforces its time bound.

    A batch of readings (:meth:`read`) is one call to the daemon.

    :param lvm_shell: whether the daemon may type LVM changes into its
        long-lived LVM shell (:mod:`drbd_clvm_driver.privileged.lvm_shell`).
    """

    def __init__(self, default_timeout=60, node=None, lvm_shell=True):
        super().__init__(default_timeout, node)
        self.lvm_shell = lvm_shell

    def _execute(self, argv, timeout):
        family = checks.family_of(argv)
        if family == 'cluster_state':
            return tuple(self._call(root.cluster_state, [list(argv)],
                                    timeout)[0])
        if family == 'data':
            return tuple(self._call(root.data, list(argv), timeout))
        return tuple(self._call(root.lvm, list(argv), timeout,
                                self.lvm_shell))

    def _execute_all(self, commands, timeout):
        return [tuple(answer) for answer in self._call(
            root.cluster_state, [list(argv) for argv in commands], timeout)]

    def _execute_guarded(self, argv, timeout, gate):
        if checks.family_of(argv) != 'lvm':
            return super()._execute_guarded(argv, timeout, gate)
        return self._call(root.lvm_guarded, list(argv), timeout, gate.spec(),
                          self.lvm_shell)

    def _call(self, entry_point, *args):
        try:
            return entry_point(*args)
        except (OSError, privsep_daemon.FailedToDropPrivileges,
                privsep_daemon.ProtocolError) as error:
            # oslo.privsep starts the daemon again on the next call.
            LOG.error('The privileged daemon failed on %s: %s',
                      self.node or 'this node', error)
            raise exception.PrivilegedDaemonUnavailable(
                'The driver\'s privileged daemon on %s failed (%s): check '
                'that the volume service\'s root helper may start '
                'privsep-helper (the drbd_clvm.filters rootwrap filter and '
                'sudoers)' % (self.node or 'this node', error))


class RootCommandRunner(CommandRunner):
    """Runs commands on this host as root through a root helper.

    :param root_helper: the prefix that gives root, e.g. Cinder's
        ``sudo cinder-rootwrap /etc/cinder/rootwrap.conf``; empty when the
        service already runs as root.
    """

    def __init__(self, root_helper='', default_timeout=60, node=None):
        super().__init__(default_timeout, node)
        self.root_helper = root_helper

    def _execute(self, argv, timeout):
        bounded = ('timeout', '--kill-after=%d' % KILL_GRACE,
                   '%d' % timeout) + argv
        finished = []
        try:
            stdout, stderr = processutils.execute(
                *bounded, run_as_root=bool(self.root_helper),
                root_helper=self.root_helper, check_exit_code=False,
                env_variables=root.c_locale_environment(),
                on_completion=finished.append,
                timeout=timeout + 2 * KILL_GRACE)
        except subprocess.TimeoutExpired:
            self._kill(finished)
            return None, '', ''
        exit_code = finished[0].returncode
        if exit_code in TIMEOUT_EXIT_CODES:
            return None, stdout, stderr
        return exit_code, stdout, stderr

    @staticmethod
    def _kill(finished):
        try:
            finished[0].kill()
            finished[0].wait(KILL_GRACE)
        except (OSError, subprocess.TimeoutExpired):
            # The root helper may not let this user signal it; the
            # root-side ``timeout`` still ends the command.
            LOG.warning('Could not kill a command that ran out of time')
