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

"""LVM changes through one long-lived ``lvm`` shell in the daemon.

Most of an LVM command's time in a small VG is the program's own start-up
(measured in the gate's guests: ``lvcreate`` 287 ms as a program, 85 ms
typed into a running ``lvm`` shell). LVM ships a command profile,
``lvmdbusd``, for programs that drive its shell: with it each command's
outcome comes as JSON on the descriptor ``LVM_REPORT_FD`` names, and
``lastlog`` gives the messages a program prints. The daemon keeps one such
shell and types each change into it; a change answers exactly what the
program would (``(exit_code, stdout, stderr)``).

Each command keeps its time bound: a shell that outlives it is killed
(whole process group, as a program would be) and the next change starts a
new one, as it does after LVM's configuration changed. A change the shell
cannot take - the shell is busy with another call, the profile is not
installed, an argument LVM's shell could not split back - runs as a
program, as before. Reports stay programs: the profile
would change their format. Activations stay programs too: LVM takes the
VG's lock shared for them, and its shell would go on taking it shared for
the changes typed after (see :func:`takes_exclusive_lock`).
"""

import json
import os
import re
import select
import signal
import subprocess
import threading
import time

from drbd_clvm_driver.privileged import programs

#: the program that is LVM's shell when started without a command
PROGRAM = ['lvm']
#: LVM's profile for programs that drive its shell (shipped with LVM)
PROFILE = 'lvmdbusd'
#: the changes typed into the shell: those LVM makes under the VG's
#: exclusive lock (``lvconvert --merge`` may leave a background poll
#: behind, so it stays a program)
CHANGES = frozenset(('lvcreate', 'lvextend', 'lvchange', 'lvremove',
                     'lvrename'))
#: the only options of an ``lvchange`` typed into the shell (with the tag
#: each names). Activation and refresh take the VG's lock *shared*, and
#: LVM's shell (2.03.16, seen on the gate's nodes) keeps that mode for
#: every later command typed into it: changes committed under a shared
#: lock on two nodes at once overwrite each other's metadata.
_TAG_OPTIONS = frozenset(('--addtag', '--deltag'))
_YES = frozenset(('-y', '--yes'))
#: LVM's status for a command that did what it was asked
_PROCESSED = 1
#: words LVM's shell splits a line into, at most (its ``MAX_ARGS``)
_MAX_WORDS = 64
#: seconds LVM may take to print its configuration
_CONFIG_TIMEOUT = 10
#: seconds ``lastlog`` may take once the command answered
_LASTLOG_TIMEOUT = 10

_shell = None
_config = {}
#: held by the call using the shell; another call meanwhile runs a program
_in_use = threading.Lock()


def lvm_config():
    """LVM's ``global/locking_dir`` and ``config/profile_dir`` (the keys
    without their section); an empty dict while LVM cannot say. Asked once
    it has answered.
    """
    if not _config:
        exit_code, stdout, _ = programs.run(
            ['lvmconfig', '--typeconfig', 'full', 'global/locking_dir',
             'config/profile_dir'], _CONFIG_TIMEOUT)
        if exit_code == 0:
            _config.update(re.findall(
                r'^\s*(locking_dir|profile_dir)="(/[^"]+)"', stdout,
                re.MULTILINE))
    return dict(_config)


def available():
    """Whether this node's LVM has the profile its shell needs."""
    profile = _profile_path()
    return profile is not None and os.path.isfile(profile)


def _profile_path():
    profile_dir = lvm_config().get('profile_dir')
    return profile_dir and os.path.join(profile_dir, PROFILE + '.profile')


def config_stamp():
    """When LVM's configuration files and the profile last changed: a shell
    reads them once, so one started before a change is replaced.
    """
    system_dir = os.environ.get('LVM_SYSTEM_DIR', '/etc/lvm')
    stamp = []
    for path in (os.path.join(system_dir, 'lvm.conf'),
                 os.path.join(system_dir, 'lvmlocal.conf'), _profile_path()):
        try:
            stamp.append(os.stat(path).st_mtime_ns)
        except (OSError, TypeError):
            stamp.append(None)
    return tuple(stamp)


