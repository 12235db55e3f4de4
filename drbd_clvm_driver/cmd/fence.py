#!/usr/bin/python3
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

"""``drbd-clvm-fence``: one way to fence the peer, for DRBD and for DLM.

With both nodes Primary, a lost link or a dead node must end with the other
node powered off or reset before anything is written again: DRBD freezes
I/O (``fencing resource-and-stonith``) and calls its ``fence-peer`` handler;
dlm_controld blocks every lockspace until its fence device reports success.
Both call this program, which runs the operator's fence agent (any agent of
the ``fence-agents`` family, or one with the same stdin protocol) and keeps
the two from fencing one failed node twice.

Invocations:

``drbd-clvm-fence drbd-peer``
    DRBD's ``fence-peer`` handler. Exit 7 ("peer was fenced", DRBD resumes
    I/O and marks the peer Outdated) once the agent has fenced the peer or
    an operator has confirmed it off; while the agent fails it tries again
    every ``retry_interval`` seconds (I/O stays frozen: nothing can
    diverge) and says why in the file the safety gate reads
    (:mod:`drbd_clvm_driver.fence_state`). Exit 1 when the peer is back
    before (DRBD ignores a late answer then). A node whose own copy is not
    UpToDate never fences its peer: DRBD asks for that fence to promote a
    copy that may lack the peer's last changes (the node fenced first,
    booted while the other is off).
``drbd-clvm-fence`` (no arguments, ``key=value`` lines on stdin)
    dlm_controld's fence device (``device`` line in dlm.conf). Reads
    ``node`` (the corosync node id) and ``fail_time``; exit 0 once the node
    is fenced (tried again like DRBD's handler, the agent running once per
    ``retry_interval`` between the two), 1 when it is back unfenced.
``drbd-clvm-fence node NAME``
    an operator's manual fence, as the two above would do it.
``drbd-clvm-fence confirm NAME``
    the operator has made sure NAME is powered off (its fence device is
    broken): NAME counts as fenced, the waiting DRBD handler answers
    "fenced" at its next try and dlm_controld is told (``dlm_tool
    fence_ack``).

The configuration (``/etc/drbd-clvm/fence.conf``, written by the DevStack
plugin) names this node, the agent and each node's agent arguments::

    [fence]
    local_node = node1
    agent = /usr/sbin/fence_ipmilan
    agent_args = lanplus=1 username=admin password=secret
    timeout = 60
    delay = 0
    retry_interval = 10

    [node node1]
    nodeid = 1
    agent_args = ip=10.0.0.101

    [node node2]
    nodeid = 2
    agent_args = ip=10.0.0.102

``delay`` is how long this node waits before fencing: give it to one node
only, so that when the link between two healthy nodes drops and each wants
to fence the other, the node without a delay wins and exactly one survives.

Standard library only (and :mod:`drbd_clvm_driver.fence_state`, which is
too): the program runs on the cluster nodes, called by DRBD and
dlm_controld, not by the volume service.
"""

import configparser
import contextlib
import fcntl
import os
import re
import subprocess
import sys
import time

from drbd_clvm_driver import fence_state

CONFIG_FILE = '/etc/drbd-clvm/fence.conf'
LOG_FILE = '/var/log/drbd-clvm-fence.log'
PROC_DRBD = '/proc/drbd'
#: DRBD 8.4's device line: minor and this node's disk state
_DEVICE_DISK = re.compile(r'^\s*(\d+): cs:\S+ ro:\S+ ds:(\w+)/', re.MULTILINE)
#: DRBD 8.4's device line: minor and connection state
_DEVICE_CONNECTION = re.compile(r'^\s*(\d+): cs:(\w+)', re.MULTILINE)
#: DRBD's fence-peer exit codes (drbd.conf(5), handlers section)
DRBD_PEER_FENCED = 7
DRBD_FENCE_FAILED = 1
#: a fence counts for a failure seen up to this many seconds after it:
#: the fence itself is what DLM sees fail a few seconds later (corosync
#: token and consensus), and DRBD gives no failure time at all. Far less
#: than a node needs to reboot, rejoin and fail again.
RECENT_SECONDS = 30


class FenceError(Exception):
    """The configuration is unusable or the agent did not fence the node."""


