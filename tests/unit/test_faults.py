"""The fault campaign's own bookkeeping (tests/cluster/faults.py)."""

import logging
import threading
import time
import types

import fixtures

import testtools

from drbd_clvm_driver import runner
from tests.cluster import faults


def _worker(action, limit):
    campaign = types.SimpleNamespace(name=lambda name: name, fault_at=None)
    node = types.SimpleNamespace(name='node2')
    return faults.Operations(campaign, node, ops=None, action=action,
                             limit=limit)


class AwaitAnswersTest(testtools.TestCase):

    def test_slow_series_of_answered_operations_is_not_unanswered(self):
        # Three operations of 0.3 s: the series outlasts the bound, no
        # single operation does.
        worker = _worker(lambda ops, name: time.sleep(0.3), limit=3)
        worker.start()
        self.assertEqual(0, faults.await_answers([worker], bound=0.5,
                                                 poll=0.05))
        self.assertEqual(['ok'] * 3,
                         [answer['outcome'] for answer in worker.answers])

    def test_operation_past_the_bound_is_counted_and_left(self):
        release = threading.Event()
        self.addCleanup(release.set)
        stuck = _worker(lambda ops, name: release.wait(10), limit=1)
        quick = _worker(lambda ops, name: None, limit=2)
        stuck.start()
        quick.start()
        self.assertEqual(1, faults.await_answers([stuck, quick], bound=0.3,
                                                 poll=0.05))
        self.assertTrue(stuck.is_alive())
        self.assertEqual([], stuck.answers)
        self.assertEqual(2, len(quick.answers))


class _Instant(runner.CommandRunner):

    def _execute(self, argv, timeout):
        return 0, '', ''


class SlowCommandsTest(testtools.TestCase):

    def _run(self, seconds):
        # The runner's own clock says how long the command took.
        clock = iter([100.0, 100.0 + seconds])
        self.useFixture(fixtures.MockPatch(
            'drbd_clvm_driver.runner.time.monotonic',
            side_effect=lambda: next(clock)))
        with faults.SlowCommands(bound=10) as slow:
            _Instant().run(['lvcreate', '-n', 'v1', 'vgc'])
        return slow.commands

    def test_slow_command_is_named_with_its_thread(self):
        self.assertEqual(
            ['%s: lvcreate -n v1 vgc (12.500 s)'
             % threading.current_thread().name], self._run(12.5))

    def test_quick_command_is_not(self):
        self.assertEqual([], self._run(3))

    def test_runner_logger_level_restored(self):
        logger = logging.getLogger(runner.__name__)
        before = logger.level
        self._run(12.5)
        self.assertEqual(before, logger.level)
        self.assertNotIn(True, [isinstance(handler, faults.SlowCommands)
                                for handler in logger.handlers])