def line_of(argv):
    """``argv`` as a line LVM's shell splits back into it, or None.

    LVM's shell splits on white space; a word that starts with a quote
    runs to the next such quote, with no escapes.
    """
    if len(argv) >= _MAX_WORDS:
        return None
    words = []
    for arg in argv:
        if '\n' in arg:
            return None
        if arg and not re.search(r'[\s\'"#]', arg):
            words.append(arg)
            continue
        quote = next((mark for mark in '"\'' if mark not in arg), None)
        if quote is None:
            return None
        words.append(quote + arg + quote)
    return ' '.join(words) + '\n'


def takes_exclusive_lock(argv):
    """Whether LVM makes the change ``argv`` under the VG's exclusive lock
    (so the shell may take it and stays in that mode).
    """
    if argv[0] not in CHANGES:
        return False
    if argv[0] != 'lvchange':
        return True
    words = iter(argv[1:])
    for word in words:
        if word in _TAG_OPTIONS:
            next(words, None)
        elif word.startswith('-') and word not in _YES:
            return False
    return True


def begin(argv, shell=True):
    """Start the change ``argv``: typed into the shell where ``shell``
    allows and the shell can take it, else as a program. None if there is
    no such program.

    :returns: a :class:`ShellRun` or :class:`ProgramRun`.
    """
    line = line_of(argv) if shell and takes_exclusive_lock(argv) else None
    if line is not None and _in_use.acquire(blocking=False):
        typed = False
        try:
            current = _shell_for_use()
            typed = current is not None and current.send(line)
            if typed:
                return ShellRun(current, argv)
        finally:
            if not typed:
                _in_use.release()
    process = programs.start(argv)
    return None if process is None else ProgramRun(process)


def run(argv, timeout, shell=True):
    """Run ``argv`` as :func:`begin` starts it, bounded by ``timeout``."""
    running = begin(argv, shell)
    if running is None:
        return programs.not_found(argv)
    return running.wait(time.monotonic() + timeout)


def _shell_for_use():
    global _shell
    stamp = config_stamp()
    if _shell is not None and _shell.alive and _shell.stamp != stamp:
        _shell.kill()
    if _shell is None or not _shell.alive:
        _shell = Shell.start(stamp) if available() else None
    return _shell


class ProgramRun:
    """A change running as its own program."""

    def __init__(self, process):
        self.process = process

    @property
    def pid(self):
        return self.process.pid

    @property
    def alive(self):
        return self.process.poll() is None

    def wait(self, deadline):
        return programs.wait(self.process, deadline)

    def kill(self):
        _kill(self.process)


class ShellRun:
    """A change typed into the shell; the shell is this call's until
    :meth:`wait` or :meth:`kill` ends.
    """

    def __init__(self, shell, argv):
        self.shell = shell
        self.argv = argv

    @property
    def pid(self):
        return self.shell.process.pid

    @property
    def alive(self):
        return self.shell.alive

    def wait(self, deadline):
        try:
            return self.shell.answer(self.argv[0], deadline)
        finally:
            _in_use.release()

    def kill(self):
        try:
            self.shell.kill()
        finally:
            _in_use.release()


