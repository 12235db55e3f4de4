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

"""Changes typed into one long-lived LVM shell in the daemon.

The shell here is a stand-in that follows what LVM's does with the
``lvmdbusd`` profile (recorded in the gate's guests, LVM 2.03.16): it
splits each line as LVM's shell does, writes the command's status as JSON
on ``LVM_REPORT_FD``, keeps its messages for ``lastlog``, and takes the
VG's lock file for a change as LVM does. Like LVM's shell it takes the VG
lock shared for every command typed after an activation or refresh.
"""

import json
import os
import sys
import threading
import time

import fixtures
import testtools

from drbd_clvm_driver.privileged import held
from drbd_clvm_driver.privileged import lvm_shell
from drbd_clvm_driver.privileged import programs
from tests.unit import recorded

_SHELL_STAND_IN = r'''
import fcntl, json, os, sys, time
lock_file, changes, modes = sys.argv[1:]
report = os.fdopen(int(os.environ['LVM_REPORT_FD']), 'w')
assert os.environ['LVM_COMMAND_PROFILE'] == 'lvmdbusd'


def split(line):
    # LVM's shell: white space between words; a word that starts with a
    # quote runs to the next such quote
    words, rest = [], line
    while True:
        rest = rest.lstrip()
        if not rest or rest[0] == '#':
            return words
        if rest[0] in '"\'':
            end = rest.find(rest[0], 1)
            end = len(rest) if end < 0 else end
            words.append(rest[1:end])
            rest = rest[end + 1:]
        else:
            word = rest.split(None, 1)
            words.append(word[0])
            rest = word[1] if len(word) > 1 else ''


def answer(entries):
    json.dump({'log': entries}, report, indent=4)
    report.write('\n')
    report.flush()


def entry(kind, message, context='processing', name='vgc', code=0):
    return {'log_type': kind, 'log_context': context,
            'log_object_name': name, 'log_message': message,
            'log_ret_code': str(code)}


last = []
vg_lock = 'ex'
for line in sys.stdin:
    words = split(line)
    if words[0] == 'lvchange' and any(
            word == '--refresh' or word.startswith('-a') for word in words):
        vg_lock = 'sh'
    if words == ['lastlog']:
        if bad_lastlog:
            report.write(json.dumps(['not', 'a', 'log']) + '\n')
            report.flush()
        else:
            answer(last)
        continue
    with open(modes, 'a') as log:
        log.write(json.dumps([words[0], vg_lock]) + '\n')
    program, code, last = words[0], 1, []
    bad_lastlog = 'badlog' in words
    if 'hang' in words:
        time.sleep(600)
    if 'crash' in words:
        sys.exit(9)
    if 'noisy' in words:
        sys.stderr.write('  printed by the shell itself\n')
        sys.stderr.flush()
    if 'vgc/missing' in words:
        code = 5
        last.append(entry('error', 'Failed to find logical volume '
                          '"vgc/missing"'))
    else:
        descriptor = os.open(lock_file, os.O_CREAT | os.O_RDWR)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        with open(changes, 'a') as log:
            log.write(json.dumps([os.getpid(), time.time()] + words) + '\n')
        os.close(descriptor)
        last.append(entry('warn', 'WARNING: Logical volume not zeroed.'))
        last.append(entry('print', 'Logical volume "a" created.'))
    last.append(entry('status', 'success' if code == 1 else 'failure',
                      code=code))
    shell = entry('status', 'success' if code == 1 else 'failure', 'shell',
                  'lvextend' if 'mislabelled' in words else program, code)
    last.append(shell)
    said = []
    if 'shupdate' in words:
        # as LVM 2.03.16 answered a shared-lock extend on the gate: its own
        # warning beside the status, in the answer and in lastlog
        said.append(entry('warn', 'Refreshing LV /dev//vgc/a on other '
                          'hosts...', 'shell', program))
        last.insert(-1, said[0])
    answer(said + [shell])
'''

CREATE = ['lvcreate', '-y', '-an', '-L', '4m', '-n', 'a', 'vgc']


