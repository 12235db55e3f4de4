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

"""The fault campaign: every fault the issue names, on the real cluster.

Each case starts from a healthy cluster (both nodes up, DRBD Connected,
Primary/Primary, UpToDate/UpToDate, the safety gate open on both) with an
instance's stand-in writing numbered blocks to an attached volume on each
node and driver operations running on both nodes. Then the fault; then the
cluster recovers by itself (fencing, reboot, resync, promotion), and the
case counts what it cost:

* every driver answer, with its outcome and seconds, and any operation
  still without an answer at its bound;
* split-brains (DRBD's "Split-Brain detected", from the consoles of every
  boot);
* volumes reported created that either node lacks afterwards, the nodes'
  LV lists differing, and LVs an interrupted operation left half-made;
* blocks acknowledged to a stand-in that do not read back, on either node;
* how long the surviving node's stand-in waited for a write (I/O pause)
  and how long until both nodes accepted changes again.

``python -m tests.cluster.gate --faults`` runs it after the scenarios and
writes the table and ``results/faults-latest.json``.
"""

import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid

from drbd_clvm_driver import exception
from drbd_clvm_driver import fence_state
from drbd_clvm_driver import nodes as node_names
from drbd_clvm_driver import operations
from drbd_clvm_driver import peer
from drbd_clvm_driver import runner
from drbd_clvm_driver import stack
from tests.cluster import guests
from tests import leftovers

BLOCK = 4096
#: an instance's volume: blocks for the longest case at :data:`PACE`
INSTANCE_MIB = 64
#: seconds a case's operations may take before they count as unanswered:
#: the longest command bound (lvm 120 s) plus the agent's margin
ANSWER_BOUND = 180
#: tries to clear a case's LVs after it, CLEANUP_PAUSE seconds apart: one
#: clean-up's failure once ended the whole campaign
CLEANUP_TRIES = 3
CLEANUP_PAUSE = 10
#: seconds for the cluster to heal by itself after a fault (a fenced TCG
#: guest reboots and rejoins in about 75 s, then resyncs what it missed and
#: its activity log's extents while the survivor's instance writes, which
#: DRBD throttles the resync for: 400-480 KiB/s measured, and 212 MB to
#: resync after dlm_controld-killed once took over 600 s)
RECOVERY_BOUND = guests.REJOIN_TIMEOUT
#: the README's promise: the survivor's instances write again within this
STATED_IO_PAUSE = 30
SPLIT_BRAIN = re.compile(r'Split-Brain detected')
#: seconds past which a driver command is named in a case's log
SLOW_COMMAND = 10
#: the runner's debug line for each command it ran
_COMMAND_DONE = re.compile(
    r'(?P<command>.*) exited \S+ in (?P<seconds>[0-9.]+) s$')
#: the gate's refusal on a node whose own DRBD copy may lack its peer's
#: last changes (drbd_clvm_driver/replication/drbd.py); the state it names
STALE_COPY = re.compile(r"this node's copy is (?P<disk>Outdated|Consistent)"
                        r"\b.*never promote this copy by force")
#: a node's DRBD device line in /proc/drbd
_DRBD_LINE = re.compile(r'cs:\S+ ro:\S+ ds:\S+')


def pattern(label, block):
    """The 4 KiB an instance's stand-in writes to ``block``."""
    return ('%s block %d ' % (label, block)).ljust(BLOCK, '.')


#: run in a guest: how many of the listed blocks of a device differ from
#: :func:`pattern` (argv: device, label, comma-separated blocks)
_VERIFY = """
import mmap, os, sys
path, label, blocks = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buffer = mmap.mmap(-1, 4096)
bad = 0
for block in map(int, blocks.split(',')):
    os.preadv(fd, [buffer], block * 4096)
    expected = ('%s block %d ' % (label, block)).ljust(4096, '.').encode()
    bad += bytes(buffer) != expected
print(bad)
"""


#: run in a guest: an instance's stand-in. Writes :func:`pattern` to
#: blocks 0, 1, 2... of a device, each write direct and synchronous,
#: ``PACE`` seconds apart, until the stop file exists; after each write that
#: returned, one ``ACK_MARK LABEL BLOCK BOOTTIME`` line on the console,
#: which qemu copies to the host's console log at once and which outlives
#: the guest (argv: the mark, the console, device, label, blocks, stop
#: file, running file, pace)
_WRITE = """
import mmap, os, sys, time
mark, console, path, label, blocks, stop, running, pace = sys.argv[1:9]
console = os.open(console, os.O_WRONLY | os.O_NOCTTY | os.O_APPEND)
open(running, 'w').close()
try:
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
    buffer = mmap.mmap(-1, 4096)
    for block in range(int(blocks)):
        if os.path.exists(stop):
            break
        buffer[:] = ('%s block %d ' % (label, block)).ljust(4096, '.').encode()
        os.pwrite(fd, buffer, block * 4096)
        os.write(console, ('\\n%s %s %d %.3f\\n' % (
            mark, label, block,
            time.clock_gettime(time.CLOCK_BOOTTIME))).encode())
        time.sleep(float(pace))
finally:
    os.unlink(running)
"""
#: what starts each of :data:`_WRITE`'s console lines
ACK_MARK = 'drbd-clvm-ack'
#: seconds between an instance's stand-in's writes
PACE = 0.1
#: seconds between the host's reads of a console log
CONSOLE_READ = 0.2
#: seconds from one change's start to the next one's while a survivor
#: serves alone for minutes: each of SurvivorSteps' ten kinds is still
#: asked every 100 s, and node1's emulated CPU, back to back 150 changes
#: in ten minutes, is left to the gate's other lane
SURVIVOR_PACE_AWAY = 10


class Writer(threading.Thread):
    """An instance on ``node`` writing numbered blocks to ``path``: one
    process in the guest (:data:`_WRITE`), whose acknowledgements the host
    reads from the node's console log; a block counts once its line is
    there. A program started per write cost the emulated guest about a
    third of a CPU-second each, which was most of the campaign's CPU.
    """

    #: the guest's console, and where the writer's files live there
    console = '/dev/console'
    run_dir = '/run/drbd-clvm'

    def __init__(self, node, path, label, blocks):
        super().__init__(name='writer-%s' % node.name, daemon=True)
        self.node = node
        self.path = path
        self.label = label
        self.blocks = blocks
        self.acknowledged = []
        #: the guest's boot clock at each acknowledged write
        self._written = []
        #: host monotonic minus guest boot clock: the least seen, each line
        #: being read after it was written
        self._offset = None
        self._partial = b''
        self._line = re.compile(r'%s %s (\d+) ([0-9.]+)$' % (
            ACK_MARK, re.escape(label)))
        files = os.path.join(self.run_dir, 'writer-%s' % label)
        self._stop_file = files + '.stop'
        self._running_file = files + '.running'
        self.stopping = threading.Event()

    @property
    def ack_times(self):
        """Each acknowledgement's time on the host's monotonic clock."""
        return [written + self._offset for written in self._written]

    def run(self):
        with open(self.node.console_log, 'rb') as console:
            console.seek(0, os.SEEK_END)
            try:
                self.node.io.run(
                    ['sh', '-c', 'python3 -c "$0" "$@" >/dev/null 2>&1 &',
                     _WRITE, ACK_MARK, self.console, self.path, self.label,
                     str(self.blocks), self._stop_file, self._running_file,
                     str(PACE)], check=False)
            except (guests.GuestError, exception.DrbdClvmError):
                return  # the node went first: nothing written
            while not self.stopping.wait(CONSOLE_READ):
                self._read(console)
            self._stop_writing()
            self._read(console)

    def _stop_writing(self):
        """Ask the guest's writer to stop and wait until it has (at once on
        a node that booted again since: its /run is new).
        """
        try:
            self.node.io.run(
                ['sh', '-c', 'touch "$0"; for i in $(seq 600); do '
                 '[ -e "$1" ] || exit 0; sleep 0.1; done',
                 self._stop_file, self._running_file],
                timeout=ANSWER_BOUND, check=False)
        except (guests.GuestError, exception.DrbdClvmError):
            pass  # the node is off: so is its writer

    def _read(self, console):
        lines = (self._partial + console.read()).split(b'\n')
        seen = time.monotonic()
        self._partial = lines.pop()
        for line in lines:
            ack = self._line.search(line.decode('utf-8', 'replace').rstrip())
            if ack:
                written = float(ack.group(2))
                self.acknowledged.append(int(ack.group(1)))
                self._written.append(written)
                offset = seen - written
                if self._offset is None or offset < self._offset:
                    self._offset = offset

    def longest_wait(self, since):
        """Longest gap between acknowledgements after ``since``."""
        times = [since] + [t for t in self.ack_times if t > since]
        return max((b - a for a, b in zip(times, times[1:])), default=None)


