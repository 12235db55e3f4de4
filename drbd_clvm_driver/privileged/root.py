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

"""The entry points that run inside the privileged daemon.

Each checks what it is asked against :mod:`.checks` before anything runs,
bounds every command in time (killing its whole process group when the
bound passes: LVM blocks rather than fails when the cluster stack is gone),
and answers plain values, ``(exit_code, stdout, stderr)`` with ``None`` for
an exit code when the bound passed, so that nothing but
:class:`~drbd_clvm_driver.exception.CommandRefused` has to cross the daemon's
socket as an exception.

Cluster-state readings are answered without starting a program wherever
the kernel or a library has the answer (:mod:`.native`).
"""

import concurrent.futures
import math
import os
import signal
import subprocess
import threading
import time

from drbd_clvm_driver import exception
from drbd_clvm_driver import privileged
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import native

#: seconds a command gets after TERM before KILL
KILL_GRACE = 5
#: seconds between checks whether a long command's caller is gone
ABANDON_CHECK = 1
#: readings taken at once, across all calls
MAX_READINGS = 8
_READERS = concurrent.futures.ThreadPoolExecutor(
    MAX_READINGS, thread_name_prefix='reading')
#: set when the interpreter starts to exit, before it waits for the calls
#: still running (the hook concurrent.futures uses to join its threads; a
#: plain atexit handler would run only after them)
_EXITING = threading.Event()
threading._register_atexit(_EXITING.set)


def c_locale_environment(**variables):
    """This process's environment, plus ``variables``, in the C locale: for
    every program the driver starts, whose words it reads in English (LVM's
    refusals, :mod:`drbd_clvm_driver.lvm`) whatever the operator's locale.
    """
    # LANG too, for programs that read it themselves; LANGUAGE counts for
    # nothing in the C locale.
    return dict(os.environ, LC_ALL='C', LANG='C', **variables)


@privileged.default.entrypoint
def lvm(argv, timeout, shell=True):
    """Run one LVM command (create, extend, change, remove, report); a
    change through the daemon's LVM shell where ``shell`` allows and it can
    (:mod:`.lvm_shell`).
    """
    argv = checks.check('lvm', argv)
    checks.check_flag('shell', shell)
    # Imported here: the shell runs its fallbacks through this module.
    from drbd_clvm_driver.privileged import lvm_shell
    return lvm_shell.run(argv, timeout, shell)


@privileged.default.entrypoint
def lvm_guarded(argv, timeout, gate_spec, shell=True):
    """One LVM metadata change behind the safety gate, in one call: the
    gate ``gate_spec`` describes (:meth:`~drbd_clvm_driver.cluster.
    SafetyGate.spec`) checks the cluster here while the command starts up
    held back by LVM's own VG lock (:mod:`.held`), it goes on only if the
    check passed, and DRBD is read the moment it ends. ``shell``: as for
    :func:`lvm`.

    :returns: what :meth:`~drbd_clvm_driver.cluster.SafetyGate.
        judge_then_run` returns.
    """
    argv = checks.check('lvm', argv)
    checks.check_flag('shell', shell)
    # Imported here: the gate's modules import the driver's runner, which
    # imports this module.
    from drbd_clvm_driver.privileged import gatekeeper
    from drbd_clvm_driver.privileged import held
    gate = gatekeeper.gate(gate_spec)
    return gate.judge_then_run(held.command(
        argv, timeout, gate.lock_manager.vg_name,
        gate.lock_manager.lvm_file_locks, shell))


@privileged.default.entrypoint
def data(argv, timeout):
    """Run one ``dd`` copy or wipe between logical volumes, or zero one
    in its device (``fallocate --punch-hole``).

    Beyond its shape, each device must be a device-mapper device that LVM
    made, so a path under ``/dev/VG/`` that points elsewhere is refused.
    """
    argv = checks.check('data', argv)
    for path in checks.data_devices(argv):
        if path != '/dev/zero' and not is_lvm_device(path):
            raise exception.CommandRefused(
                'Refused %s on %s: not a logical volume\'s device'
                % (argv[0], path))
    return run(argv, timeout, abandoned=client_gone)


