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
    counts the trips a daemon would see.
    """

    def __init__(self):
        super().__init__()
        self.ran = 0
        self.trips = []

    def _execute(self, argv, timeout):
        self.ran += 1
        return 0, str(self.ran), ''

    def _execute_all(self, commands, timeout):
        self.trips.append('read')
        return [self._execute(argv, timeout) for argv in commands]

    def _execute_then_read(self, argv, timeout, commands, commands_timeout):
        self.trips.append('run+read')
        return (self._execute(argv, timeout),
                [self._execute(reading, commands_timeout)
                 for reading in commands])


class ReadingAfterTest(testtools.TestCase):
    """The readings ride with the block's command, and always come after
    its last one.
    """

    READING = ('cat', '/proc/drbd')

    def setUp(self):
        super().setUp()
        self.runner = _Counting()

    def test_one_command_one_trip(self):
        with self.runner.reading_after([self.READING]) as after:
            self.assertEqual('1', self.runner.run(['lvcreate']).stdout)
        self.assertEqual(['run+read'], self.runner.trips)
        self.assertEqual('2', after.readings.output(self.READING).stdout)

    def test_readings_follow_the_last_command(self):
        with self.runner.reading_after([self.READING]) as after:
            self.runner.run(['lvcreate'])
            self.runner.run(['lvchange'])
        self.assertEqual('4', after.readings.output(self.READING).stdout)

    def test_no_command_reads_at_the_end(self):
        with self.runner.reading_after([self.READING]) as after:
            pass
        self.assertEqual(['read'], self.runner.trips)
        self.assertEqual('1', after.readings.output(self.READING).stdout)

    def test_commands_after_the_block_are_plain(self):
        with self.runner.reading_after([self.READING]):
            self.runner.run(['lvcreate'])
        self.runner.run(['lvs'])
        self.assertEqual(['run+read'], self.runner.trips)
        self.assertEqual(3, self.runner.ran)

    def test_an_error_in_the_block_reads_nothing_more(self):
        with testtools.ExpectedException(exception.CommandFailed):
            with self.runner.reading_after([self.READING]):
                self.runner.run(['false'], ok_exit_codes=(1,))
        self.assertEqual(['run+read'], self.runner.trips)

    def test_each_thread_has_its_own_block(self):
        seen = []
        with self.runner.reading_after([self.READING]):
            worker = threading.Thread(
                target=lambda: seen.append(self.runner.run(['lvs'])))
            worker.start()
            worker.join()
        self.assertEqual(['read'], self.runner.trips)
        self.assertEqual('1', seen[0].stdout)

    def test_the_default_takes_two_trips(self):
        plain = runner.RootCommandRunner(default_timeout=5)
        with plain.reading_after([('printf', 'after')]) as after:
            self.assertEqual('run', plain.run(['printf', 'run']).stdout)
        self.assertEqual('after',
                         after.readings.output(('printf', 'after')).stdout)
