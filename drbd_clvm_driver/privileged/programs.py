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

"""The programs the privileged daemon starts, and its cluster-state
readings.

Every program runs in its own process group, in the C locale, bounded in
time: when the bound passes its whole process group is killed (LVM blocks
rather than fails when the cluster stack is gone), and the answer is plain
values, ``(exit_code, stdout, stderr)`` with ``None`` for an exit code.
Cluster-state readings are answered without starting a program wherever
the kernel or a library has the answer (:mod:`.native`).

What may run is decided before anything here is called: the entry points
(:mod:`.root`) check every request against :mod:`.checks`.
"""

import concurrent.futures
import math
import os
import signal
import subprocess
import time

from drbd_clvm_driver.privileged import native

#: seconds a command gets after TERM before KILL
KILL_GRACE = 5
#: seconds between checks whether a long command's caller is gone
ABANDON_CHECK = 1
#: readings taken at once, across all calls
MAX_READINGS = 8
_READERS = concurrent.futures.ThreadPoolExecutor(
    MAX_READINGS, thread_name_prefix='reading')


def c_locale_environment(**variables):
    """This process's environment, plus ``variables``, in the C locale: for
    every program the driver starts, whose words it reads in English (LVM's
    refusals, :mod:`drbd_clvm_driver.lvm`) whatever the operator's locale.
    """
    # LANG too, for programs that read it themselves; LANGUAGE counts for
    # nothing in the C locale.
    return dict(os.environ, LC_ALL='C', LANG='C', **variables)


def take_readings(commands, timeout):
    """Cluster-state readings already checked, at once (see
    :func:`~.root.cluster_state`).
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