#: answers the lines, in their order, with what LVM's shell wrote for them
#: on the gate guests; a line out of order ends it
_REPLAY_STAND_IN = r'''
import json, os, sys
answers = json.load(open(sys.argv[1]))
report = os.fdopen(int(os.environ['LVM_REPORT_FD']), 'w')
last = None
for line in sys.stdin:
    if line.strip() == 'lastlog':
        report.write(last)
    else:
        expected, status, last = answers.pop(0)
        if line != expected:
            sys.exit('typed %r, recorded %r' % (line, expected))
        report.write(status)
    report.flush()
'''


class ShellFixture(fixtures.Fixture):
    """The stand-in as the daemon's LVM shell, the profile installed.

    :param answers: instead, replay these: ``(line, status, lastlog)``
        in order, as LVM's shell wrote them.
    """

    def __init__(self, answers=None):
        super().__init__()
        self.answers = answers

    def _setUp(self):
        base = self.useFixture(fixtures.TempDir()).path
        self.lock_file = os.path.join(base, 'V_vgc')
        self.changes = os.path.join(base, 'changes')
        self.modes = os.path.join(base, 'modes')
        profile_dir = os.path.join(base, 'profile')
        os.mkdir(profile_dir)
        open(os.path.join(profile_dir, 'lvmdbusd.profile'), 'w').close()
        program = [sys.executable, '-c', _SHELL_STAND_IN, self.lock_file,
                   self.changes, self.modes]
        if self.answers is not None:
            replayed = os.path.join(base, 'answers.json')
            with open(replayed, 'w') as handle:
                json.dump(self.answers, handle)
            program = [sys.executable, '-c', _REPLAY_STAND_IN, replayed]
        self.useFixture(fixtures.MockPatch(
            'drbd_clvm_driver.privileged.lvm_shell.PROGRAM', program))
        self.system_dir = os.path.join(base, 'etc')
        os.mkdir(self.system_dir)
        open(os.path.join(self.system_dir, 'lvm.conf'), 'w').close()
        self.useFixture(fixtures.EnvironmentVariable('LVM_SYSTEM_DIR',
                                                     self.system_dir))
        self.useFixture(fixtures.MockPatchObject(
            lvm_shell, 'lvm_config', return_value={
                'profile_dir': profile_dir, 'locking_dir': base}))
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.privileged.lvm_shell._shell', None))
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.privileged.lvm_shell._in_use',
            threading.Lock()))
        self.addCleanup(self._stop)

    def _stop(self):
        if lvm_shell._shell is not None and lvm_shell._shell.alive:
            lvm_shell._shell.kill()

    def changed(self):
        """``[pid, time, word...]`` per change the shell made."""
        return self._log(self.changes)

    def vg_lock_modes(self):
        """``[program, mode]`` per command typed: the VG lock it took."""
        return self._log(self.modes)

    @staticmethod
    def _log(path):
        try:
            with open(path) as log:
                return [json.loads(line) for line in log]
        except FileNotFoundError:
            return []


class ShellTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.shell = self.useFixture(ShellFixture())
        self.programs = self.useFixture(fixtures.MockPatchObject(
            programs, 'start', return_value=None)).mock

    def test_a_change_answers_as_its_program_would(self):
        self.assertEqual(
            (0, '  Logical volume "a" created.\n',
             '  WARNING: Logical volume not zeroed.\n'),
            lvm_shell.run(CREATE, 10))
        [change] = self.shell.changed()
        self.assertEqual(CREATE, change[2:])
        self.programs.assert_not_called()

    def test_every_argument_arrives_as_it_was_given(self):
        remove = ['lvremove', '-y', '-S', 'lv_name=a && lv_role!={origin} '
                  '&& lv_role!={snapshot}', 'vgc']
        tag = ['lvchange', '--addtag', '#it\'s', '--addtag', '', 'vgc/a']
        for argv in (remove, tag):
            self.assertEqual(0, lvm_shell.run(argv, 10)[0])
        self.assertEqual([remove, tag],
                         [change[2:] for change in self.shell.changed()])

    def test_one_shell_serves_change_after_change(self):
        for _ in range(3):
            lvm_shell.run(CREATE, 10)
        self.assertEqual(1, len({change[0]
                                 for change in self.shell.changed()}))

    def test_a_changed_configuration_gets_a_new_shell(self):
        lvm_shell.run(CREATE, 10)
        later = time.time() + 10
        os.utime(os.path.join(self.shell.system_dir, 'lvm.conf'),
                 (later, later))
        lvm_shell.run(CREATE, 10)
        lvm_shell.run(CREATE, 10)
        first, second, third = [change[0] for change in self.shell.changed()]
        self.assertNotEqual(first, second)
        self.assertEqual(second, third)

    def test_the_shells_own_warning_is_part_of_the_answer(self):
        self.assertEqual(
            (0, '  Logical volume "a" created.\n',
             '  WARNING: Logical volume not zeroed.\n'
             '  Refreshing LV /dev//vgc/a on other hosts...\n'),
            lvm_shell.run(['lvextend', '-L', '8m', '--lockopt', 'shupdate',
                           'vgc/a'], 10))
        self.assertTrue(lvm_shell._shell.alive)

    def test_a_failure_keeps_lvms_exit_code_and_words(self):
        self.assertEqual(
            (5, '', '  Failed to find logical volume "vgc/missing"\n'),
            lvm_shell.run(['lvremove', '-y', 'vgc/missing'], 10))

    def test_what_the_shell_prints_itself_is_kept(self):
        exit_code, _, stderr = lvm_shell.run(
            ['lvchange', '--addtag', 'noisy', 'vgc/a'], 10)
        self.assertEqual(0, exit_code)
        self.assertIn('printed by the shell itself', stderr)

    def test_the_time_bound_kills_the_shell_and_the_next_starts_anew(self):
        lvm_shell.run(CREATE, 10)
        started = time.monotonic()
        self.assertIsNone(lvm_shell.run(
            ['lvchange', '--addtag', 'hang', 'vgc/a'], 0.5)[0])
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(0, lvm_shell.run(CREATE, 10)[0])
        first, second = self.shell.changed()
        self.assertNotEqual(first[0], second[0])

    def test_a_shell_gone_before_the_line_leaves_it_to_a_program(self):
        lvm_shell.run(CREATE, 10)
        gone = lvm_shell._shell.process
        gone.kill()
        gone.wait()
        self.useFixture(fixtures.MockPatchObject(
            lvm_shell.Shell, 'alive', True))  # it ended just after asked
        self.assertEqual(127, lvm_shell.run(CREATE, 10)[0])
        self.programs.assert_called_once_with(CREATE)
        self.assertFalse(lvm_shell._in_use.locked())

    def test_a_shell_that_ends_meanwhile_is_no_answer(self):
        exit_code, _, stderr = lvm_shell.run(
            ['lvchange', '--addtag', 'crash', 'vgc/a'], 10)
        self.assertIsNone(exit_code)
        self.assertIn('lvm shell ended (exit code 9)', stderr)
        self.assertEqual(0, lvm_shell.run(CREATE, 10)[0])

    def test_an_answer_for_another_command_is_not_taken(self):
        exit_code, _, stderr = lvm_shell.run(
            ['lvchange', '--addtag', 'mislabelled', 'vgc/a'], 10)
        self.assertIsNone(exit_code)
        self.assertIn('lvm shell answered', stderr)
        self.assertFalse(lvm_shell._shell.alive)

    def test_messages_that_are_not_lvms_are_no_answer(self):
        exit_code, _, stderr = lvm_shell.run(
            ['lvchange', '--addtag', 'badlog', 'vgc/a'], 10)
        self.assertIsNone(exit_code)
        self.assertIn("lvm shell answered ['not', 'a', 'log']", stderr)
        self.assertEqual(0, lvm_shell.run(CREATE, 10)[0])

    def test_a_busy_shell_leaves_the_change_to_a_program(self):
        lvm_shell._in_use.acquire()
        self.addCleanup(lvm_shell._in_use.release)
        self.assertEqual(127, lvm_shell.run(CREATE, 10)[0])
        self.programs.assert_called_once_with(CREATE)
        self.assertEqual([], self.shell.changed())

    def test_what_the_shell_cannot_take_runs_as_a_program(self):
        for argv in (['lvchange', '--addtag', 'a b"c\'', 'vgc/a'],
                     ['lvs', '--noheadings', 'vgc'],
                     ['lvconvert', '-y', '--merge', 'vgc/s'],
                     ['lvchange'] + ['--addtag', 't'] * 32 + ['vgc/a']):
            lvm_shell.run(argv, 10)
            self.programs.assert_called_with(argv)
        self.assertEqual([], self.shell.changed())

    def test_activations_run_as_programs_so_changes_keep_the_lock_exclusive(
            self):
        activations = (['lvchange', '-aey', 'vgc/a'],
                       ['lvchange', '-y', '-an', 'vgc/a'],
                       ['lvchange', '--activate', 'sy', 'vgc/a'],
                       ['lvchange', '--refresh', 'vgc/a'])
        for activation in activations:
            lvm_shell.run(activation, 10)
            self.programs.assert_called_with(activation)
            lvm_shell.run(CREATE, 10)
        tag = ['lvchange', '-y', '--addtag', 'a', '--deltag', 'b', 'vgc/a']
        lvm_shell.run(tag, 10)
        self.assertEqual(len(activations), self.programs.call_count)
        self.assertEqual(
            [['lvcreate', 'ex']] * len(activations) + [['lvchange', 'ex']],
            self.shell.vg_lock_modes())

    def test_turned_off_changes_run_as_programs(self):
        lvm_shell.run(CREATE, 10, shell=False)
        self.programs.assert_called_once_with(CREATE)
        held.HeldCommand(CREATE, 10, self.shell.lock_file,
                         shell=False).start()
        self.assertEqual(2, self.programs.call_count)
        self.assertEqual([], self.shell.changed())

    def test_without_the_profile_changes_run_as_programs(self):
        lvm_shell.lvm_config.return_value = {}
        lvm_shell.run(CREATE, 10)
        self.programs.assert_called_once_with(CREATE)

    def test_a_shell_that_cannot_start_leaves_no_descriptor(self):
        # The pipe's own descriptors, not the process's count: other
        # threads may open and close files meanwhile.
        opened, closed = [], []
        real_pipe, real_close = os.pipe, os.close

        def pipe():
            ends = real_pipe()
            opened.extend(ends)
            return ends

        def close(descriptor):
            closed.append(descriptor)
            real_close(descriptor)

        self.useFixture(fixtures.MockPatchObject(lvm_shell.os, 'pipe', pipe))
        self.useFixture(fixtures.MockPatchObject(lvm_shell.os, 'close',
                                                 close))
        self.useFixture(fixtures.MockPatchObject(
            lvm_shell.subprocess, 'Popen',
            side_effect=OSError('Too many open files')))
        self.assertRaises(OSError, lvm_shell.run, CREATE, 10)
        self.assertEqual(2, len(opened))
        self.assertLessEqual(set(opened), set(closed))
        self.assertFalse(lvm_shell._in_use.locked())

    def test_no_lvm_at_all(self):
        self.useFixture(fixtures.MockPatch(
            'drbd_clvm_driver.privileged.lvm_shell.PROGRAM', ['no-such-lvm']))
        self.assertEqual(127, lvm_shell.run(CREATE, 10)[0])
        self.programs.assert_called_once_with(CREATE)


