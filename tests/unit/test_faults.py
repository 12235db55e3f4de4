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

"""The fault campaign's own bookkeeping (tests/cluster/faults.py)."""

import json
import logging
import os
import threading
import time
import types

import fixtures

import testtools

from drbd_clvm_driver import runner
from tests.cluster import faults
from tests.cluster import fencing


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
            'drbd_clvm_driver.commands.time.monotonic',
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


class FakeGuest:
    """A guest's power, as the fence device drives it."""

    def __init__(self, name):
        self.name = name
        self.running = True
        self.powered_on_at = 0.0

    def power_off(self):
        self.running = False

    def power_on(self):
        self.running = True


class FenceDeviceTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.guests = [FakeGuest('node1'), FakeGuest('node2')]
        self.device = fencing.FenceDevice(
            self.guests, types.SimpleNamespace(nodes=[]), log=lambda line: 0)

    def test_reboot_powers_the_node_on_again(self):
        self.assertTrue(self.device.power('node1', 'reboot', 'node2')['ok'])
        self.assertTrue(self.guests[1].running)

    def test_dead_hardware_stays_off_after_its_fence(self):
        self.device.dead.add('node2')
        answer = self.device.power('node1', 'reboot', 'node2')
        self.assertEqual({'ok': True, 'power': 'off'}, answer)
        self.assertFalse(self.guests[1].running)
        self.device.repair('node2')
        self.assertTrue(self.guests[1].running)
        self.assertEqual(['reboot', 'on'],
                         [event['action'] for event in self.device.events])

    def test_refusing_device_leaves_the_node_as_it_is(self):
        self.device.refusing.add('node2')
        answer = self.device.power('node1', 'reboot', 'node2')
        self.assertFalse(answer['ok'])
        self.assertTrue(self.guests[1].running)
        self.assertEqual('refused reboot', self.device.events[0]['action'])


def _answer(node, outcome, at, seconds, detail=''):
    return {'node': node, 'outcome': outcome, 'at': at, 'seconds': seconds,
            'detail': detail}


class ServedAloneTest(testtools.TestCase):
    """How soon and how much the survivor accepted after the fault."""

    def _campaign(self, back_after=None):
        campaign = faults.Campaign(types.SimpleNamespace(
            nodes=[types.SimpleNamespace(name='node1'),
                   types.SimpleNamespace(name='node2')]))
        campaign.fault_at = 100.0
        campaign.peer_back_at = None if back_after is None else (
            100.0 + back_after)
        return campaign

    def test_counts_the_survivor_only_after_the_fault(self):
        answers = [_answer('node1', 'ok', -5, 3),      # before the fault
                   _answer('node1', 'refused', 1, 1),
                   _answer('node1', 'ok', 8, 12.5),    # first: 20.5 s
                   _answer('node2', 'ok', 1, 1),       # the victim
                   _answer('node1', 'ok', 30, 40),     # away
                   _answer('node1', 'ok', 700, 30)]    # back at 600
        served = self._campaign(600)._served_alone(faults.NodeDeadForGood(),
                                                   answers)
        self.assertEqual({'serves_alone_target': True,
                          'first_accepted_seconds': 20.5,
                          'accepted_while_away': 2,
                          'accepted_after_return': 1}, served)

    def test_met_needs_the_survivor_within_the_stated_bound(self):
        result = {'split_brains': 0, 'lvs_lost': 0, 'lv_lists_differ': False,
                  'acknowledged_writes_lost': 0, 'unanswered': 0,
                  'half_made': [], 'survivor_kept_writing': True,
                  'survivor_io_pause_seconds': 5,
                  'serves_alone_target': True, 'first_accepted_seconds': 29,
                  'accepted_while_away': 10, 'accepted_after_return': 2}
        self.assertTrue(faults._met(result))
        self.assertFalse(faults._met(dict(result,
                                          first_accepted_seconds=31)))
        self.assertFalse(faults._met(dict(result,
                                          first_accepted_seconds=None)))
        self.assertFalse(faults._met(dict(result, accepted_after_return=0)))
        self.assertTrue(faults._met(dict(result, serves_alone_target=False,
                                         first_accepted_seconds=None)))

    def test_where_the_fence_fails_changes_are_due_from_the_confirmation(
            self):
        campaign = self._campaign(90)
        campaign.confirmed_at = 100.0 + 45
        fence_failed = ('DRBD r0 is WFConnection, not Connected: the fence '
                        'of node2 has failed since 2026-12-04 10:00:00 UTC')
        answers = [_answer('node1', 'refused', 1, 1, 'peer unknown'),
                   _answer('node1', 'refused', 5, 1, fence_failed),
                   _answer('node1', 'refused', 40, 1, fence_failed),
                   _answer('node1', 'ok', 44, 8),      # checked after
                   _answer('node1', 'ok', 60, 2),
                   _answer('node1', 'ok', 95, 2)]      # back at 90
        served = campaign._served_alone(faults.FenceFails(), answers)
        self.assertEqual({'serves_alone_target': True,
                          'first_accepted_seconds': 7.0,
                          'accepted_while_away': 2,
                          'accepted_after_return': 1,
                          'confirmed_after_seconds': 45.0,
                          'accepted_before_confirm': 0,
                          'refused_before_confirm': 3,
                          'refusals_naming_the_fence': 2}, served)

    def test_met_where_the_fence_fails_needs_no_change_before_it(self):
        result = {'split_brains': 0, 'lvs_lost': 0, 'lv_lists_differ': False,
                  'acknowledged_writes_lost': 0, 'unanswered': 0,
                  'half_made': [], 'survivor_kept_writing': True,
                  'survivor_io_pause_seconds': 5,
                  'serves_alone_target': True, 'first_accepted_seconds': 7,
                  'accepted_while_away': 2, 'accepted_after_return': 1,
                  'accepted_before_confirm': 0,
                  'refusals_naming_the_fence': 2}
        self.assertTrue(faults._met(result))
        self.assertFalse(faults._met(dict(result,
                                          accepted_before_confirm=1)))
        self.assertFalse(faults._met(dict(result,
                                          refusals_naming_the_fence=0)))

    def test_table_shows_the_survivor_columns(self):
        result = {'case': 'c', 'fault': 'f', 'outcomes': {'ok': 3},
                  'longest_answer_seconds': 1, 'unanswered': 0,
                  'split_brains': 0, 'lvs_lost': 0, 'half_made': [],
                  'acknowledged_writes_lost': 0, 'acknowledged_blocks': 9,
                  'survivor_io_pause_seconds': 2, 'fenced': ['node2'],
                  'healed_after_seconds': 700, 'met': True,
                  'first_accepted_seconds': 12.3, 'accepted_while_away': 7,
                  'accepted_after_return': 2}
        row = faults.format_table([result]).splitlines()[-1]
        self.assertIn('| 12.3 | 7 / 2 | node2 |', row)


