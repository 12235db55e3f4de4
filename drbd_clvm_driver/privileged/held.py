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

"""An LVM change started before the safety gate's check, held back by LVM's
own VG lock until the check has passed.

LVM takes its local file lock on a VG (``flock`` on ``<locking_dir>/V_<VG>``,
beside lvmlockd's cluster lock) before it reads the metadata it will change,
and keeps it until the change is written; it asks lvmlockd for the VG's
cluster lock only after that. So the daemon takes that lock first, starts
the command, and checks the cluster while LVM starts up (50-120 ms for an
LVM program on the gate's guests, longer than the check; a command typed
into the daemon's running LVM shell reaches the lock sooner and waits
there for the check's end): where a CPU is free to run the check, it costs
the change no more than that wait. If the check passes, the lock is let
go and LVM goes on; if not,
the command is killed while it waits for the lock, and a killed process runs
none of its own code again, so it changes nothing. A change typed into the
daemon's LVM shell (:mod:`.lvm_shell`) is held alike: the shell waits for
the lock, and a refusal kills the whole shell.

Where that cannot be relied on, the command starts after the check as
before: with clvmd (``locking_type = 3`` takes VG locks in clvmd, not in
files), when LVM cannot say its ``locking_dir``, when the command's VG is
not the gate's, or when another LVM command holds the lock right now.
"""

import fcntl
import os
import time

from drbd_clvm_driver.privileged import lvm_shell


def command(argv, timeout, vg_name, lvm_file_locks, shell=True):
    """The change ``argv`` (already checked) for :meth:`~drbd_clvm_driver.
    cluster.SafetyGate.judge_then_run`: held back on ``vg_name``'s lock
    file where ``lvm_file_locks`` (the lock manager's) and the command's VG
    allow it; typed into the daemon's LVM shell if ``shell``.
    """
    lock_dir = lvm_lock_dir() if lvm_file_locks else None
    if lock_dir is None or vg_of(argv) != vg_name:
        return HeldCommand(argv, timeout, None, shell)
    return HeldCommand(argv, timeout, os.path.join(lock_dir, 'V_' + vg_name),
                       shell)


def vg_of(argv):
    """The VG an LVM change (one of :mod:`.checks`' shapes) works on."""
    if argv[0] == 'lvrename':
        return argv[1]
    return argv[-1].split('/', 1)[0]


def lvm_lock_dir():
    """LVM's ``global/locking_dir``; None where LVM cannot say."""
    return lvm_shell.lvm_config().get('locking_dir')


def take_lock(path):
    """LVM's lock on ``path``, exclusively, without waiting: the open file
    descriptor, or None when another command holds it (or it cannot be
    made).
    """
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    except OSError:
        return None
    while True:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None
        # LVM unlinks a lock file it is done with: a lock counts only on
        # the file still at the path.
        try:
            on_path = os.stat(path)
        except FileNotFoundError:
            on_path = None
        held = os.fstat(descriptor)
        if on_path is not None and (on_path.st_dev, on_path.st_ino) == (
                held.st_dev, held.st_ino):
            return descriptor
        os.close(descriptor)


class HeldCommand:
    """One LVM change through :meth:`start`, then :meth:`finish` or
    :meth:`cancel`; typed into the daemon's LVM shell where it can be
    (:mod:`.lvm_shell`).

    :param lock_file: the VG's LVM lock file, or None to start the command
        only in :meth:`finish`.
    :param shell: whether it may be typed into the LVM shell.
    """

    def __init__(self, argv, timeout, lock_file, shell=True):
        self.argv = argv
        self.timeout = timeout
        self.lock_file = lock_file
        self.shell = shell
        self._lock = None
        self._running = None
        self._deadline = None

    @property
    def held(self):
        """Whether the command runs, waiting for the VG's lock."""
        return self._running is not None

    @property
    def running(self):
        """The held :class:`~.lvm_shell.ShellRun` or :class:`~.lvm_shell.
        ProgramRun`, or None.
        """
        return self._running

    def start(self):
        """Start the command behind the VG's lock, where it can be held."""
        if self.lock_file is None:
            return
        self._lock = take_lock(self.lock_file)
        if self._lock is None:
            return
        self._deadline = time.monotonic() + self.timeout
        try:
            self._running = lvm_shell.begin(self.argv, self.shell)
        finally:
            # A lock left held would stop every LVM change on the node.
            if self._running is None:
                self._let_go()

    def cancel(self):
        """The check did not pass: kill a held command, then let the lock
        go.
        """
        running, self._running = self._running, None
        try:
            if running is not None:
                # Once SIGKILL is sent the process runs no code of its own
                # again, so the lock may go before it is reaped.
                running.kill()
        finally:
            self._let_go()

    def finish(self):
        """The check passed: let the held command go on (or start it now)
        and return its ``(exit_code, stdout, stderr)``.
        """
        self._let_go()
        if self._running is None:
            return lvm_shell.run(self.argv, self.timeout, self.shell)
        return self._running.wait(self._deadline)

    def _let_go(self):
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
