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

"""The command runner with real processes (no root needed)."""

import threading

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import runner


class RootCommandRunnerTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = runner.RootCommandRunner(default_timeout=5,
                                               node='here')

    def test_output_and_exit_code(self):
        result = self.runner.run(['printf', 'a;b'])
        self.assertEqual('a;b', result.stdout)
        self.assertEqual(0, result.exit_code)
        self.assertEqual(('printf', 'a;b'), result.argv)

    def test_arguments_never_reach_a_shell(self):
        result = self.runner.run(['echo', '$(id)', ';', 'ls'])
        self.assertEqual('$(id) ; ls\n', result.stdout)

    def test_failure_raises_with_output(self):
        error = self.assertRaises(exception.CommandFailed, self.runner.run,
                                  ['ls', '/no/such/path'])
        self.assertEqual(2, error.exit_code)
        self.assertIn('No such file', str(error))
        self.assertIn('on here', str(error))

    def test_unchecked_failure_returns(self):
        result = self.runner.run(['false'], check=False)
        self.assertEqual(1, result.exit_code)

    def test_hanging_command_is_killed(self):
        error = self.assertRaises(exception.CommandTimeout, self.runner.run,
                                  ['sleep', '30'], timeout=1)
        self.assertEqual(1, error.timeout)
        self.assertTrue(error.retriable)
        self.assertIn('corosync', str(error))

    def test_command_ignoring_term_is_killed(self):
        # LVM stuck in the kernel ignores TERM; KILL follows the grace.
        self.patch(runner, 'KILL_GRACE', 1)
        error = self.assertRaises(
            exception.CommandTimeout, self.runner.run,
            ['python3', '-c', 'import signal, time; signal.signal('
             'signal.SIGTERM, signal.SIG_IGN); time.sleep(30)'], timeout=1)
        self.assertEqual(1, error.timeout)


class _Counting(runner.CommandRunner):
    """Answers every command with how many commands ran before it, and
    records the trips a daemon would see.
    """

    def __init__(self):
        super().__init__()
        self.ran = 0
        self.trips = []

    def _execute(self, argv, timeout):
        self.ran += 1
        return 0, str(self.ran), ''

    def _execute_guarded(self, argv, timeout, gate):
        self.trips.append(('guarded', argv[0], gate))
        return [], {}, self._execute(argv, timeout), [], []


class _Guard:
    """Stands in for :class:`~drbd_clvm_driver.cluster.Guard`."""

    gate = 'the gate'

    def __init__(self):
        self.checked = None
        self.again = 0

    def judged(self, verdict, seconds):
        self.checked = verdict[1]
        return verdict[2]

    def ran_again(self):
        self.again += 1


class GuardedTest(testtools.TestCase):
    """The block's first command goes through the gate, in its own trip."""

    def setUp(self):
        super().setUp()
        self.runner = _Counting()
        self.guard = _Guard()

    def test_first_command_is_guarded_the_next_plain(self):
        with self.runner.guarded(self.guard):
            self.assertEqual('1', self.runner.run(['lvcreate']).stdout)
            self.assertEqual('2', self.runner.run(['lvchange']).stdout)
        self.assertEqual([('guarded', 'lvcreate', 'the gate')],
                         self.runner.trips)
        self.assertEqual(1, self.guard.again)

    def test_commands_after_the_block_are_plain(self):
        with self.runner.guarded(self.guard):
            self.runner.run(['lvcreate'])
        self.runner.run(['lvs'])
        self.assertEqual(1, len(self.runner.trips))
        self.assertEqual(0, self.guard.again)

    def test_each_thread_has_its_own_block(self):
        seen = []
        with self.runner.guarded(self.guard):
            worker = threading.Thread(
                target=lambda: seen.append(self.runner.run(['lvs'])))
            worker.start()
            worker.join()
        self.assertEqual([], self.runner.trips)
        self.assertEqual('1', seen[0].stdout)

    def test_a_refusal_reaches_the_caller(self):
        guard = _Guard()
        guard.judged = lambda verdict, seconds: self.fail('refused')
        with testtools.ExpectedException(self.failureException):
            with self.runner.guarded(guard):
                self.runner.run(['lvcreate'])

    def test_the_default_judges_here_around_the_command(self):
        plain = runner.RootCommandRunner(default_timeout=5)
        calls = []

        class Gate:
            def judge_then_run(self, command):
                command.start()
                calls.append('check')
                answer = command.finish()
                calls.append('after')
                return [], {}, answer, [], []

        guard = _Guard()
        guard.gate = Gate()
        with plain.guarded(guard):
            self.assertEqual('run', plain.run(['printf', 'run']).stdout)
        self.assertEqual(['check', 'after'], calls)
