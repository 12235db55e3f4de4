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

import io
import json
import logging
import os
import subprocess
import threading
import time
import types

import fixtures

import testtools

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver.replication import drbd as drbd_replication
from drbd_clvm_driver import runner
from tests.cluster import faults
from tests.cluster import fencing
from tests.cluster import guests


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


class PaceTest(testtools.TestCase):

    def _starts(self, pace, action):
        starts = []

        def timed(ops, name):
            starts.append(time.monotonic())
            return action()

        worker = _worker(timed, limit=3)
        worker.pace = pace
        worker.start()
        worker.join(5)
        return [later - earlier for earlier, later in zip(starts, starts[1:])]

    def test_accepted_operations_start_a_pace_apart(self):
        for gap in self._starts(0.3, lambda: None):
            self.assertGreaterEqual(gap, 0.29)

    def test_back_to_back_without_a_pace(self):
        for gap in self._starts(0, lambda: None):
            self.assertLess(gap, 0.2)

    def test_stopping_ends_the_wait_for_the_next_one(self):
        worker = _worker(lambda ops, name: None, limit=2)
        worker.pace = 30
        worker.start()
        time.sleep(0.1)
        worker.stopping.set()
        worker.join(2)
        self.assertFalse(worker.is_alive())
        self.assertEqual(1, len(worker.answers))


class _Instant(runner.CommandRunner):

    def _execute(self, argv, timeout):
        return 0, '', ''


class _Local(runner.CommandRunner):
    """Runs the commands a guest would, here."""

    def _execute(self, argv, timeout):
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout)
        return done.returncode, done.stdout, done.stderr


class _Off(runner.CommandRunner):

    def _execute(self, argv, timeout):
        raise guests.GuestError('guest agent hung up')


class WriterTest(testtools.TestCase):
    """The instance's stand-in: its guest script run for real here, on a
    file for the device and one for the console, the host's side reading
    the acknowledgements back from that console.
    """

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.device = os.path.join(self.directory, 'device')
        with open(self.device, 'wb') as handle:
            handle.truncate(64 * faults.BLOCK)
        self.node = types.SimpleNamespace(
            name='node1', io=_Local(),
            console_log=os.path.join(self.directory, 'console.log'))
        with open(self.node.console_log, 'w') as handle:
            handle.write('an earlier boot\n%s lab-x 7 1.000\n'
                         % faults.ACK_MARK)
        self.useFixture(fixtures.MockPatchObject(
            faults.Writer, 'console', self.node.console_log))
        self.useFixture(fixtures.MockPatchObject(
            faults.Writer, 'run_dir', self.directory))

    def _written(self, writer):
        with open(self.device, 'rb') as handle:
            data = handle.read()
        return [block for block in range(64)
                if data[block * faults.BLOCK:(block + 1) * faults.BLOCK] ==
                faults.pattern(writer.label, block).encode()]

    def test_acknowledged_blocks_are_written_and_read_back(self):
        writer = faults.Writer(self.node, self.device, 'lab-x', 64)
        writer.start()
        guests.wait_until(lambda: len(writer.acknowledged) >= 3, 30,
                          'three acknowledgements')
        writer.stopping.set()
        writer.join(30)
        self.assertFalse(writer.is_alive())
        # in order, from block 0, no line of an earlier boot among them
        self.assertEqual(list(range(len(writer.acknowledged))),
                         writer.acknowledged)
        self.assertEqual(writer.acknowledged, self._written(writer))
        # the guest's process ended before the last read
        self.assertFalse(os.path.exists(writer._running_file))
        times = writer.ack_times
        self.assertEqual(times, sorted(times))
        self.assertLess(abs(times[-1] - time.monotonic()), 5)
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(min(gaps), faults.PACE * 0.9)
        self.assertAlmostEqual(max(gaps), writer.longest_wait(times[0]))

    def test_lines_cut_by_kernel_messages_or_of_another_writer(self):
        writer = faults.Writer(self.node, self.device, 'lab-x', 64)
        console = io.BytesIO(
            b'[ 12.3] drbd r0: conn( Connected )\n'
            b'drbd-clvm-ack lab-y 0 10.000\n'
            b'drbd-clvm-ack lab-x 0 10.100\n'
            b'drbd-clvm-ack lab-x 1 10.2')
        writer._read(console)
        self.assertEqual([0], writer.acknowledged)
        console = io.BytesIO(b'00\n[ 13.0] block: kernel\ndrbd-clvm-ack l')
        writer._read(console)
        self.assertEqual([0, 1], writer.acknowledged)
        self.assertEqual(2, len(writer.ack_times))

    def test_a_node_that_is_off_at_the_stop(self):
        writer = faults.Writer(self.node, self.device, 'lab-x', 64)
        writer.start()
        guests.wait_until(lambda: writer.acknowledged, 30, 'a write')
        self.node.io = _Off()
        # the guest's process goes with its node
        with open(writer._stop_file, 'w'):
            pass
        writer.stopping.set()
        writer.join(30)
        self.assertFalse(writer.is_alive())
        self.assertEqual(writer.acknowledged, self._written(writer))


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
        self.disks_replaced = []

    def power_off(self):
        self.running = False

    def replace_disk(self):
        self.disks_replaced.append('while on' if self.running
                                   else 'while off')

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

    def test_a_node_killed_for_good_stays_off_after_its_fence(self):
        self.device.kill('node1', for_good=True)
        self.device.power('node2', 'reboot', 'node1')
        self.assertFalse(self.guests[0].running)
        self.device.repair('node1')
        self.assertTrue(self.guests[0].running)

    def test_a_killed_node_comes_back_with_its_fence(self):
        self.device.kill('node1')
        self.device.power('node2', 'reboot', 'node1')
        self.assertTrue(self.guests[0].running)

    def test_a_replaced_node_boots_with_a_blank_disk(self):
        self.device.kill('node2', for_good=True)
        self.device.replace('node2')
        self.assertEqual(['while off'], self.guests[1].disks_replaced)
        self.assertTrue(self.guests[1].running)

    def test_refusing_device_leaves_the_node_as_it_is(self):
        self.device.refusing.add('node2')
        answer = self.device.power('node1', 'reboot', 'node2')
        self.assertFalse(answer['ok'])
        self.assertTrue(self.guests[1].running)
        self.assertEqual('refused reboot', self.device.events[0]['action'])