def _lines(printed):
    """What a command printed, line by line, in any order; LVM's size
    messages aside (the profile prints sizes in bytes, programs in MiB).
    """
    return sorted(line.strip() for line in printed.splitlines()
                  if line.strip() and not line.strip().startswith(
                      'Size of logical volume'))


class RecordedShellTest(testtools.TestCase):
    """What LVM's shell answered on the gate guests reads as what the same
    commands printed as programs (tests/unit/fixtures/recorded/lvm-shell).
    """

    def setUp(self):
        super().setUp()
        directory = os.path.join(recorded.FIXTURES, 'lvm-shell')
        self.programs = []
        answers = []
        for name in sorted(os.listdir(directory)):
            if not name.startswith('program-'):
                continue
            program = recorded.load(os.path.join('lvm-shell', name))
            shell = name.replace('program-', 'shell-', 1)
            status = recorded.load(os.path.join('lvm-shell', shell))
            lastlog = recorded.load(os.path.join(
                'lvm-shell', shell.replace('.txt', '-lastlog.txt')))
            self.assertEqual(program.command, status.command)
            answers.append((lvm_shell.line_of(list(program.argv)),
                            status.output, lastlog.output))
            self.programs.append(program)
        self.useFixture(ShellFixture(answers))

    def test_each_change_answers_as_its_program_did(self):
        self.assertGreaterEqual(len(self.programs), 8)
        for program in self.programs:
            exit_code, stdout, stderr = lvm_shell.run(list(program.argv), 10)
            self.assertEqual(program.exit_code, exit_code, program.command)
            self.assertEqual(_lines(program.output),
                             _lines(stdout + stderr), program.command)