class SlowCommands(logging.Handler):
    """The driver's commands that took longer than ``bound`` seconds, each
    with the thread that ran it (a node's :class:`Operations`; the writers
    run ``dd`` through the guest's io agent, not the driver's runner), read
    from the runner's debug lines while installed.
    """

    def __init__(self, bound=SLOW_COMMAND):
        super().__init__(logging.DEBUG)
        self.bound = bound
        self.commands = []
        self._logger = logging.getLogger(runner.__name__)

    def __enter__(self):
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record):
        done = _COMMAND_DONE.match(record.getMessage())
        if done and float(done.group('seconds')) > self.bound:
            self.commands.append('%s: %s (%s s)' % (
                record.threadName, done.group('command')[:120],
                done.group('seconds')))


class Operations(threading.Thread):
    """Driver operations in a loop on one node until stopped; each answer
    is kept with its outcome and seconds. An action may return whether it
    made the volume it was named (else ``makes_volumes`` says).
    """

    def __init__(self, campaign, node, ops, action, limit=8,
                 until_ok=False, makes_volumes=True, label=None):
        super().__init__(name='ops-%s' % node.name, daemon=True)
        #: what this worker's volume names start with (another worker on
        #: the same node needs a label of its own)
        self.label = label or node.name
        #: whether an 'ok' answer means a volume now exists (a delete
        #: answers 'ok' for one that no longer does)
        self.makes_volumes = makes_volumes
        self.until_ok = until_ok
        self.campaign = campaign
        self.node = node
        self.ops = ops
        self.action = action
        self.limit = limit
        self.answers = []
        self.stopping = threading.Event()
        #: when the operation under way started (monotonic), if one is
        self.busy_since = None
        #: seconds from an accepted operation's start to the next one's
        #: (0: back to back)
        self.pace = 0

    def waited(self):
        """Seconds the operation under way has run (0 between them)."""
        since = self.busy_since
        return 0 if since is None else time.monotonic() - since

    def run(self):
        for number in range(self.limit):
            if self.stopping.is_set():
                return
            name = self.campaign.name('%s-%d' % (self.label, number))
            started = self.busy_since = time.monotonic()
            made = self.makes_volumes
            reasons = []
            try:
                answer = self.action(self.ops, name)
                outcome, detail = 'ok', ''
                if isinstance(answer, bool):
                    made = answer
            except exception.ClusterUnsafe as error:
                outcome, detail = 'refused', str(error)
                reasons = error.reasons
            except guests.GuestError as error:
                outcome, detail = 'node lost', str(error)
            except exception.DrbdClvmError as error:
                outcome, detail = 'failed', str(error)
            self.answers.append({
                'node': self.node.name, 'name': name, 'outcome': outcome,
                'made': made and outcome == 'ok',
                'seconds': round(time.monotonic() - started, 2),
                'at': round(started - self.campaign.fault_at, 2)
                if self.campaign.fault_at else None,
                'detail': detail[:300], 'reasons': reasons})
            self.busy_since = None
            if outcome == 'node lost' or (self.until_ok and outcome == 'ok'):
                return
            if outcome != 'ok':
                time.sleep(1)
            elif self.pace:
                self.stopping.wait(started + self.pace - time.monotonic())


def await_answers(workers, bound=ANSWER_BOUND, poll=1.0):
    """Wait until every worker has finished its series of operations;
    return how many are stuck in one operation for more than ``bound``
    seconds (left running). The bound is per operation: a series of
    slow but answered operations is not one unanswered operation.
    """
    while True:
        running = [worker for worker in workers if worker.is_alive()]
        stuck = [worker for worker in running if worker.waited() > bound]
        if len(stuck) == len(running):
            return len(stuck)
        time.sleep(poll)


class DrbdWatch(threading.Thread):
    """``node``'s DRBD line (``cs: ro: ds:``) once a second until stopped,
    each kept with when it was read (monotonic); a second the node does not
    answer (powered off, booting) or has no resource up is skipped.
    """

    def __init__(self, node, interval=1.0):
        super().__init__(name='drbd-%s' % node.name, daemon=True)
        self.node = node
        self.interval = interval
        self.samples = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                text = self.node.run('cat', '/proc/drbd', timeout=10).stdout
            except (guests.GuestError, exception.DrbdClvmError):
                text = ''
            line = _DRBD_LINE.search(text)
            if line:
                self.samples.append((time.monotonic(), line.group(0)))
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(ANSWER_BOUND)


def resync_window(samples):
    """The first resync in ``samples`` (``(time, DRBD line)``): when it
    was first and last seen running (so a change between the two surely
    came during it); (None, None) without one, the end None while the
    last sample still shows it.
    """
    start = end = None
    for at, line in samples:
        syncing = line.startswith(('cs:Sync', 'cs:PausedSync'))
        if syncing:
            start = at if start is None else start
            end = at
        elif start is not None:
            return start, end
    return start, None


def accepted_between(answers, node, start, end):
    """How many of ``node``'s accepted changes were under way at some time
    from ``start`` to ``end`` (seconds from the fault; an open end: up to
    now): a change's gated commands run from its start to its end.
    """
    return sum(answer['node'] == node and answer['outcome'] == 'ok'
               and answer['at'] is not None
               and start <= answer['at'] + answer['seconds']
               and (end is None or answer['at'] <= end)
               for answer in answers)


def first_accepted_after(answers, since):
    """Seconds from ``since`` (from the fault) to the end of the first
    accepted change among ``answers`` that ended after it; None if none.
    """
    ends = [answer['at'] + answer['seconds'] for answer in answers
            if answer['outcome'] == 'ok' and answer['at'] is not None
            and answer['at'] + answer['seconds'] >= since]
    return round(min(ends) - since, 1) if ends else None