#: a survivor case's result with every count met but its own
_SERVED_ALONE = {'split_brains': 0, 'lvs_lost': 0, 'lv_lists_differ': False,
                 'acknowledged_writes_lost': 0, 'unanswered': 0,
                 'half_made': [], 'survivor_kept_writing': True,
                 'survivor_io_pause_seconds': 5, 'serves_alone_target': True}


def _answer(node, outcome, at, seconds, detail=''):
    return {'node': node, 'outcome': outcome, 'at': at, 'seconds': seconds,
            'detail': detail}


class CleanupTest(testtools.TestCase):
    """A case's clean-up is tried again, and a failure is the case's."""

    def setUp(self):
        super().setUp()
        self.logged = []
        self.campaign = faults.Campaign(
            types.SimpleNamespace(nodes=[]), log=self.logged.append)
        self.pauses = []
        self.useFixture(fixtures.MockPatch(
            'tests.cluster.faults.time.sleep', self.pauses.append))

    def _clear_failing(self, times):
        failures = [exception.CommandFailed(
            ['lvchange', '-an', 'vgc/x'], 5, '', 'Logical volume in use')
        ] * times
        calls = []

        def clear(stacks):
            calls.append(stacks)
            if len(calls) <= len(failures):
                raise failures[len(calls) - 1]
        self.campaign._clear = clear
        return calls

    def test_a_failure_that_passes_is_tried_again(self):
        calls = self._clear_failing(1)
        self.assertIsNone(self.campaign.cleanup({}))
        self.assertEqual(2, len(calls))
        self.assertEqual([faults.CLEANUP_PAUSE], self.pauses)
        self.assertIn('clean-up failed (try 1 of %d)' % faults.CLEANUP_TRIES,
                      self.logged[0])

    def test_a_lasting_failure_is_said_and_misses_the_case(self):
        calls = self._clear_failing(faults.CLEANUP_TRIES)
        failure = self.campaign.cleanup({})
        self.assertEqual(faults.CLEANUP_TRIES, len(calls))
        self.assertIn('CommandFailed: lvchange -an vgc/x failed', failure)
        self.assertIn('Logical volume in use', failure)
        self.assertEqual(['cleared after'], faults._missed(
            dict(_CLEAN, clean_up_failure=failure)))


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
        result = dict(_SERVED_ALONE, first_accepted_seconds=29,
                      accepted_while_away=10, accepted_after_return=2)
        self.assertTrue(faults._met(result))
        self.assertFalse(faults._met(dict(result,
                                          first_accepted_seconds=31)))
        self.assertFalse(faults._met(dict(result,
                                          first_accepted_seconds=None)))
        self.assertFalse(faults._met(dict(result, accepted_after_return=0)))
        self.assertTrue(faults._met(dict(result, serves_alone_target=False,
                                         first_accepted_seconds=None)))

    def test_met_needs_the_fence_a_fault_in_the_victim_leads_to(self):
        # A cut that cut nothing looks like an uneventful run in the counts.
        result = dict(_SERVED_ALONE, serves_alone_target=False,
                      first_accepted_seconds=None, fenced=[],
                      fence_expected='node2')
        self.assertFalse(faults._met(result))
        self.assertTrue(faults._met(dict(result, fenced=['node2'])))
        self.assertTrue(faults._met(dict(result, fence_expected=None)))
        self.assertTrue(faults.LinkCut.fences_victim)
        self.assertFalse(faults.SlowDiskDuringWipe.fences_victim)

    def test_a_fault_without_a_fence_needs_the_victims_refusal(self):
        # lvmlockd killed and restarted: nobody is fenced, and a case that
        # killed nothing would look the same but for node2's refusal.
        result = dict(_SERVED_ALONE, serves_alone_target=False,
                      first_accepted_seconds=None, fenced=[],
                      refusal_expected='lvmlockd is not running',
                      refusals_showing_the_fault=0)
        self.assertEqual(['refusal naming the fault'],
                         faults._missed(result))
        self.assertTrue(faults._met(dict(result,
                                         refusals_showing_the_fault=1)))
        self.assertFalse(faults.LvmlockdKilledDuringClone.fences_victim)

    def test_only_the_victims_refusals_naming_the_fault_count(self):
        words = 'lvmlockd is not running'
        answers = [_answer('node2', 'refused', 1, 1, 'node2: %s' % words),
                   _answer('node1', 'refused', 2, 1, 'node1: %s' % words),
                   _answer('node2', 'refused', 3, 1, 'corosync is gone'),
                   _answer('node2', 'ok', 4, 1, words)]
        self.assertEqual(1, faults._refusals_naming(words, 'node2', answers))
        self.assertIsNone(faults._refusals_naming(None, 'node2', answers))

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
        result = dict(_SERVED_ALONE, first_accepted_seconds=7,
                      accepted_while_away=2, accepted_after_return=1,
                      accepted_before_confirm=0, refusals_naming_the_fence=2)
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


