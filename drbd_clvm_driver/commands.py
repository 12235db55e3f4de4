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

"""Commands as every layer sees them: what one command did, a batch of
readings, and the runner interface everything runs commands through.

The safety gate (:mod:`drbd_clvm_driver.cluster`) reads the cluster through
a :class:`CommandRunner` and gets :class:`Readings`; the volume service's
runners (:mod:`drbd_clvm_driver.runner`) and the privileged daemon's
(:mod:`drbd_clvm_driver.privileged.gatekeeper`) are its subclasses, and
tests and the cluster gate substitute their own that override
:meth:`CommandRunner._execute`; everything above sees the same
:class:`CommandResult` and the same exceptions.

Nothing here starts a process or imports another layer of the driver: it
sits below the gate, the service's runners and the daemon alike.
"""

import concurrent.futures
import contextlib
import dataclasses
import threading
import time

from oslo_log import log as logging

from drbd_clvm_driver import exception

#: the runner's log: the command lines keep the logger they always had,
#: which operators and the fault campaign (tests/cluster/faults.py) read
LOG = logging.getLogger('drbd_clvm_driver.runner')


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