class RecordingOps:
    """Records each operation's name and first argument; fails those named
    in ``failing`` once each.
    """

    def __init__(self, failing=()):
        self.calls = []
        self.failing = list(failing)

    def __getattr__(self, operation):
        def call(*args):
            self.calls.append((operation, args[0]))
            if operation in self.failing:
                self.failing.remove(operation)
                raise faults.exception.ClusterUnsafe(['refused'])
        return call


class SurvivorStepsTest(testtools.TestCase):

    def test_one_answer_per_step_and_the_round_s_volume_counts(self):
        ops, steps = RecordingOps(), faults.SurvivorSteps()
        made = [steps(ops, 'v%d' % number) for number in range(11)]
        self.assertEqual([True] + [False] * 9 + [True], made)
        self.assertEqual(
            [('create_volume', 'v0'), ('extend_volume', 'v0'),
             ('create_snapshot', 'v0-s'),
             ('create_volume_from_snapshot', 'v0-v'),
             ('delete_snapshot', 'v0-s'), ('clone_volume', 'v0-c'),
             ('use', 'v0-c'), ('release', 'v0-c'), ('delete_volume', 'v0-c'),
             ('delete_volume', 'v0-v'), ('create_volume', 'v10')],
            ops.calls)

    def test_a_refused_step_starts_a_new_round(self):
        ops, steps = RecordingOps(failing=['create_snapshot']), \
            faults.SurvivorSteps()
        steps(ops, 'a')
        steps(ops, 'b')
        self.assertRaises(faults.exception.ClusterUnsafe, steps, ops, 'c')
        self.assertTrue(steps(ops, 'd'))
        self.assertEqual(('create_volume', 'd'), ops.calls[-1])

    def test_the_worker_keeps_what_the_action_says_it_made(self):
        worker = _worker(lambda ops, name: name == 'node2-0', limit=2)
        worker.run()
        self.assertEqual([True, False],
                         [answer['made'] for answer in worker.answers])

    def test_a_second_worker_on_a_node_names_its_own_volumes(self):
        campaign = types.SimpleNamespace(name=lambda name: name,
                                         fault_at=None)
        node = types.SimpleNamespace(name='node1')
        named = []
        for label in (None, 'node1-restarted'):
            worker = faults.Operations(
                campaign, node, ops=None, limit=1, label=label,
                action=lambda ops, name: named.append(name))
            worker.run()
        self.assertEqual(['node1-0', 'node1-restarted-0'], named)


class WriteResultsTest(testtools.TestCase):

    def test_the_run_says_when_where_and_at_which_commit(self):
        path = self.useFixture(fixtures.TempDir()).path + '/r/faults.json'
        faults.write_results([{'case': 'c'}], path)
        with open(path) as handle:
            written = json.load(handle)
        self.assertEqual([{'case': 'c'}], written['cases'])
        self.assertRegex(written['commit'], '^[0-9a-f]{40}$')
        self.assertEqual(os.cpu_count(), written['machine']['cpus'])
        self.assertRegex(written['date'], r'^\d{4}-\d\d-\d\dT')