def _stale_reasons(disk):
    """The safety gate's reasons on a node back alone with its ``disk``,
    as the driver words them.
    """
    state = drbd.ResourceState(
        name='r0', connection=drbd.ConnectionState.WF_CONNECTION,
        role=drbd.Role.SECONDARY, peer_role='Unknown', disk=disk,
        peer_disk=drbd.DiskState.UNKNOWN)
    return drbd_replication.DrbdReplication(None, 'r0').reasons(state)


def _refusal(reasons, at=1, seconds=1):
    return {'node': 'node2', 'outcome': 'refused', 'at': at,
            'seconds': seconds, 'reasons': reasons}


class StaleCopyRefusalsTest(testtools.TestCase):
    """Which refusals name the node's own stale DRBD copy."""

    def test_the_driver_s_reasons_for_either_stale_state(self):
        answers = [_refusal(['corosync quorum lost'] +
                            _stale_reasons(drbd.DiskState.CONSISTENT)),
                   _refusal(_stale_reasons(drbd.DiskState.OUTDATED))]
        self.assertEqual((2, ['Consistent', 'Outdated']),
                         faults.stale_copy_refusals(answers))

    def test_other_refusals_and_answers_do_not_count(self):
        answers = [_refusal(['corosync quorum lost']),
                   _refusal(_stale_reasons(drbd.DiskState.UP_TO_DATE)),
                   _answer('node2', 'ok', 1, 1),
                   dict(_answer('node2', 'failed', 1, 1), reasons=[])]
        self.assertEqual((0, []), faults.stale_copy_refusals(answers))

    def test_the_worker_keeps_the_gate_s_reasons(self):
        reasons = _stale_reasons(drbd.DiskState.CONSISTENT)

        def refused(ops, name):
            raise exception.ClusterUnsafe(reasons)

        worker = _worker(refused, limit=1)
        self.useFixture(fixtures.MockPatch('time.sleep'))
        worker.run()
        self.assertEqual(reasons, worker.answers[0]['reasons'])
        self.assertEqual((1, ['Consistent']),
                         faults.stale_copy_refusals(worker.answers))


