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

"""A change started before the gate's check, held back on LVM's VG lock.

The command here is a stand-in for LVM that follows its lock protocol (open
``V_<VG>`` in the lock directory, ``flock`` it, change, exit): what the test
shows is that nothing changes before the check has passed, and nothing at
all when it did not.
"""

import fcntl
import json
import os
import sys
import time
import types

import fixtures
import testtools

from drbd_clvm_driver import cluster
from drbd_clvm_driver.privileged import held
from drbd_clvm_driver.privileged import programs
from drbd_clvm_driver import runner
from tests.cluster import guests
from tests.cluster import held_check

#: takes the lock file's flock as LVM does, then appends to the change log
_LVM_STAND_IN = '''
import fcntl, os, sys, time
lock_file, changes = sys.argv[1:]
os.makedirs(os.path.dirname(lock_file), exist_ok=True)
descriptor = os.open(lock_file, os.O_CREAT | os.O_RDWR)
fcntl.flock(descriptor, fcntl.LOCK_EX)
with open(changes, 'a') as log:
    log.write('%f\\n' % time.time())
print('changed')
'''


class HeldCommandTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        base = self.useFixture(fixtures.TempDir()).path
        self.lock_file = os.path.join(base, 'lock', 'V_vgc')
        self.changes = os.path.join(base, 'changes')
        self.argv = [sys.executable, '-c', _LVM_STAND_IN, self.lock_file,
                     self.changes]

    def _changed(self):
        try:
            with open(self.changes) as log:
                return [float(line) for line in log]
        except FileNotFoundError:
            return []

    def test_nothing_changes_until_the_check_passed(self):
        command = held.HeldCommand(self.argv, 30, self.lock_file)
        command.start()
        self.assertTrue(command.held)
        time.sleep(1)  # the stand-in reached its lock long ago
        self.assertEqual([], self._changed())
        passed = time.time()
        self.assertEqual((0, 'changed\n', ''), command.finish())
        [changed] = self._changed()
        self.assertGreaterEqual(changed, passed)

    def test_a_refused_change_never_happens(self):
        command = held.HeldCommand(self.argv, 30, self.lock_file)
        command.start()
        time.sleep(1)
        command.cancel()
        time.sleep(1)
        self.assertEqual([], self._changed())
        # and the lock is free for the next command
        descriptor = held.take_lock(self.lock_file)
        self.assertIsNotNone(descriptor)
        os.close(descriptor)

    def test_a_busy_lock_starts_the_command_after_the_check(self):
        os.makedirs(os.path.dirname(self.lock_file))
        other = os.open(self.lock_file, os.O_CREAT | os.O_RDWR)
        fcntl.flock(other, fcntl.LOCK_SH)  # an LVM report, say
        command = held.HeldCommand(self.argv, 30, self.lock_file)
        command.start()
        self.assertFalse(command.held)
        os.close(other)
        self.assertEqual((0, 'changed\n', ''), command.finish())
        self.assertEqual(1, len(self._changed()))

    def test_a_lock_file_unlinked_by_lvm_is_taken_again(self):
        # LVM unlinks a lock file once done: a lock on the old file would
        # hold nobody back.
        os.makedirs(os.path.dirname(self.lock_file))
        open(self.lock_file, 'w').close()
        real_flock = fcntl.flock

        def flock_then_unlinked(descriptor, operation):
            real_flock(descriptor, operation)
            if os.path.exists(self.lock_file) and not unlinked:
                unlinked.append(os.fstat(descriptor).st_ino)
                os.unlink(self.lock_file)

        unlinked = []
        self.useFixture(fixtures.MonkeyPatch('fcntl.flock',
                                             flock_then_unlinked))
        descriptor = held.take_lock(self.lock_file)
        self.addCleanup(os.close, descriptor)
        self.assertEqual(1, len(unlinked))
        self.assertEqual(os.stat(self.lock_file).st_ino,
                         os.fstat(descriptor).st_ino)

    def test_without_a_lock_file_it_runs_after_the_check(self):
        command = held.HeldCommand(self.argv, 30, None)
        command.start()
        self.assertFalse(command.held)
        self.assertEqual([], self._changed())
        self.assertEqual((0, 'changed\n', ''), command.finish())

    def test_time_bound_counts_from_the_start(self):
        command = held.HeldCommand(['sleep', '30'], 0.5, self.lock_file)
        command.start()
        time.sleep(0.3)
        started = time.monotonic()
        self.assertIsNone(command.finish()[0])
        self.assertLess(time.monotonic() - started, 5)

    def test_a_command_that_cannot_start_leaves_the_lock_free(self):
        self.useFixture(fixtures.MockPatchObject(
            programs, 'start', side_effect=OSError('Too many open files')))
        command = held.HeldCommand(self.argv, 30, self.lock_file)
        self.assertRaises(OSError, command.start)
        descriptor = held.take_lock(self.lock_file)
        self.assertIsNotNone(descriptor)
        os.close(descriptor)

    def test_missing_program_is_an_answer(self):
        command = held.HeldCommand(['no-such-lvm'], 5, self.lock_file)
        command.start()
        self.assertFalse(command.held)
        self.assertEqual(127, command.finish()[0])