def log(message, path=None):
    """One line in the log file, and on stderr where there is one: DRBD
    runs its handlers from the kernel with no standard streams at all.
    """
    line = '%s drbd-clvm-fence[%d]: %s\n' % (
        time.strftime('%Y-%m-%dT%H:%M:%S'), os.getpid(), message)
    try:
        with open(path or LOG_FILE, 'a') as handle:
            handle.write(line)
    except OSError:
        pass
    if sys.stderr is not None:
        sys.stderr.write(line)
        sys.stderr.flush()


def _arguments(text):
    """``key=value key2=value2`` into ordered pairs."""
    pairs = []
    for word in (text or '').split():
        key, sep, value = word.partition('=')
        if not sep or not key:
            raise FenceError('agent argument %r is not key=value' % word)
        pairs.append((key, value))
    return pairs


class FenceConfig:
    """The parsed configuration file.

    :param text: the file's contents.
    """

    def __init__(self, text):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            section = parser['fence']
            self.local_node = section['local_node']
            self.agent = section['agent']
        except (configparser.Error, KeyError) as error:
            raise FenceError('%s: %s' % (CONFIG_FILE, error))
        self.agent_args = _arguments(section.get('agent_args'))
        self.timeout = section.getint('timeout', 60)
        self.delay = section.getint('delay', 0)
        self.retry_interval = section.getint('retry_interval', 10)
        if self.retry_interval < 1:
            raise FenceError('retry_interval must be at least 1 s')
        self.nodes = {}
        for name in parser.sections():
            kind, _, node = name.partition(' ')
            if kind != 'node':
                continue
            self.nodes[node] = (parser[name].getint('nodeid'),
                                _arguments(parser[name].get('agent_args')))
        if self.local_node not in self.nodes:
            raise FenceError('local_node %s has no [node %s] section'
                             % (self.local_node, self.local_node))

    @classmethod
    def load(cls, path=CONFIG_FILE):
        try:
            with open(path) as handle:
                return cls(handle.read())
        except OSError as error:
            raise FenceError('cannot read %s: %s' % (path, error))

    def peer(self):
        """The one node that is not this one (DRBD names no peer in 8.4)."""
        others = sorted(set(self.nodes) - {self.local_node})
        if len(others) != 1:
            raise FenceError('expected exactly one peer of %s, found %s'
                             % (self.local_node, others or 'none'))
        return others[0]

    def node_by_id(self, nodeid):
        for name, (number, _) in self.nodes.items():
            if number == nodeid:
                return name
        raise FenceError('no [node ...] section has nodeid = %s' % nodeid)