class ResyncMeasuresTest(testtools.TestCase):
    """The resync's window and what was accepted in it."""

    SYNCING = 'cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent'
    CONNECTED = 'cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate'
    AWAY = 'cs:WFConnection ro:Primary/Unknown ds:UpToDate/Outdated'

    def test_window_from_first_to_last_sample_in_sync(self):
        samples = [(10, self.AWAY), (11, self.SYNCING), (12, self.SYNCING),
                   (13, self.CONNECTED), (14, self.SYNCING)]
        self.assertEqual((11, 12), faults.resync_window(samples))

    def test_window_still_open_and_none_at_all(self):
        self.assertEqual((11, None), faults.resync_window(
            [(10, self.AWAY), (11, self.SYNCING)]))
        self.assertEqual((None, None), faults.resync_window(
            [(10, self.AWAY), (11, self.CONNECTED)]))

    def test_accepted_between_counts_the_node_s_changes_under_way(self):
        answers = [_answer('node1', 'ok', 5, 4),     # 5-9: before
                   _answer('node1', 'ok', 9, 2),     # 9-11: ends in it
                   _answer('node1', 'refused', 11, 1),
                   _answer('node2', 'ok', 11, 1),    # the other node
                   _answer('node1', 'ok', 8, 30),    # 8-38: across it
                   _answer('node1', 'ok', 12, 3),    # 12-15: starts in it
                   _answer('node1', 'ok', 14, 2)]    # 14-16: after
        self.assertEqual(3, faults.accepted_between(answers, 'node1', 10,
                                                    13))
        self.assertEqual(4, faults.accepted_between(answers, 'node1', 10,
                                                    None))

    def test_first_accepted_after(self):
        answers = [_answer('node2', 'refused', 30, 1),
                   _answer('node2', 'ok', 40, 2.5),
                   _answer('node2', 'ok', 50, 1)]
        self.assertEqual(22.5, faults.first_accepted_after(answers, 20))
        self.assertIsNone(faults.first_accepted_after(answers, 60))

    def test_refused_before_the_first_accepted_and_a_moment(self):
        answers = [_answer('node2', 'refused', 1, 1),
                   _answer('node2', 'refused', 2, 1),
                   _answer('node2', 'failed', 3, 1),
                   _answer('node2', 'ok', 4, 1),
                   _answer('node2', 'failed', 5, 1)]
        self.assertEqual((3, 2), faults.refused_before(answers))
        self.assertEqual((2, 2), faults.refused_before(answers, 2.5))
        self.assertEqual((0, 0), faults.refused_before([]))

    def test_first_seen(self):
        samples = [(1, 'cs:SyncTarget ro:Secondary/Primary '
                       'ds:Inconsistent/UpToDate'),
                   (2, 'cs:Connected ro:Secondary/Primary '
                       'ds:UpToDate/UpToDate'),
                   (3, 'cs:Connected ro:Primary/Primary '
                       'ds:UpToDate/UpToDate')]
        self.assertEqual(3, faults.first_seen(samples, 'ro:Primary/',
                                              'ds:UpToDate/'))
        self.assertIsNone(faults.first_seen(samples, 'StandAlone'))


class DrbdWatchTest(testtools.TestCase):

    def test_keeps_device_lines_and_skips_silent_seconds(self):
        lines = iter([guests.GuestError('booting'),
                      'version: 8.4.11\n',
                      'version: 8.4.11\n 0: cs:WFConnection ro:Secondary/'
                      'Unknown ds:Consistent/DUnknown C r-----\n'])

        def run(*argv, timeout):
            line = next(lines)
            if isinstance(line, Exception):
                raise line
            return types.SimpleNamespace(stdout=line)

        watch = faults.DrbdWatch(types.SimpleNamespace(name='node2', run=run),
                                 interval=0)
        watch.stopping.wait = lambda interval: watch.stopping.set() if (
            len(watch.samples) == 1) else None
        watch.run()
        self.assertEqual(
            ['cs:WFConnection ro:Secondary/Unknown ds:Consistent/DUnknown'],
            [line for _, line in watch.samples])