def refused_before(answers, moment=None):
    """Of ``answers`` before the first accepted one - and, where ``moment``
    (seconds from the fault) is given, started before it - how many there
    were and how many of them the gate refused (not failures).
    """
    before = []
    for answer in answers:
        if answer['outcome'] == 'ok':
            break
        if moment is None or answer['at'] < moment:
            before.append(answer)
    return len(before), sum(answer['outcome'] == 'refused'
                            for answer in before)


def first_seen(samples, *words):
    """When the first of ``samples`` (``(time, DRBD line)``) with every
    one of ``words`` was read; None if none.
    """
    return next((at for at, line in samples
                 if all(word in line for word in words)), None)


def stale_copy_refusals(answers):
    """How many of ``answers`` the gate refused because this node's DRBD
    copy may be stale, and the disk states those refusals named.
    """
    disks = set()
    refused = 0
    for answer in answers:
        named = [STALE_COPY.search(reason)
                 for reason in answer.get('reasons', ())]
        named = [match.group('disk') for match in named if match]
        if answer['outcome'] == 'refused' and named:
            refused += 1
            disks.update(named)
    return refused, sorted(disks)


def wait_for_agent(node, timeout=ANSWER_BOUND):
    """Until ``node``'s agent answers (a powered-on guest has booted)."""
    def answers():
        try:
            return node.run('true', timeout=10).exit_code == 0
        except (guests.GuestError, exception.DrbdClvmError):
            return False
    guests.wait_until(answers, timeout, '%s to boot' % node.name)


#: what the survivor says while its peer is fenced and away, recorded
#: once a case's operations have answered
SURVIVOR_RECORDING = (
    ['cat', '/proc/drbd'],
    ['drbdsetup', 'get-gi', '0'],
    ['corosync-quorumtool', '-s'],
    ['dlm_tool', 'status'],
    ['lvmlockctl', '--info'],
    ['cat', '/var/log/drbd-clvm-fence.log'],
    ['cat', fence_state.FAILING_FILE])
#: what the survivor's refusals say while the fence of its peer fails
FENCE_FAILED = re.compile(r'the fence of \S+ has failed since')


