"""The command runner with real processes (no root needed)."""

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