class ThroughTheGateTest(testtools.TestCase):
    """judge_then_run with a held command: the check runs while it waits.
    """

    class Gate(cluster.SafetyGate):
        def __init__(self, reasons):
            self.checked_while = []
            self._reasons = reasons

        def _inspect(self, with_generation):
            self.checked_while.append(self.command.held)
            return self._reasons, None

    def _judged(self, reasons, command):
        gate = self.Gate(reasons)
        gate.command = command
        return gate, gate.judge_then_run(command)

    def test_refused_cancels(self):
        base = self.useFixture(fixtures.TempDir()).path
        lock_file = os.path.join(base, 'V_vgc')
        command = held.HeldCommand(['sleep', '30'], 30, lock_file)
        gate, verdict = self._judged(['DRBD r0 is StandAlone'], command)
        self.assertEqual([True], gate.checked_while)
        self.assertEqual((['DRBD r0 is StandAlone'], None, None, None, None),
                         verdict)
        self.assertFalse(command.held)
        descriptor = held.take_lock(lock_file)
        self.assertIsNotNone(descriptor)
        os.close(descriptor)

    def test_a_failing_check_cancels(self):
        command = held.HeldCommand(['sleep', '30'], 30, os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'V_vgc'))

        class Broken(self.Gate):
            def _inspect(self, with_generation):
                raise RuntimeError('reading failed')

        self.assertRaises(RuntimeError, Broken([]).judge_then_run, command)
        self.assertFalse(command.held)


class CommandTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(
            held, 'lvm_lock_dir', return_value='/run/lock/lvm'))

    def test_held_on_the_vg_of_the_change(self):
        for argv in (['lvcreate', '-y', '-an', '-L', '4m', '-n', 'a', 'vgc'],
                     ['lvremove', '-y', 'vgc/a'],
                     ['lvrename', 'vgc', 'a', 'b']):
            self.assertEqual('/run/lock/lvm/V_vgc', held.command(
                argv, 10, 'vgc', True).lock_file)

    def test_another_vg_or_clvmd_is_not_held(self):
        create = ['lvcreate', '-y', '-an', '-L', '4m', '-n', 'a', 'other']
        self.assertIsNone(held.command(create, 10, 'vgc', True).lock_file)
        create[-1] = 'vgc'
        self.assertIsNone(held.command(create, 10, 'vgc', False).lock_file)

    def test_lock_dir_unknown_is_not_held(self):
        held.lvm_lock_dir.return_value = None
        self.assertIsNone(held.command(['lvremove', '-y', 'vgc/a'], 10,
                                       'vgc', True).lock_file)


class HeldCheckHarnessTest(testtools.TestCase):
    """The Cinder gate's judgement of what the guest reported."""

    SEEN = {'still_running_after_3_s': True, 'waiting_for_the_lock': True,
            'typed_unless_an_activation': True,
            'cancelled_changed_nothing': True, 'let_go_changed': True}
    FOUND = dict(dict.fromkeys(held_check._CHANGES, SEEN),
                 lock_dir='/run/lock/lvm',
                 daemon_refused=['no such resource'],
                 daemon_left_nothing=True)

    def _cluster(self, found, left_on_node2=False):
        class Node:
            def __init__(self, name, answer):
                self.name = name
                self.runner = self
                self.answer = answer

            def run(self, *argv, **kwargs):
                if argv[:2] == ('lvs', 'vgc/held-check'):
                    exit_code = self.answer
                else:
                    exit_code = 0
                return runner.CommandResult(argv, exit_code, json.dumps(
                    found) + '\n', '', 0.1)

        cluster = types.SimpleNamespace(
            replication='drbd', lock_manager='lvmlockd',
            nodes=(Node('node1', 0), Node('node2', 0 if left_on_node2 else
                                          5)))
        return cluster

    def test_every_finding_holds(self):
        found = held_check.run(self._cluster(self.FOUND),
                               log=lambda line: None)
        self.assertEqual(self.FOUND, {key: value for key, value in
                                      found.items()
                                      if key != 'other_node_create_s'})

    def test_a_missed_finding_fails_the_gate(self):
        for change in (
                {'lvextend -L': dict(self.SEEN,
                                     waiting_for_the_lock=False)},
                {'lvchange -aey': dict(self.SEEN,
                                       cancelled_changed_nothing=False)},
                {'lvremove -y': dict(self.SEEN,
                                     typed_unless_an_activation=False)},
                {'daemon_refused': []}, {'daemon_left_nothing': False}):
            found = dict(self.FOUND, **change)
            error = self.assertRaises(guests.GuestError, held_check.run,
                                      self._cluster(found),
                                      log=lambda line: None)
            self.assertIn('node1', str(error))

    def test_left_on_another_node_fails_the_gate(self):
        self.assertRaises(guests.GuestError, held_check.run,
                          self._cluster(self.FOUND, left_on_node2=True),
                          log=lambda line: None)