class Campaign:
    """The cases, run one after the other on one booted cluster.

    :param record_dir: where each case's survivor outputs are written (a
        directory per case), if anywhere.
    """

    def __init__(self, cluster, log=print, record_dir=None):
        self.cluster = cluster
        self.log = log
        self.record_dir = record_dir
        self.prefix = 'f%s-' % uuid.uuid4().hex[:6]
        self.fault_at = None
        #: when the case brought the fenced node back, if it did
        self.peer_back_at = None
        #: when an operator confirmed the victim off, where its fence
        #: failed (changes are due only from then on)
        self.confirmed_at = None
        self.results = []
        self._locks = tempfile.mkdtemp(prefix='drbd-clvm-faults-')

    def name(self, label):
        return self.prefix + label

    def stacks(self, **kwargs):
        """Fresh driver stacks on both nodes, as a volume service (re)start
        builds them.
        """
        endpoints = {}
        built = {}
        for node in self.cluster.nodes:
            names = node_names.NodeNames(node.name, [
                other.name for other in self.cluster.nodes])
            built[node.name] = stack.build(
                node.runner, self.cluster.vg_name,
                self.cluster.drbd_resource,
                lock_path=os.path.join(self._locks, node.name),
                data_timeout=600, names=names,
                peers=peer.InProcessPeers(endpoints),
                volume_clear=kwargs.get('volume_clear', 'none'))
        return built

    # Health.

    def healthy(self):
        """Both nodes ready and the gate open on both."""
        for node in self.cluster.nodes:
            try:
                if 'ready' not in node.run('cat', '/run/drbd-clvm/state',
                                           timeout=10).stdout:
                    return False
            except (guests.GuestError, exception.DrbdClvmError):
                return False
        try:
            return all(not built.gate.reasons()
                       for built in self.stacks().values())
        except (guests.GuestError, exception.DrbdClvmError):
            return False

    def wait_healthy(self, timeout=RECOVERY_BOUND):
        started = time.monotonic()
        while not self.healthy():
            if time.monotonic() - started > timeout:
                raise guests.GuestError('cluster did not heal within %d s'
                                        % timeout)
            time.sleep(3)
        return time.monotonic() - started

    def split_brains(self):
        count = 0
        for path in self.cluster.console_logs():
            with open(path, errors='replace') as handle:
                count += len(SPLIT_BRAIN.findall(handle.read()))
        return count

    # The parts of a case.

    def attach_writers(self, stacks):
        writers = []
        for node in self.cluster.nodes:
            ops = stacks[node.name].ops
            name = self.name('instance-%s' % node.name)
            ops.create_volume(name, INSTANCE_MIB, name)
            ops.use(name)
            writers.append(Writer(node, ops.vg.lv_path(name), name,
                                  INSTANCE_MIB * 1024 * 1024 // BLOCK))
        return writers

    def check_writes(self, stacks, writers):
        """Acknowledged blocks that do not read back, on each node (read
        and compared inside the guest: megabytes through the agent would
        take minutes).
        """
        lost = 0
        for writer in writers:
            if not writer.acknowledged:
                continue
            name = os.path.basename(writer.path)
            for node in self.cluster.nodes:
                stacks[node.name].ops.use(name)
                result = node.io.run(
                    ['python3', '-c', _VERIFY, writer.path, writer.label,
                     ','.join(map(str, writer.acknowledged))],
                    timeout=ANSWER_BOUND)
                lost += int(result.stdout.split()[0])
        return lost

    def cleanup(self, stacks):
        """Clear the case's LVs, trying again after a failure; the last
        failure's message if it never succeeded (the campaign goes on).
        """
        for attempt in range(CLEANUP_TRIES):
            if attempt:
                time.sleep(CLEANUP_PAUSE)
            try:
                self._clear(stacks)
                return None
            except (guests.GuestError, exception.DrbdClvmError) as error:
                failure = '%s: %s' % (type(error).__name__, error)
                self.log('[faults]   clean-up failed (try %d of %d): %s'
                         % (attempt + 1, CLEANUP_TRIES, failure))
        return failure

    def _clear(self, stacks):
        mine = {}
        for node in self.cluster.nodes:
            for lv in stacks[node.name].ops.vg.logical_volumes():
                if lv.name.startswith(self.prefix):
                    mine[lv.name] = lv
                    if lv.active_locally and not lv.is_snapshot:
                        stacks[node.name].ops.release(lv.name)
        leftovers.remove(self.cluster.nodes[0], self.cluster.vg_name,
                         list(mine.values()))

    def run_case(self, case):
        """One case, from a healthy cluster back to a healthy cluster."""
        self.log('[faults] %s: %s' % (case.name, case.fault))
        self.wait_healthy()
        started = time.monotonic()
        self.prefix = 'f%s-' % uuid.uuid4().hex[:6]
        stacks = self.stacks(**case.stack_options)
        splits_before = self.split_brains()
        fences_before = len(self.cluster.fence_device.events)
        writers = self.attach_writers(stacks)
        for writer in writers:
            writer.start()
        time.sleep(2)
        with SlowCommands() as slow:
            workers = case.start(self, stacks)
            case.wait_for_moment(self)
            self.fault_at = time.monotonic()
            case.inject(self, stacks)
            unanswered = await_answers(workers)
        if not case.recorded_while_away:
            self.record_survivor(case)
        case.after(self, stacks)
        recovered = self.wait_healthy()
        for writer in writers:
            writer.stopping.set()
            writer.join(ANSWER_BOUND)
        stacks = self.stacks()
        fenced = [event['plug'] for event in
                  self.cluster.fence_device.events[fences_before:]
                  if event['action'] == 'reboot']
        # A fenced node's volume service starts again after its reboot and
        # removes what its own interrupted operations left.
        removed = [name for node in sorted(set(fenced))
                   for name in stacks[node].ops.remove_half_made()]
        listings = {node.name: sorted(
            lv.name for lv in stacks[node.name].ops.vg.logical_volumes()
            if lv.name.startswith(self.prefix))
            for node in self.cluster.nodes}
        answers = [answer for worker in workers for answer in worker.answers]
        created = [a['name'] for a in answers if a['made']]
        first = listings[self.cluster.nodes[0].name]
        survivors = [w for w in writers
                     if w.ack_times and w.ack_times[-1] > self.fault_at]
        pauses = [w.longest_wait(self.confirmed_at or self.fault_at)
                  for w in survivors]
        result = {
            'case': case.name, 'fault': case.fault,
            'answers': answers,
            'outcomes': _count(a['outcome'] for a in answers),
            'longest_answer_seconds': max(
                (a['seconds'] for a in answers), default=0),
            'unanswered': unanswered,
            'split_brains': self.split_brains() - splits_before,
            'lvs_lost': sum(name not in listing for name in created
                            for listing in listings.values()),
            'lv_lists_differ': len(set(map(tuple, listings.values()))) > 1,
            'half_made': sorted(stacks[self.cluster.nodes[0].name]
                                .ops.half_made()),
            'acknowledged_blocks': sum(len(w.acknowledged) for w in writers),
            'acknowledged_writes_lost': self.check_writes(stacks, writers),
            'survivor_io_pause_seconds': round(max(
                (p for p in pauses if p is not None), default=0), 1),
            'survivor_kept_writing': bool(survivors),
            'fenced': fenced,
            'fence_expected': (case.victim_node(self).name
                               if case.fences_victim else None),
            'refusal_expected': case.refusal_showing_the_fault,
            'refusals_showing_the_fault': _refusals_naming(
                case.refusal_showing_the_fault, case.victim_node(self).name,
                answers),
            'removed_at_start_up': removed,
            'healed_after_seconds': round(
                time.monotonic() - self.fault_at, 1),
            'recovery_wait_seconds': round(recovered, 1),
            'lvs': first,
            'slow_commands': slow.commands,
        }
        result.update(self._served_alone(case, answers))
        result.update(case.measure(self, answers, listings))
        result['clean_up_failure'] = self.cleanup(stacks)
        result['missed'] = _missed(result)
        result['met'] = not result['missed']
        self.results.append(result)
        for worker in workers:
            self.log('[faults]   %s answered (s): %s' % (
                worker.node.name, ', '.join(
                    '%(outcome)s %(seconds)s' % answer
                    for answer in worker.answers)))
        for command in slow.commands:
            self.log('[faults]   slow: %s' % command)
        for answer in answers:
            if answer['outcome'] != 'ok':
                self.log('[faults]   %(node)s %(outcome)s after %(seconds)s s'
                         ' (started %(at)s s from the fault): %(detail).200s'
                         % answer)
        self.log('[faults] %s: %s' % (case.name, _summary(result)))
        result['case_seconds'] = round(time.monotonic() - started, 1)
        self.log('[faults] %s: %.0f s from a healthy cluster to one again'
                 % (case.name, result['case_seconds']))
        self.fault_at = self.peer_back_at = self.confirmed_at = None
        return result

    def record_survivor(self, case):
        """What the node the fault spared says now, into the case's
        fixture directory (where recording).
        """
        survivor = 1 - case.victim
        self.record(case, [(survivor, argv) for argv in SURVIVOR_RECORDING])

    def record(self, case, recording):
        """``recording`` (``(node index, argv)`` pairs) into the case's
        fixture directory (where recording).
        """
        if self.record_dir:
            self.cluster.record(os.path.join(self.record_dir, case.name),
                                recording)

    def _served_alone(self, case, answers):
        """What the survivor accepted after the fault: how soon (seconds
        from the fault, or from an operator's confirmation where the fence
        failed, to the end of its first accepted change), how many while
        the victim was away, and how many once it was back; where the
        fence failed, what it accepted and refused before the
        confirmation.
        """
        victim = self.cluster.nodes[case.victim].name
        back = (self.peer_back_at - self.fault_at
                if self.peer_back_at else None)
        due = self.confirmed_at - self.fault_at if self.confirmed_at else 0
        mine = [answer for answer in answers
                if answer['node'] != victim and answer['at'] is not None
                and answer['at'] + answer['seconds'] > 0]
        ends = [answer['at'] + answer['seconds'] for answer in mine
                if answer['outcome'] == 'ok']
        served = [end - due for end in ends if end >= due]
        result = {
            'serves_alone_target': case.serves_alone,
            'first_accepted_seconds': round(min(served), 1) if served
            else None,
            'accepted_while_away': sum(back is None or end < back
                                       for end in ends if end >= due),
            'accepted_after_return': sum(back is not None and end >= back
                                         for end in ends)}
        if self.confirmed_at:
            refused = [answer for answer in mine
                       if answer['outcome'] == 'refused'
                       and answer['at'] + answer['seconds'] < due]
            result.update(
                confirmed_after_seconds=round(due, 1),
                accepted_before_confirm=sum(end < due for end in ends),
                refused_before_confirm=len(refused),
                refusals_naming_the_fence=sum(
                    bool(FENCE_FAILED.search(answer['detail']))
                    for answer in refused))
        return result


def _count(items):
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _refusals_naming(words, node_name, answers):
    """How many of ``node_name``'s answers refused with ``words`` in their
    detail; None where a case names no words.
    """
    if not words:
        return None
    return sum(answer['node'] == node_name and answer['outcome'] == 'refused'
               and words in answer['detail'] for answer in answers)


def _stale_victim_met(result):
    """The double fault's victim, back alone with a stale copy: every
    change it was asked for refused for that copy, DRBD never promoted,
    serving again once its peer was back, with every LV the peer made
    alone.
    """
    return not result.get('stale_victim_target') or (
        result['victim_answers_alone'] > 0
        and result['victim_refused_stale'] == result['victim_answers_alone']
        and not result['victim_promoted_alone']
        and result['victim_serves_again_seconds'] is not None
        and result['made_alone'] > 0
        and result['made_alone_on_both'] == result['made_alone'])


def _resync_met(result):
    """Changes during the victim's resync: the survivor had changes
    accepted while it ran, and the victim refused every change until it
    was UpToDate and Primary again, and accepted none during the resync.
    """
    return not result.get('resync_target') or (
        result['resync_seconds'] is not None
        and result['accepted_during_resync'] > 0
        and result['victim_primary_seconds'] is not None
        and result['victim_answers_before_primary'] > 0
        and result['victim_refused_before_primary']
        == result['victim_answers_before_primary']
        and result['victim_accepted_during_resync'] == 0
        and result['victim_serves_again_seconds'] is not None)


def _fence_met(result):
    """A fault made in the victim: the survivor fenced the victim."""
    expected = result.get('fence_expected')
    return expected is None or expected in result.get('fenced', [])


def _refusal_met(result):
    """A fault no fence follows: the victim refused a change naming it."""
    return not result.get('refusal_expected') or bool(
        result['refusals_showing_the_fault'])


def _full_sync_met(result):
    """A replaced node: its blank disk fully synced from the survivor
    (which showed it Inconsistent while it ran), and it served again.
    """
    return not result.get('full_sync_target') or (
        result['full_sync_seen']
        and result['full_sync_seconds'] is not None
        and result['victim_serves_again_seconds'] is not None)


def _missed(result):
    """The names of the criteria ``result`` missed, in the table's order:
    what a failed CI run's last lines say even when its table scrolled
    away.
    """
    served = not result.get('serves_alone_target') or (
        result['first_accepted_seconds'] is not None
        and result['first_accepted_seconds'] <= STATED_IO_PAUSE
        and result['accepted_after_return'] > 0)
    criteria = [
        ('confirmed before accepted',
         'accepted_before_confirm' not in result or (
             not result['accepted_before_confirm']
             and result['refusals_naming_the_fence'])),
        ('served alone within %d s' % STATED_IO_PAUSE, served),
        ('stale victim', _stale_victim_met(result)),
        ('resync', _resync_met(result)),
        ('full sync', _full_sync_met(result)),
        ('fence', _fence_met(result)),
        ('refusal naming the fault', _refusal_met(result)),
        ('no split-brain', result['split_brains'] == 0),
        ('no LV lost', result['lvs_lost'] == 0),
        ('LV lists agree', not result['lv_lists_differ']),
        ('no acknowledged write lost',
         result['acknowledged_writes_lost'] == 0),
        ('every request answered', result['unanswered'] == 0),
        ('nothing half-made', not result['half_made']),
        ('cleared after', not result.get('clean_up_failure')),
        ('survivor kept writing', result['survivor_kept_writing']),
        ('I/O pause within %d s' % STATED_IO_PAUSE,
         result['survivor_io_pause_seconds'] <= STATED_IO_PAUSE)]
    return [name for name, met in criteria if not met]


def _met(result):
    return not _missed(result)


def _case_summary(result):
    """What a case measured beyond every case's counts."""
    parts = []
    if result.get('stale_victim_target'):
        parts.append(
            'victim alone refused %d of %d for its stale copy (%s), '
            'promoted %s, served again %s s after its peer\'s return, LVs '
            'made alone on both %d of %d' % (
                result['victim_refused_stale'],
                result['victim_answers_alone'],
                '/'.join(result['victim_copy_alone']) or '-',
                'yes' if result['victim_promoted_alone'] else 'no',
                result['victim_serves_again_seconds'],
                result['made_alone_on_both'], result['made_alone']))
    if result.get('resync_target'):
        parts.append(
            'resync %s s, %d changes accepted during it, victim refused %d '
            'of %d until UpToDate and Primary %s s after its return, %d of '
            '%d until it served again %s s after its return' % (
                result['resync_seconds'], result['accepted_during_resync'],
                result['victim_refused_before_primary'],
                result['victim_answers_before_primary'],
                result['victim_primary_seconds'],
                result['victim_refused_before_serving'],
                result['victim_answers_before_serving'],
                result['victim_serves_again_seconds']))
    if result.get('full_sync_target'):
        parts.append(
            'full sync %s s (blank disk Inconsistent on the survivor: %s), '
            'victim served again %s s after its return' % (
                result['full_sync_seconds'],
                'yes' if result['full_sync_seen'] else 'no',
                result['victim_serves_again_seconds']))
    return ''.join(', ' + part for part in parts)


def _summary(result):
    return ('answers %s, longest %.1f s, unanswered %d, split-brains %d, '
            'LVs lost %d, half-made %d, acked writes lost %d of %d, '
            'survivor I/O pause %.1f s, fenced %s, healed after %.0f s%s: %s'
            % (result['outcomes'], result['longest_answer_seconds'],
               result['unanswered'], result['split_brains'],
               result['lvs_lost'], len(result['half_made']),
               result['acknowledged_writes_lost'],
               result['acknowledged_blocks'],
               result['survivor_io_pause_seconds'],
               ','.join(result['fenced']) or 'none',
               result['healed_after_seconds'], _case_summary(result),
               'met' if result['met'] else 'MISSED'))


def format_table(results):
    lines = ['| case | fault | answers | longest s | unanswered | '
             'split-brains | LVs lost | half-made | acked writes lost | '
             'survivor I/O pause s | first change accepted s | accepted '
             'away / after return | fenced | healed after s | met |',
             '|' + '---|' * 15]
    for r in results:
        first = r.get('first_accepted_seconds')
        lines.append('| %s | %s | %s | %.1f | %d | %d | %d | %d | %d of %d | '
                     '%.1f | %s | %d / %d | %s | %.0f | %s |' % (
                         r['case'], r['fault'], ', '.join(
                             '%s %d' % item for item in
                             sorted(r['outcomes'].items())),
                         r['longest_answer_seconds'], r['unanswered'],
                         r['split_brains'], r['lvs_lost'],
                         len(r['half_made']), r['acknowledged_writes_lost'],
                         r['acknowledged_blocks'],
                         r['survivor_io_pause_seconds'],
                         '-' if first is None else '%.1f' % first,
                         r.get('accepted_while_away', 0),
                         r.get('accepted_after_return', 0),
                         ', '.join(r['fenced']) or '-',
                         r['healed_after_seconds'],
                         'yes' if r['met'] else 'NO'))
    return '\n'.join(lines)


def write_results(results, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(dict(guests.provenance(),
                       stated_io_pause_seconds=STATED_IO_PAUSE,
                       cases=results), handle, indent=1, sort_keys=True)
        handle.write('\n')


def _started(workers):
    for worker in workers:
        worker.start()
    return workers


def _create(ops, name):
    ops.create_volume(name, 4, name)


class Case:
    """One fault. ``start`` starts the operations that run across it;
    ``inject`` makes the fault ``fault_after`` seconds later; ``after``
    does what an operator's init system would (restart a daemon).
    """

    name = fault = None
    fault_after = 2.5
    stack_options = {}
    #: whether the survivor must accept changes within the stated bound
    #: while the victim is away (the victim fenced off for good)
    serves_alone = False
    #: whether the case records the survivor itself, while the victim is
    #: away (else the campaign does once the operations have answered)
    recorded_while_away = False
    #: the node the fault hits
    victim = 1
    #: whether the fault leaves the victim to be fenced: the proof that it
    #: was made at all, where nothing else in the counts would miss it
    fences_victim = False
    #: where no fence follows, what the victim's refusal of a change must
    #: name instead: the same proof
    refusal_showing_the_fault = None

    def victim_node(self, campaign):
        return campaign.cluster.nodes[self.victim]

    def wait_for_moment(self, campaign):
        """Return when the fault is due."""
        time.sleep(self.fault_after)

    def start(self, campaign, stacks):
        return self._both(campaign, stacks, _create)

    def _both(self, campaign, stacks, action, **kwargs):
        workers = [Operations(campaign, node, stacks[node.name].ops, action,
                              **kwargs)
                   for node in campaign.cluster.nodes]
        return _started(workers)

    def inject(self, campaign, stacks):
        raise NotImplementedError

    def after(self, campaign, stacks):
        pass

    def measure(self, campaign, answers, listings):
        """What this case measures beyond every case's counts, from every
        answer and each node's LVs afterwards.
        """
        return {}


class _InVictim(Case):
    """A fault made by one command in the victim node: the node's cluster
    stack or its wire gone, the survivor fences it.
    """

    command = ()
    fences_victim = True

    def inject(self, campaign, stacks):
        # A fault that was not made fails the case: a link named wrongly
        # once left link-cut "met" with nothing cut.
        self.victim_node(campaign).io.run(list(self.command))


class LinkCut(_InVictim):
    name = 'link-cut'
    fault = "node2's interface down during creates on both nodes"
    command = ('ip', 'link', 'set', guests.WIRE_NIC, 'down')


class CorosyncKilled(_InVictim):
    name = 'corosync-killed'
    fault = 'corosync SIGKILL on node2 during creates on both nodes'
    command = ('pkill', '-9', '-x', 'corosync')


class DlmControldKilled(_InVictim):
    name = 'dlm_controld-killed'
    fault = 'dlm_controld SIGKILL on node2 during creates on both nodes'
    command = ('pkill', '-9', '-x', 'dlm_controld')


class _Clones(Case):
    """node2 clones a 64 MiB volume while node1 creates; the fault comes
    while the clone's data is being copied.
    """

    def wait_for_moment(self, campaign):
        """Until node1 sees the clone's new LV still tagged as being
        written by node2.
        """
        node1, node2 = campaign.cluster.nodes
        clone = campaign.name('%s-0' % node2.name)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            listing = node1.io.run(
                ['lvs', '--noheadings', '-o', 'lv_name,lv_tags',
                 campaign.cluster.vg_name], check=False).stdout
            if any(line.split()[:1] == [clone] and
                   operations.CREATOR_TAG + node2.name in line
                   for line in listing.splitlines()):
                return
            time.sleep(0.5)
        raise guests.GuestError('the clone on %s never started copying'
                                % node2.name)

    def start(self, campaign, stacks):
        node1, node2 = campaign.cluster.nodes
        source = campaign.name('source')
        stacks[node2.name].ops.create_volume(source, 64, source)

        def clone(ops, name):
            ops.clone_volume(name, 64, name, source)

        workers = [Operations(campaign, node1, stacks[node1.name].ops,
                              _create),
                   Operations(campaign, node2, stacks[node2.name].ops,
                              clone, limit=3)]
        return _started(workers)


class LvmlockdKilledDuringClone(_Clones, _InVictim):
    name = 'lvmlockd-killed'
    fault = 'lvmlockd SIGKILL on node2 during a clone there'
    command = ('pkill', '-9', '-x', 'lvmlockd')
    # Restarted, lvmlockd takes its lockspace back: no node is fenced (none
    # in any real run); node2 refuses a change while it is gone.
    fences_victim = False
    refusal_showing_the_fault = 'lvmlockd is not running'

    def inject(self, campaign, stacks):
        super().inject(campaign, stacks)
        # What systemd's Restart= does, some seconds later.
        time.sleep(10)
        guests.restart_lvmlockd(self.victim_node(campaign).io)


class NodeKilled(Case):
    name = 'node-killed-create'
    fault = "node2's qemu SIGKILL during creates on both nodes"

    def inject(self, campaign, stacks):
        campaign.cluster.fence_device.kill(self.victim_node(campaign).name)


class NodeKilledDuringClone(_Clones, NodeKilled):
    name = 'node-killed-clone'
    fault = "node2's qemu SIGKILL during a clone there"


class ServiceRestartWhileDisconnected(LinkCut):
    """The link drops; node1's volume service restarts while node2 is being
    fenced and rejoins, and must take changes again by itself.
    """

    name = 'service-restart-apart'
    fault = ("node2's interface down, then node1's volume service restarted "
             "while DRBD is disconnected")

    def inject(self, campaign, stacks):
        super().inject(campaign, stacks)
        # The restarted service's first request, retried until accepted.
        node1 = campaign.cluster.nodes[0]
        time.sleep(5)
        restarted = campaign.stacks()[node1.name]
        reasons = restarted.gate.reasons()
        campaign.log('[faults] restarted service on %s sees: %s'
                     % (node1.name, '; '.join(reasons) or 'healthy'))
        worker = Operations(campaign, node1, restarted.ops, _create,
                            limit=200, until_ok=True,
                            label=node1.name + '-restarted')
        worker.start()
        self.restarted = worker

    def start(self, campaign, stacks):
        self.workers = super().start(campaign, stacks)
        return self.workers

    def after(self, campaign, stacks):
        self.restarted.join(RECOVERY_BOUND)
        self.workers.append(self.restarted)


class SlowDiskDuringWipe(Case):
    """Every write of node1 crosses a DRBD link delayed by 100 ms while it
    deletes volumes with ``volume_clear = zero``.
    """

    name = 'slow-disk-wipe'
    fault = "DRBD link delayed 100 ms (tc netem on node1) during wipes"
    stack_options = {'volume_clear': 'zero'}
    victim = 0

    def start(self, campaign, stacks):
        node1, node2 = campaign.cluster.nodes
        ops1 = stacks[node1.name].ops
        for number in range(3):
            name = campaign.name('%s-%d' % (node1.name, number))
            ops1.create_volume(name, 16, name)

        def delete(ops, name):
            ops.delete_volume(name)

        workers = [Operations(campaign, node1, ops1, delete, limit=3,
                              makes_volumes=False),
                   Operations(campaign, node2, stacks[node2.name].ops,
                              _create)]
        return _started(workers)

    def inject(self, campaign, stacks):
        self.victim_node(campaign).io.run(
            ['tc', 'qdisc', 'add', 'dev', guests.WIRE_NIC, 'root', 'netem',
             'delay', '100ms'])

    def after(self, campaign, stacks):
        self.victim_node(campaign).io.run(
            ['tc', 'qdisc', 'del', 'dev', guests.WIRE_NIC, 'root'])


class SurvivorSteps:
    """What a survivor's users ask, one step a call so that each is an
    answer of its own: a create, an extend, a snapshot, a volume from it,
    the snapshot's delete, a clone, an attach and a detach of it, and the
    deletes. Each round's first volume stays (it counts as made); a step
    that fails starts a new round.
    """

    def __init__(self):
        self.step = 0
        self.base = None

    def __call__(self, ops, name):
        if self.step == 0:
            self.base = name
        base = self.base
        snapshot, copy, clone = base + '-s', base + '-v', base + '-c'
        steps = (lambda: ops.create_volume(base, 4, base),
                 lambda: ops.extend_volume(base, 4, 8),
                 lambda: ops.create_snapshot(snapshot, base, snapshot),
                 lambda: ops.create_volume_from_snapshot(
                     copy, 8, copy, snapshot, base),
                 lambda: ops.delete_snapshot(snapshot, base),
                 lambda: ops.clone_volume(clone, 8, clone, base),
                 lambda: ops.use(clone),
                 lambda: ops.release(clone),
                 lambda: ops.delete_volume(clone),
                 lambda: ops.delete_volume(copy))
        made = self.step == 0
        try:
            steps[self.step]()
        except BaseException:
            self.step = 0
            raise
        self.step = (self.step + 1) % len(steps)
        return made


class _SurvivorServes(Case):
    """node1 goes on with every kind of change (:class:`SurvivorSteps`)
    across the fault and after; node2 creates until the fault hits it.
    """

    serves_alone = True
    #: node1's users start asking only once the case says so
    #: (``self.survivor.start()``), not before the fault
    survivor_waits = False

    def start(self, campaign, stacks):
        node1, node2 = campaign.cluster.nodes
        self.survivor = Operations(campaign, node1, stacks[node1.name].ops,
                                   SurvivorSteps(), limit=10 ** 6)
        self.workers = [
            self.survivor,
            Operations(campaign, node2, stacks[node2.name].ops, _create)]
        _started(self.workers[1:] if self.survivor_waits else self.workers)
        return self.workers

    def _creates_on(self, campaign, node, label, until_ok=True):
        """Creates on ``node`` by its volume service as it starts again
        (a fresh stack), until one is accepted (or stopped); answered into
        the case's results.
        """
        worker = Operations(campaign, node, campaign.stacks()[node.name].ops,
                            _create, limit=10 ** 6, until_ok=until_ok,
                            label='%s-%s' % (node.name, label))
        self.workers.append(worker)
        worker.start()
        return worker


class _PoweredOff(_SurvivorServes):
    """node2 dies and its fence powers it off; it stays off (``while_away``)
    while node1 serves alone, then it is repaired (``bring_back``) and
    rejoins while node1 goes on changing.
    """

    recorded_while_away = True

    def inject(self, campaign, stacks):
        victim = self.victim_node(campaign).name
        device = campaign.cluster.fence_device
        device.kill(victim, for_good=True)
        self.while_away(campaign, victim)
        campaign.log('[faults] %s back after %.0f s' % (
            victim, time.monotonic() - campaign.fault_at))
        campaign.peer_back_at = time.monotonic()
        self.bring_back(campaign, device, victim)
        campaign.wait_healthy()
        self.survivor.stopping.set()

    def bring_back(self, campaign, device, victim):
        device.repair(victim)


class NodeDeadForGood(_PoweredOff):
    """node2's hardware dies: the fence powers it off and it stays off for
    ``away_seconds``, while node1 serves every kind of change alone; then
    a new machine with the same configuration and a blank DRBD disk takes
    its place, its start-up running the one command the operator's guide
    gives for a replacement (``drbd_clvm_start_node no``): new DRBD
    metadata, a full sync from node1 while node1 goes on changing, then
    Primary and serving. (A node that comes back with its own disk and
    resyncs what it missed: changes-during-resync, double-fault,
    fence-fails.)
    """

    name = 'node-dead-for-good'
    #: the issue's "away at least 10 minutes": long past every timeout of
    #: the stack (corosync token, DRBD ping, dlm, the driver's peer calls)
    away_seconds = 600
    fault = ("node2's qemu SIGKILL; its fence powers it off for good, and "
             "after %d minutes a new node2 with a blank DRBD disk boots"
             % (away_seconds // 60))

    def while_away(self, campaign, victim):
        """Away for :attr:`away_seconds`; once node1 has accepted a change
        alone, its users ask one change every :data:`SURVIVOR_PACE_AWAY`
        seconds, not back to back, until node2's replacement boots.
        """
        back_at = time.monotonic() + self.away_seconds
        survivor = campaign.cluster.nodes[1 - self.victim].name
        guests.wait_until(
            lambda: accepted_between(self.survivor.answers, survivor, 0,
                                     None),
            RECOVERY_BOUND, 'a change accepted on %s alone' % survivor)
        self.survivor.pace = SURVIVOR_PACE_AWAY
        time.sleep(max(0, back_at - time.monotonic()))
        self.survivor.pace = 0
        campaign.record_survivor(self)

    def bring_back(self, campaign, device, victim):
        node1, node2 = campaign.cluster.nodes
        self.watch = DrbdWatch(node1)
        self.watch.start()
        device.replace(victim)
        wait_for_agent(node2)
        guests.wait_until(
            lambda: 'cs:SyncTarget' in node2.run(
                'cat', '/proc/drbd', timeout=10).stdout,
            RECOVERY_BOUND, 'the full sync of %s' % victim)
        # both sides of the full sync, for the unit tests
        campaign.record(self, [(1, ['cat', '/proc/drbd']),
                               (0, ['cat', '/proc/drbd'])])
        self.back = self._creates_on(campaign, node2, 'back')
        self.back.join(RECOVERY_BOUND)
        self.watch.stop()

    def measure(self, campaign, answers, listings):
        start, end = resync_window(self.watch.samples)
        return {
            'full_sync_target': True,
            'full_sync_seen': any(
                'ds:UpToDate/Inconsistent' in line
                for _, line in self.watch.samples),
            'full_sync_seconds': (None if end is None
                                  else round(end - start, 1)),
            'victim_serves_again_seconds': first_accepted_after(
                self.back.answers,
                campaign.peer_back_at - campaign.fault_at)}


class FenceFails(_PoweredOff):
    """node2 dies and its fence device refuses: node1 accepts no change,
    each refusal naming the failed fence and the way out, until an
    operator who made sure node2 is off confirms it; then node1 serves
    alone until node2 is repaired and rejoins.
    """

    name = 'fence-fails'
    #: long enough for several of the fence program's tries (every 10 s)
    refused_seconds = 45
    alone_seconds = 30
    #: a change under way at the fault would wait on the frozen I/O until
    #: the confirmation, and this case is about the requests that come
    #: after: node1's users ask once the first fence has failed
    survivor_waits = True
    fault = ("node2's qemu SIGKILL and its fence device refuses; an "
             "operator confirms it off %d s after the first failed fence"
             % refused_seconds)

    def inject(self, campaign, stacks):
        campaign.cluster.fence_device.refusing.add(
            self.victim_node(campaign).name)
        super().inject(campaign, stacks)

    def while_away(self, campaign, victim):
        node = campaign.cluster.nodes[1 - self.victim]
        guests.wait_until(lambda: node.operator.run(
            ['test', '-e', fence_state.FAILING_FILE], timeout=10,
            check=False).exit_code == 0, 60,
            '%s\'s first failed fence of %s' % (node.name, victim))
        campaign.log('[faults] %s\'s first fence of %s failed after %.0f s'
                     % (node.name, victim,
                        time.monotonic() - campaign.fault_at))
        self.survivor.start()
        time.sleep(self.refused_seconds)
        campaign.record_survivor(self)
        campaign.log('[faults] operator on %s: drbd-clvm-fence confirm %s'
                     % (node.name, victim))
        campaign.confirmed_at = time.monotonic()
        # at the operator's own shell: the driver's agent may be busy
        result = node.operator.run(
            ['drbd-clvm-fence', 'confirm', victim], timeout=60, check=False)
        if result.exit_code:
            raise guests.GuestError('drbd-clvm-fence confirm %s: %s' % (
                victim, result.stderr.strip()))
        time.sleep(self.alone_seconds)


class DoubleFault(_SurvivorServes):
    """node2 dies for good and node1 serves alone; then node1 dies too and
    node2, repaired, boots first with its stale copy: it must refuse every
    change for that copy, never be promoted, and - when node1 is back -
    resync from it and serve again by itself, with all node1 made alone.
    """

    name = 'double-fault'
    fault = ("node2's qemu SIGKILL, off for good; node1 changes alone, then "
             "its qemu SIGKILL; node2 repaired and booted alone, then node1")
    recorded_while_away = True
    #: changes node1 makes alone before it dies (its first a create)
    changes_alone = 4
    #: seconds node2 is asked for changes while it is up alone
    victim_alone_seconds = 20

    def inject(self, campaign, stacks):
        node1, node2 = campaign.cluster.nodes
        device = campaign.cluster.fence_device
        device.kill(node2.name, for_good=True)
        guests.wait_until(
            lambda: accepted_between(self.survivor.answers, node1.name, 0,
                                     None) >= self.changes_alone,
            RECOVERY_BOUND,
            '%d changes on %s alone' % (self.changes_alone, node1.name))
        self.survivor.stopping.set()
        self.survivor.join(ANSWER_BOUND)
        campaign.record_survivor(self)
        device.kill(node1.name, for_good=True)
        device.repair(node2.name)
        watch = DrbdWatch(node2)
        watch.start()
        guests.wait_until(lambda: watch.samples, RECOVERY_BOUND,
                          'DRBD up on %s' % node2.name)
        self.alone = self._creates_on(campaign, node2, 'alone',
                                      until_ok=False)
        time.sleep(self.victim_alone_seconds)
        self.alone.stopping.set()
        self.alone.join(ANSWER_BOUND)
        self.state_alone = node2.run('cat', '/run/drbd-clvm/state').stdout
        watch.stop()
        campaign.log('[faults] %s alone: %s; its start-up is %s' % (
            node2.name, watch.samples[-1][1], self.state_alone.strip()))
        self.lines_alone = [line for _, line in watch.samples]
        campaign.peer_back_at = time.monotonic()
        device.repair(node1.name)
        self.back = self._creates_on(campaign, node2, 'back')
        self.back.join(RECOVERY_BOUND)
        campaign.wait_healthy()
        self._creates_on(campaign, node1, 'back').join(ANSWER_BOUND)

    def measure(self, campaign, answers, listings):
        back = campaign.peer_back_at - campaign.fault_at
        refused, disks = stale_copy_refusals(self.alone.answers)
        made_alone = [answer['name'] for answer in self.survivor.answers
                      if answer['made'] and answer['at'] is not None
                      and answer['at'] >= 0]
        return {
            'stale_victim_target': True,
            'victim_answers_alone': len(self.alone.answers),
            'victim_refused_stale': refused,
            'victim_copy_alone': disks,
            'victim_drbd_alone': sorted(set(self.lines_alone)),
            'victim_start_up_alone': self.state_alone.strip(),
            'victim_promoted_alone': any('ro:Primary/' in line
                                         for line in self.lines_alone),
            'victim_serves_again_seconds': first_accepted_after(
                self.back.answers, back),
            'made_alone': len(made_alone),
            'made_alone_on_both': sum(
                all(name in listing for listing in listings.values())
                for name in made_alone)}


class ChangesDuringResync(_SurvivorServes):
    """node2 dies and is fenced; node1 writes ``bulk_mib`` while it is off,
    so that its resync takes a while once it is back; node1 goes on
    changing all along, node2 refuses until it is UpToDate and Primary.
    """

    name = 'changes-during-resync'
    fault = ("node2's qemu SIGKILL; fenced, it boots once node1 has written "
             "512 MiB, and resyncs while node1 goes on changing")
    bulk_mib = 512
    #: MiB an instance writes at a time (the instance's stand-in writes
    #: between them, through the same agent)
    chunk_mib = 16

    def start(self, campaign, stacks):
        node1 = campaign.cluster.nodes[0]
        ops = stacks[node1.name].ops
        self.bulk = campaign.name('bulk')
        ops.create_volume(self.bulk, self.bulk_mib, self.bulk)
        ops.use(self.bulk)
        self.bulk_path = ops.vg.lv_path(self.bulk)
        return super().start(campaign, stacks)

    def inject(self, campaign, stacks):
        node1, node2 = campaign.cluster.nodes
        device = campaign.cluster.fence_device
        self.watch = DrbdWatch(node1)
        self.watch.start()
        # Off until node1 has written what node2 will resync.
        device.kill(node2.name, for_good=True)
        for chunk in range(self.bulk_mib // self.chunk_mib):
            node1.io.run(['dd', 'if=/dev/zero', 'of=' + self.bulk_path,
                          'bs=1M', 'count=%d' % self.chunk_mib,
                          'seek=%d' % (chunk * self.chunk_mib),
                          'oflag=direct', 'conv=notrunc', 'status=none'],
                         timeout=ANSWER_BOUND)
            # the instance's stand-in writes in between
            time.sleep(0.2)
        campaign.log('[faults] %s wrote %d MiB alone; %s repaired' % (
            node1.name, self.bulk_mib, node2.name))
        campaign.peer_back_at = time.monotonic()
        device.repair(node2.name)
        wait_for_agent(node2)
        self.victim_watch = DrbdWatch(node2)
        self.victim_watch.start()
        self.back = self._creates_on(campaign, node2, 'back')
        self.back.join(RECOVERY_BOUND)
        campaign.wait_healthy()
        self.survivor.stopping.set()
        self.watch.stop()
        self.victim_watch.stop()

    def measure(self, campaign, answers, listings):
        def since_fault(at):
            return None if at is None else at - campaign.fault_at

        start, end = map(since_fault, resync_window(self.watch.samples))
        primary = since_fault(first_seen(self.victim_watch.samples,
                                         'ro:Primary/', 'ds:UpToDate/'))
        back = campaign.peer_back_at - campaign.fault_at
        before_primary, refused_before_primary = refused_before(
            self.back.answers, primary)
        before, refused = refused_before(self.back.answers)
        node1, node2 = (node.name for node in campaign.cluster.nodes)
        return {
            'resync_target': True,
            'bulk_mib': self.bulk_mib,
            'resync_seconds': (None if end is None
                               else round(end - start, 1)),
            'accepted_during_resync': 0 if start is None else
            accepted_between(answers, node1, start, end),
            'victim_primary_seconds': (None if primary is None
                                       else round(primary - back, 1)),
            'victim_answers_before_primary': before_primary,
            'victim_refused_before_primary': refused_before_primary,
            'victim_answers_before_serving': before,
            'victim_refused_before_serving': refused,
            'victim_accepted_during_resync': 0 if start is None else
            accepted_between(answers, node2, start, end),
            'victim_serves_again_seconds': first_accepted_after(
                self.back.answers, back)}


CASES = (LinkCut, CorosyncKilled, LvmlockdKilledDuringClone,
         DlmControldKilled, NodeKilled, NodeKilledDuringClone,
         ServiceRestartWhileDisconnected, SlowDiskDuringWipe,
         ChangesDuringResync, DoubleFault, NodeDeadForGood, FenceFails)


def run(cluster, names=None, log=print, record_dir=None):
    """Run the cases (all, or those named); their results, in order."""
    campaign = Campaign(cluster, log=log, record_dir=record_dir)
    for case in CASES:
        if names and case.name not in names:
            continue
        campaign.run_case(case())
    return campaign.results
