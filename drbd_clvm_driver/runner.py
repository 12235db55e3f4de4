"""The one place where the driver starts external commands.

Every command is an argument list (never a shell string) with a time bound.
LVM blocks forever when corosync or dlm is gone, so the bound is enforced
twice: by ``timeout --kill-after`` running as root next to the command (it can
kill a root-owned ``lvcreate``, which the service user cannot), and by the
Python side waiting a little longer as a backstop.

Tests and the cluster gate substitute :class:`CommandRunner` subclasses that
override :meth:`CommandRunner._execute`; everything above sees the same
:class:`CommandResult` and the same exceptions.
"""

import dataclasses
import subprocess
import time

from oslo_concurrency import processutils
from oslo_log import log as logging

from drbd_clvm_driver import exception

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

    def run(self, argv, timeout=None, check=True, ok_exit_codes=(0,)):
        """Run ``argv`` and return its :class:`CommandResult`.

        :param argv: list of strings; the first is the program.
        :param timeout: seconds before the command is killed.
        :param check: raise :class:`~.exception.CommandFailed` when the exit
            code is not in ``ok_exit_codes``.
        :raises CommandTimeout: the command ran out of time and was killed.
        """
        argv = tuple(str(arg) for arg in argv)
        timeout = timeout or self.default_timeout
        started = time.monotonic()
        exit_code, stdout, stderr = self._execute(argv, timeout)
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

    def _execute(self, argv, timeout):
        """Run the command; return ``(exit_code, stdout, stderr)``.

        ``exit_code`` is ``None`` when the command was killed for running
        longer than ``timeout`` seconds.
        """
        raise NotImplementedError


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