class Shell:
    """One ``lvm`` shell with its report descriptor."""

    def __init__(self, process, report, stamp):
        self.process = process
        self.report = report
        #: :func:`config_stamp` when it started
        self.stamp = stamp
        self._pending = b''
        self._killed = False
        #: whether the shell closed an output
        self._closed = False

    @classmethod
    def start(cls, stamp):
        """A new shell reading the configuration of ``stamp``; None if
        there is no ``lvm`` program.
        """
        report, lvm_end = os.pipe()
        process = None
        try:
            process = subprocess.Popen(
                PROGRAM, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(lvm_end,),
                start_new_session=True,
                env=programs.c_locale_environment(
                    LVM_REPORT_FD=str(lvm_end),
                    LVM_COMMAND_PROFILE=PROFILE))
        except FileNotFoundError:
            pass
        finally:
            os.close(lvm_end)
            if process is None:
                os.close(report)
        return None if process is None else cls(process, report, stamp)

    @property
    def alive(self):
        return not self._killed and self.process.poll() is None

    def send(self, line):
        """Type ``line``; False (and the shell killed) if it has ended."""
        try:
            self.process.stdin.write(line.encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            self.kill()
            return False
        return True

    def answer(self, program, deadline):
        """The sent command's ``(exit_code, stdout, stderr)``, as its
        program would exit and print them; ``(None, ...)`` with the shell
        killed if it did not answer by ``deadline`` or answered something
        else than LVM does.
        """
        outcome, stdout, stderr = self._report(deadline)
        status = None if outcome is None else _status(outcome, program)
        if status is None:
            return None, stdout, stderr + self._gone(outcome)
        messages, more_out, more_err = None, '', ''
        if self.send('lastlog\n'):
            messages, more_out, more_err = self._report(
                time.monotonic() + _LASTLOG_TIMEOUT)
        if not isinstance(messages, dict):
            return (None, stdout + more_out,
                    stderr + more_err + self._gone(messages))
        entries = messages.get('log', [])
        stdout += more_out + ''.join(
            '  %s\n' % entry.get('log_message', '') for entry in entries
            if entry.get('log_type') == 'print')
        stderr += more_err + ''.join(
            '  %s\n' % entry.get('log_message', '') for entry in entries
            if entry.get('log_type') in ('warn', 'error'))
        return (0 if status == _PROCESSED else status), stdout, stderr

    def _gone(self, outcome):
        """Kill the shell after an answer that is not LVM's; what to add to
        its stderr to say so.
        """
        ended = None
        if self._closed and not self._killed:
            try:  # it closed its end: it is exiting
                ended = self.process.wait(programs.KILL_GRACE)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        if outcome is not None:
            return 'The lvm shell answered %r\n' % (outcome,)
        if ended is not None:
            return 'The lvm shell ended (exit code %d)\n' % ended
        return ''

    def kill(self):
        """Kill the shell and whatever it started; reap in the background.
        """
        if self._killed:
            return
        self._killed = True
        _kill(self.process)
        os.close(self.report)

    def _report(self, deadline):
        """The next JSON object on the report descriptor, and what the
        shell printed meanwhile; ``(None, out, err)`` when none came by
        ``deadline`` or the shell ended.
        """
        printed = {self.process.stdout.fileno(): b'',
                   self.process.stderr.fileno(): b''}
        decoder = json.JSONDecoder()
        while True:
            text = self._pending.decode(errors='replace').lstrip()
            # decode only once a whole JSON value may have arrived
            if text.rstrip().endswith(('}', ']')):
                try:
                    outcome, end = decoder.raw_decode(text)
                    self._pending = text[end:].encode()
                    return outcome, *self._text(printed)
                except ValueError:
                    pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, *self._text(printed)
            ready, _, _ = select.select([self.report] + list(printed), [],
                                        [], remaining)
            for descriptor in ready:
                chunk = os.read(descriptor, 65536)
                if descriptor == self.report:
                    self._pending += chunk
                else:
                    printed[descriptor] += chunk
                if not chunk:
                    self._closed = True
                    return None, *self._text(printed)

    def _text(self, printed):
        return tuple(printed[stream.fileno()].decode(errors='replace')
                     for stream in (self.process.stdout,
                                    self.process.stderr))


def _kill(process):
    """SIGKILL ``process``'s group, then reap it in the background: a
    killed process runs no code of its own again.
    """
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    threading.Thread(target=process.communicate, daemon=True).start()


def _status(outcome, program):
    """LVM's status for the command ``program`` in the shell's answer, or
    None if the answer is not one.
    """
    try:
        [entry] = [entry for entry in outcome['log']
                   if entry.get('log_context') == 'shell' and
                   entry.get('log_type') == 'status']
        if entry['log_object_name'] != program:
            return None
        return int(entry['log_ret_code'])
    except (KeyError, TypeError, ValueError):
        return None
