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
bound passes: LVM blocks rather than fails when the cluster stack is gone;
:mod:`.programs`), and answers plain values, ``(exit_code, stdout,
stderr)`` with ``None`` for an exit code when the bound passed, so that
nothing but :class:`~drbd_clvm_driver.exception.CommandRefused` has to cross
the daemon's socket as an exception.

Cluster-state readings are answered without starting a program wherever
the kernel or a library has the answer (:mod:`.native`).

This is the daemon's top layer: the volume service calls these functions
(:class:`~drbd_clvm_driver.runner.PrivsepCommandRunner`), and they use the
layers below - the LVM shell, the held start, the safety gate - none of
which imports this module.
"""

import os
import threading

from drbd_clvm_driver import exception
from drbd_clvm_driver import privileged
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import gatekeeper
from drbd_clvm_driver.privileged import held
from drbd_clvm_driver.privileged import lvm_shell
from drbd_clvm_driver.privileged import programs

#: set when the interpreter starts to exit, before it waits for the calls
#: still running (the hook concurrent.futures uses to join its threads; a
#: plain atexit handler would run only after them)
_EXITING = threading.Event()
threading._register_atexit(_EXITING.set)


@privileged.default.entrypoint
def lvm(argv, timeout, shell=True):
    """Run one LVM command (create, extend, change, remove, report); a
    change through the daemon's LVM shell where ``shell`` allows and it can
    (:mod:`.lvm_shell`).
    """
    argv = checks.check('lvm', argv)
    checks.check_flag('shell', shell)
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
    return programs.run(argv, timeout, abandoned=client_gone)


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
    return programs.take_readings(
        [checks.check('cluster_state', argv) for argv in commands], timeout)


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