def client_gone():
    """Whether the volume service that started this daemon is gone.

    The daemon's main thread serves the service's socket and exits when it
    closes; the interpreter then waits for the calls still running. A copy
    into a volume nobody will finish must not go on writing for up to
    ``drbd_clvm_data_copy_timeout``: the restarted service's start-up scan
    could not remove the half-made volume while it is open.
    """
    return _EXITING.is_set()


@privileged.default.entrypoint
def cluster_state(commands, timeout):
    """Take every cluster-state reading in ``commands`` at once.

    The readings are independent (DRBD, corosync, the lock manager), so
    they run concurrently and the call takes as long as the slowest; all are
    checked before any starts.

    :returns: one ``(exit_code, stdout, stderr)`` per command, in order.
    """
    return take_readings(
        [checks.check('cluster_state', argv) for argv in commands], timeout)


def take_readings(commands, timeout):
    """Cluster-state readings already checked, at once (see
    :func:`cluster_state`).
    """
    # File readings cannot hang and cost less than a thread hand-off;
    # programs, and corosync's library, get a worker and a bound.
    readings = [native.read_now(argv)
                or _READERS.submit(_reading, argv, timeout)
                for argv in commands]
    pending = [reading for reading in readings
               if isinstance(reading, concurrent.futures.Future)]
    # A reading answered in the daemon (a library call to a hung corosync)
    # has no process to kill; its answer is given up after the bound.
    concurrent.futures.wait(pending, timeout + 2 * KILL_GRACE)
    return [reading if not isinstance(reading, concurrent.futures.Future)
            else reading.result() if reading.done() else (None, '', '')
            for reading in readings]


def is_lvm_device(path, sys_block='/sys/block'):
    """Whether ``path`` resolves to a device-mapper device LVM made (its
    dm uuid starts with ``LVM-``; a snapshot's ``-cow`` device included).
    """
    device = os.path.basename(os.path.realpath(path))
    try:
        with open(os.path.join(sys_block, device, 'dm', 'uuid')) as uuid:
            return uuid.read().startswith('LVM-')
    except OSError:
        return False


def _reading(argv, timeout):
    return native.answer(argv) or run(argv, timeout)


def run(argv, timeout, abandoned=None):
    """Run ``argv`` in its own process group; ``(None, out, err)`` if it
    outlived ``timeout`` seconds, or ``abandoned()`` became true while it
    ran (checked every :data:`ABANDON_CHECK` seconds), and was killed.
    """
    process = start(argv)
    if process is None:
        return not_found(argv)
    return wait(process, time.monotonic() + timeout, abandoned)


def start(argv):
    """Start ``argv`` in its own process group; None if there is no such
    program.
    """
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True,
                                env=c_locale_environment())
    except FileNotFoundError:
        return None


def not_found(argv):
    """A missing program's answer, as a shell gives it: an answer, not the
    daemon failing.
    """
    return 127, '', '%s: command not found\n' % argv[0]


def wait(process, deadline, abandoned=None):
    """:func:`run`'s answer for a ``process`` already started, bounded by
    ``deadline`` (``time.monotonic()``).
    """
    step = ABANDON_CHECK if abandoned else math.inf
    while True:
        remaining = deadline - time.monotonic()
        try:
            stdout, stderr = process.communicate(
                timeout=max(0, min(remaining, step)))
            return process.returncode, stdout, stderr
        except subprocess.TimeoutExpired:
            if remaining <= step or abandoned():
                stdout, stderr = _stop(process)
                return None, stdout, stderr


def _stop(process):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            continue
    # Killed but still holding its pipes open through a child: give up on
    # its output rather than block the daemon's worker.
    return '', ''