#: every case's counts, all as they should be
_CLEAN = {'split_brains': 0, 'lvs_lost': 0, 'lv_lists_differ': False,
          'acknowledged_writes_lost': 0, 'unanswered': 0, 'half_made': [],
          'survivor_kept_writing': True, 'survivor_io_pause_seconds': 5}


class CaseTargetsTest(testtools.TestCase):
    """The met rules of the double fault and of changes during a resync."""

    STALE = dict(_CLEAN, stale_victim_target=True, victim_answers_alone=12,
                 victim_refused_stale=12, victim_copy_alone=['Consistent'],
                 victim_promoted_alone=False,
                 victim_serves_again_seconds=95.0, made_alone=2,
                 made_alone_on_both=2)
    RESYNC = dict(_CLEAN, resync_target=True, resync_seconds=24.0,
                  accepted_during_resync=5, victim_primary_seconds=70.0,
                  victim_answers_before_primary=28,
                  victim_refused_before_primary=28,
                  victim_answers_before_serving=30,
                  victim_refused_before_serving=29,
                  victim_accepted_during_resync=0,
                  victim_serves_again_seconds=80.0)

    def test_stale_victim(self):
        self.assertTrue(faults._met(self.STALE))
        for missed in ({'victim_refused_stale': 11},
                       {'victim_answers_alone': 0, 'victim_refused_stale': 0},
                       {'victim_promoted_alone': True},
                       {'victim_serves_again_seconds': None},
                       {'made_alone_on_both': 1},
                       {'made_alone': 0, 'made_alone_on_both': 0}):
            self.assertFalse(faults._met(dict(self.STALE, **missed)),
                             missed)

    def test_changes_during_resync(self):
        self.assertTrue(faults._met(self.RESYNC))
        for missed in ({'resync_seconds': None},
                       {'accepted_during_resync': 0},
                       {'victim_primary_seconds': None},
                       {'victim_refused_before_primary': 27},
                       {'victim_answers_before_primary': 0,
                        'victim_refused_before_primary': 0},
                       {'victim_accepted_during_resync': 1},
                       {'victim_serves_again_seconds': None}):
            self.assertFalse(faults._met(dict(self.RESYNC, **missed)),
                             missed)

    FULL_SYNC = dict(_CLEAN, full_sync_target=True, full_sync_seen=True,
                     full_sync_seconds=240.0,
                     victim_serves_again_seconds=310.0)

    def test_replaced_node(self):
        self.assertTrue(faults._met(self.FULL_SYNC))
        for missed in ({'full_sync_seen': False},
                       {'full_sync_seconds': None},
                       {'victim_serves_again_seconds': None}):
            self.assertFalse(faults._met(dict(self.FULL_SYNC, **missed)),
                             missed)
        self.assertTrue(self._summary(self.FULL_SYNC).endswith(
            'healed after 200 s, full sync 240.0 s (blank disk Inconsistent '
            'on the survivor: yes), victim served again 310.0 s after its '
            'return: met'))

    def test_other_cases_need_neither(self):
        self.assertTrue(faults._met(_CLEAN))

    def test_missed_names_each_criterion_a_case_missed(self):
        self.assertEqual([], faults._missed(_CLEAN))
        self.assertEqual(
            ['I/O pause within %d s' % faults.STATED_IO_PAUSE],
            faults._missed(dict(_CLEAN, survivor_io_pause_seconds=31)))
        self.assertEqual(
            ['resync', 'every request answered'],
            faults._missed(dict(self.RESYNC, unanswered=1,
                                resync_seconds=None)))

    def _summary(self, result):
        return faults._summary(dict(
            result, outcomes={'refused': 12}, met=True,
            longest_answer_seconds=1, acknowledged_blocks=9,
            fenced=['node2'], healed_after_seconds=200))

    def test_summary_says_what_each_case_measured(self):
        self.assertTrue(self._summary(self.STALE).endswith(
            'healed after 200 s, victim alone refused 12 of 12 for its '
            'stale copy (Consistent), promoted no, served again 95.0 s '
            'after its peer\'s return, LVs made alone on both 2 of 2: met'))
        self.assertTrue(self._summary(self.RESYNC).endswith(
            'healed after 200 s, resync 24.0 s, 5 changes accepted during '
            'it, victim refused 28 of 28 until UpToDate and Primary 70.0 s '
            'after its return, 29 of 30 until it served again 80.0 s after '
            'its return: met'))
        self.assertTrue(self._summary(_CLEAN).endswith(
            'healed after 200 s: met'))
