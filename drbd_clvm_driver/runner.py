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
run in the C locale (:func:`~drbd_clvm_driver.privileged.programs.
c_locale_environment`): the driver reads the programs' words in English.
LVM blocks forever when corosync or dlm is gone, so the bound is enforced
where root is: inside the privileged daemon (:class:`PrivsepCommandRunner`,
what the volume service uses), or by ``timeout --kill-after`` next to the
command (:class:`RootCommandRunner`, for the operator commands that run as
root), with the Python side waiting a little longer as a backstop.

Both are :class:`~drbd_clvm_driver.commands.CommandRunner` subclasses; that
interface, :class:`~drbd_clvm_driver.commands.CommandResult` and
:class:`~drbd_clvm_driver.commands.Readings` live a layer below, in
:mod:`drbd_clvm_driver.commands`, where the safety gate and the privileged
daemon find them without this module. They are named here too, for the
tests and tools that substitute their own runners.
"""

import subprocess

from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_privsep import daemon as privsep_daemon

from drbd_clvm_driver import commands
from drbd_clvm_driver import exception
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import programs
from drbd_clvm_driver.privileged import root

LOG = logging.getLogger(__name__)

CommandResult = commands.CommandResult
Readings = commands.Readings
CommandRunner = commands.CommandRunner
DeferredCommand = commands.DeferredCommand

#: how a command killed by coreutils ``timeout`` ends: 124 after TERM; after
#: KILL, ``timeout`` dies with its process group (-9 seen directly, 137
#: through a root helper that reports it as a status)
TIMEOUT_EXIT_CODES = (124, 137, -9)
#: seconds ``timeout`` waits after TERM before it sends KILL
KILL_GRACE = 5


class PrivsepCommandRunner(commands.CommandRunner):
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


class RootCommandRunner(commands.CommandRunner):
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
                env_variables=programs.c_locale_environment(),
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