class Fencer:
    """Fences nodes through the agent, once per failure.

    :param config: a :class:`FenceConfig`.
    :param state_dir: where the time of each node's last fence is kept.
    :param clock: seconds since the epoch (time.time, replaced in tests).
    :param sleep: time.sleep, replaced in tests.
    :param run: subprocess.run, replaced in tests.
    """

    def __init__(self, config, state_dir=fence_state.STATE_DIR,
                 clock=time.time,
                 sleep=time.sleep, run=subprocess.run):
        self.config = config
        self.state_dir = state_dir
        self.clock = clock
        self.sleep = sleep
        self.run = run

    @contextlib.contextmanager
    def _serialized(self):
        """DRBD's handler and dlm_controld ask at about the same time."""
        os.makedirs(self.state_dir, exist_ok=True)
        with open(os.path.join(self.state_dir, 'lock'), 'w') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _stamp(self, node):
        return os.path.join(self.state_dir, 'fenced-' + node)

    def last_fenced(self, node):
        """When this node last fenced ``node`` (epoch seconds), or None."""
        try:
            with open(self._stamp(node)) as handle:
                return float(handle.read().strip())
        except (OSError, ValueError):
            return None

    def fence(self, node, failed_at=None):
        """Fence ``node`` unless this node already did for this failure.

        :param failed_at: when the node was seen to fail (DLM says), else
            now; a fence up to :data:`RECENT_SECONDS` before it counts.
        :raises FenceError: the agent failed or did not answer in time.
        """
        if node == self.config.local_node:
            raise FenceError('refusing to fence this node (%s) itself' % node)
        if node not in self.config.nodes:
            raise FenceError('unknown node %s' % node)
        with self._serialized():
            last = self.last_fenced(node)
            since = (self.clock() if failed_at is None
                     else failed_at) - RECENT_SECONDS
            if last is not None and last >= since:
                log('%s was already fenced at %.0f; not again' % (node, last))
                return
            self._not_tried_lately(node)
            if self.config.delay:
                log('waiting %d s before fencing %s (this node is not the '
                    'preferred survivor)' % (self.config.delay, node))
                self.sleep(self.config.delay)
            try:
                self._run_agent(node)
            except FenceError as error:
                self._record_failure(node, error)
                raise
            self._counted_fenced(node)
            log('%s fenced' % node)

    def confirm(self, node):
        """An operator has made sure ``node`` is powered off: it counts as
        fenced for the failure going on (DRBD's waiting handler and
        dlm_controld's next try find it so).
        """
        if node == self.config.local_node:
            raise FenceError('refusing to confirm this node (%s) off: it is '
                             'running this command' % node)
        if node not in self.config.nodes:
            raise FenceError('unknown node %s' % node)
        with self._serialized():
            self._counted_fenced(node)
        log('%s confirmed powered off by an operator; counted as fenced'
            % node)
        nodeid = self.config.nodes[node][0]
        try:
            # dlm_controld may be waiting for its own fence of the node.
            result = self.run(['dlm_tool', 'fence_ack', str(nodeid)],
                              input='', text=True, capture_output=True,
                              timeout=self.config.timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            log('dlm_tool fence_ack %d: %s' % (nodeid, error))
        else:
            log('dlm_tool fence_ack %d: exit %d %s' % (
                nodeid, result.returncode,
                (result.stderr or result.stdout).strip()))

    def _counted_fenced(self, node):
        with open(self._stamp(node), 'w') as handle:
            handle.write('%f\n' % self.clock())
        self._forget_failure()

    def _forget_failure(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._failing_path())

    def _failing_path(self):
        return os.path.join(self.state_dir, fence_state.FAILING_NAME)

    def failing(self):
        """The :class:`~drbd_clvm_driver.fence_state.FenceFailure` going
        on, or None.
        """
        try:
            with open(self._failing_path()) as handle:
                return fence_state.FenceFailure.from_text(handle.read())
        except (OSError, ValueError):
            return None

    def _not_tried_lately(self, node):
        """DRBD's handler and dlm_controld both wait on a failing fence:
        between them the agent runs once per ``retry_interval``.

        :raises FenceError: a try of this failure failed less than
            ``retry_interval`` seconds ago.
        """
        known = self.failing()
        if known is None or known.node != node:
            return
        ago = self.clock() - known.tried
        if 0 <= ago < self.config.retry_interval:
            raise FenceError('the fence of %s failed %.0f s ago (%s); not '
                             'tried again sooner than every %d s' % (
                                 node, ago, known.error,
                                 self.config.retry_interval))

    def _record_failure(self, node, error):
        """Keep since when ``node`` cannot be fenced, for the gate."""
        known = self.failing()
        since = (known.since if known is not None and known.node == node
                 else self.clock())
        record = fence_state.FenceFailure(node, since, str(error),
                                          self.config.retry_interval,
                                          tried=self.clock())
        with open(self._failing_path() + '.new', 'w') as handle:
            handle.write(record.to_text())
        os.rename(self._failing_path() + '.new', self._failing_path())

    def fence_until_done(self, node, peer_back, failed_at=None):
        """Fence ``node``, trying again every ``retry_interval`` seconds
        while the agent fails, until it succeeds, an operator confirms the
        node off, or ``peer_back()`` (the peer reconnected: nothing to
        fence any more).

        :param failed_at: as for :meth:`fence`.
        :returns: whether ``node`` counts as fenced.
        """
        failed_at = self.clock() if failed_at is None else failed_at
        while True:
            try:
                # a fence or confirmation since the failure counts
                self.fence(node, failed_at)
                return True
            except FenceError as error:
                log(str(error))
            log('trying to fence %s again in %d s (or run "drbd-clvm-fence '
                'confirm %s" once it is surely off)' % (
                    node, self.config.retry_interval, node))
            self.sleep(self.config.retry_interval)
            if peer_back():
                log('%s is connected again; no fence needed' % node)
                self._forget_failure()
                return False

    def _run_agent(self, node):
        _, node_args = self.config.nodes[node]
        pairs = ([('action', 'reboot'), ('plug', node)] +
                 self.config.agent_args + node_args)
        stdin = ''.join('%s=%s\n' % pair for pair in pairs)
        log('fencing %s with %s' % (node, self.config.agent))
        try:
            result = self.run([self.config.agent], input=stdin, text=True,
                              capture_output=True,
                              timeout=self.config.timeout)
        except subprocess.TimeoutExpired:
            raise FenceError('%s did not fence %s within %d s' % (
                self.config.agent, node, self.config.timeout))
        except OSError as error:
            raise FenceError('cannot run %s: %s' % (self.config.agent, error))
        if result.returncode:
            raise FenceError('%s failed to fence %s (exit %d): %s' % (
                self.config.agent, node, result.returncode,
                (result.stderr or result.stdout).strip() or 'no output'))


def check_own_copy(minor, path=None):
    """Refuse to fence the peer unless this node's copy of DRBD device
    ``minor`` (every device where None) is UpToDate.

    :raises FenceError: it is not, or cannot be read.
    """
    try:
        with open(path or PROC_DRBD) as handle:
            text = handle.read()
    except OSError as error:
        raise FenceError('cannot read this node\'s DRBD state: %s' % error)
    disks = [disk for number, disk in _DEVICE_DISK.findall(text)
             if minor is None or number == minor]
    if not disks:
        raise FenceError('DRBD minor %s is not in %s' % (
            minor, path or PROC_DRBD))
    stale = [disk for disk in disks if disk != 'UpToDate']
    if stale:
        raise FenceError(
            'this node\'s DRBD copy is %s, not UpToDate: fencing the peer '
            'would let DRBD promote a copy that may lack the peer\'s last '
            'changes; nothing fenced, I/O stays frozen until the peer is '
            'back' % stale[0])


def peer_connected(minor, path=None):
    """Whether DRBD device ``minor`` (any device where None) is connected
    to its peer again (Connected or resyncing); False where unreadable.
    """
    try:
        with open(path or PROC_DRBD) as handle:
            text = handle.read()
    except OSError:
        return False
    return any(state == 'Connected' or 'Sync' in state
               for number, state in _DEVICE_CONNECTION.findall(text)
               if minor is None or number == minor)


def _stdin_arguments(text):
    return dict(line.strip().partition('=')[::2]
                for line in text.splitlines() if '=' in line)


def main(argv=None, stdin=None, fencer=None):
    argv = sys.argv[1:] if argv is None else argv
    drbd = argv[:1] == ['drbd-peer']
    try:
        fencer = fencer or Fencer(FenceConfig.load())
        config = fencer.config
        if drbd:
            minor = os.environ.get('DRBD_MINOR')
            check_own_copy(minor)
            if fencer.fence_until_done(
                    config.peer(), lambda: peer_connected(minor)):
                return DRBD_PEER_FENCED
            return DRBD_FENCE_FAILED
        if argv[:1] == ['node'] and len(argv) == 2:
            fencer.fence(argv[1])
            return 0
        if argv[:1] == ['confirm'] and len(argv) == 2:
            fencer.confirm(argv[1])
            return 0
        if argv:
            raise FenceError('usage: drbd-clvm-fence [drbd-peer | node NAME '
                             '| confirm NAME] (no arguments: dlm_controld, '
                             'stdin)')
        request = _stdin_arguments((stdin or sys.stdin).read())
        log('dlm_controld asks: %s' % ' '.join(
            '%s=%s' % (key, request[key]) for key in ('node', 'fail_time')
            if key in request))
        if not request.get('node', '').isdigit():
            raise FenceError('dlm_controld gave no node id: %r' % request)
        failed_at = request.get('fail_time')
        # Answering a failure would have dlm_controld ask again at once
        # (a process every 2 s on a node whose I/O is frozen): wait, as
        # DRBD's handler does.
        fenced = fencer.fence_until_done(
            config.node_by_id(int(request['node'])),
            lambda: peer_connected(None),
            float(failed_at) if failed_at else None)
        return 0 if fenced else 1
    except FenceError as error:
        log(str(error))
        return DRBD_FENCE_FAILED if drbd else 1


if __name__ == '__main__':
    sys.exit(main())