class HeldInTheShellTest(testtools.TestCase):
    """The held start (:mod:`.held`) with the change typed into the shell.
    """

    def setUp(self):
        super().setUp()
        self.shell = self.useFixture(ShellFixture())

    def _held(self):
        command = held.HeldCommand(CREATE, 30, self.shell.lock_file)
        command.start()
        self.assertIsInstance(command.running, lvm_shell.ShellRun)
        time.sleep(1)  # the shell reached the lock long ago
        self.assertTrue(command.running.alive)
        self.assertEqual([], self.shell.changed())
        return command

    def test_nothing_changes_until_the_check_passed(self):
        command = self._held()
        passed = time.time()
        self.assertEqual(0, command.finish()[0])
        [change] = self.shell.changed()
        self.assertGreaterEqual(change[1], passed)

    def test_a_refused_change_never_happens_and_the_next_one_does(self):
        command = self._held()
        shell = command.running
        command.cancel()
        time.sleep(1)
        self.assertFalse(shell.alive)
        self.assertEqual([], self.shell.changed())
        descriptor = held.take_lock(self.shell.lock_file)
        self.assertIsNotNone(descriptor)
        os.close(descriptor)
        self.assertEqual(0, lvm_shell.run(CREATE, 10)[0])
        self.assertEqual(1, len(self.shell.changed()))

    def test_a_change_meanwhile_runs_as_a_program(self):
        self._held()
        started = self.useFixture(fixtures.MockPatchObject(
            programs, 'start', return_value=None)).mock
        lvm_shell.run(CREATE, 10)
        started.assert_called_once_with(CREATE)


class LvmConfigTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.privileged.lvm_shell._config', {}))

    def test_as_lvmconfig_prints_it(self):
        self.useFixture(fixtures.MockPatchObject(
            programs, 'run', return_value=(
                0, 'locking_dir="/run/lock/lvm"\n'
                'profile_dir="/etc/lvm/profile"\n', '')))
        self.assertEqual('/run/lock/lvm', held.lvm_lock_dir())
        self.assertEqual({'locking_dir': '/run/lock/lvm',
                          'profile_dir': '/etc/lvm/profile'},
                         lvm_shell.lvm_config())
        self.assertEqual(1, programs.run.call_count)

    def test_lvm_that_cannot_say_is_asked_again(self):
        self.useFixture(fixtures.MockPatchObject(
            programs, 'run', return_value=(None, '', '')))  # timed out
        self.assertIsNone(held.lvm_lock_dir())
        self.assertFalse(lvm_shell.available())
        programs.run.return_value = 0, 'locking_dir="/run/lock/lvm"\n', ''
        self.assertEqual('/run/lock/lvm', held.lvm_lock_dir())
