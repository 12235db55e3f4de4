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

"""drbd-clvm-fence: one fence per failure, for DRBD's handler and DLM."""

import os
import subprocess

import fixtures
import testtools

from drbd_clvm_driver.cmd import fence
from tests.unit import recorded

CONFIG = """
[fence]
local_node = node1
agent = /usr/sbin/fence_lab
agent_args = username=admin
timeout = 30
delay = %d

[node node1]
nodeid = 1
agent_args = ip=192.0.2.1

[node node2]
nodeid = 2
agent_args = ip=192.0.2.2
"""


class FakeAgent:
    """Stands in for a fence agent process: records its stdin."""

    def __init__(self, exit_code=0, stderr=''):
        self.exit_code = exit_code
        self.stderr = stderr
        self.calls = []

    def __call__(self, argv, input, text, capture_output, timeout):
        self.calls.append((argv, input, timeout))
        return subprocess.CompletedProcess(argv, self.exit_code, '',
                                           self.stderr)


#: /proc/drbd of the survivor asking to fence (recorded, UpToDate)
UP_TO_DATE = os.path.join(recorded.FIXTURES, 'gate-faults',
                          'corosync-killed', 'node1-01-cat_proc_drbd.txt')


class FencerTest(testtools.TestCase):

    def proc_drbd(self, path):
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.cmd.fence.PROC_DRBD', path))

    def proc_drbd_text(self, text):
        path = self.state_dir + '/proc_drbd'
        with open(path, 'w') as handle:
            handle.write(text)
        self.proc_drbd(path)

    def setUp(self):
        super().setUp()
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.log_file = self.state_dir + '/fence.log'
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.cmd.fence.LOG_FILE', self.log_file))
        self.proc_drbd(UP_TO_DATE)
        self.now = 1000.0
        self.slept = []
        self.agent = FakeAgent()

    def fencer(self, delay=0, agent=None):
        return fence.Fencer(fence.FenceConfig(CONFIG % delay),
                            state_dir=self.state_dir,
                            clock=lambda: self.now,
                            sleep=self.slept.append,
                            run=agent or self.agent)

    def test_agent_gets_the_fence_agents_protocol(self):
        self.fencer().fence('node2')
        [(argv, stdin, timeout)] = self.agent.calls
        self.assertEqual(['/usr/sbin/fence_lab'], argv)
        self.assertEqual('action=reboot\nplug=node2\nusername=admin\n'
                         'ip=192.0.2.2\n', stdin)
        self.assertEqual(30, timeout)

    def test_drbd_handler_fences_the_peer_and_says_so(self):
        self.assertEqual(fence.DRBD_PEER_FENCED,
                         fence.main(['drbd-peer'], fencer=self.fencer()))
        self.assertIn('plug=node2', self.agent.calls[0][1])

    def test_a_stale_copy_never_fences_its_peer(self):
        # The node fenced first boots while the other is off: DRBD asks to
        # fence the peer so that it may promote this Consistent copy.
        with open(UP_TO_DATE) as handle:
            text = handle.read()
        for disk in ('Consistent', 'Outdated', 'Inconsistent'):
            self.proc_drbd_text(text.replace(
                'ro:Primary/Unknown ds:UpToDate/Outdated',
                'ro:Secondary/Unknown ds:%s/DUnknown' % disk))
            self.assertEqual(fence.DRBD_FENCE_FAILED,
                             fence.main(['drbd-peer'], fencer=self.fencer()))
            with open(self.log_file) as handle:
                self.assertIn("this node's DRBD copy is %s, not UpToDate"
                              % disk, handle.read())
        self.assertEqual([], self.agent.calls)

    def test_unreadable_drbd_state_fences_nothing(self):
        self.proc_drbd(self.state_dir + '/missing')
        self.assertEqual(fence.DRBD_FENCE_FAILED,
                         fence.main(['drbd-peer'], fencer=self.fencer()))
        self.assertEqual([], self.agent.calls)

    def test_only_the_minor_drbd_names_is_checked(self):
        self.useFixture(fixtures.EnvironmentVariable('DRBD_MINOR', '0'))
        self.assertEqual(fence.DRBD_PEER_FENCED,
                         fence.main(['drbd-peer'], fencer=self.fencer()))
        self.useFixture(fixtures.EnvironmentVariable('DRBD_MINOR', '3'))
        self.assertEqual(fence.DRBD_FENCE_FAILED,
                         fence.main(['drbd-peer'], fencer=self.fencer()))

    def failing_handler(self, during_wait):
        """DRBD's handler with an agent that fails until ``during_wait``
        (called at each wait between tries, with the try count) changes
        the world; the exit code and the agent's calls.
        """
        agent = FakeAgent(exit_code=1, stderr='no route to BMC')
        fencer = self.fencer(agent=agent)

        def wait(seconds):
            self.slept.append(seconds)
            self.now += seconds
            during_wait(len(agent.calls), agent, fencer)

        fencer.sleep = wait
        return fence.main(['drbd-peer'], fencer=fencer), agent

    def test_drbd_handler_tries_again_until_the_agent_fences(self):
        def repaired_after_two(tries, agent, fencer):
            self.assertEqual('node2', fencer.failing().node)
            if tries == 2:
                agent.exit_code = 0

        code, agent = self.failing_handler(repaired_after_two)
        self.assertEqual(fence.DRBD_PEER_FENCED, code)
        self.assertEqual(3, len(agent.calls))
        self.assertEqual([10, 10], self.slept)
        self.assertIsNone(self.fencer().failing())

    def test_failure_says_since_when_and_the_way_out(self):
        seen = []

        def operator_confirms(tries, agent, fencer):
            seen.append(fencer.failing())
            if tries == 3:
                fence.main(['confirm', 'node2'], fencer=fencer)
                self.now += 100  # the next try may come long after

        code, agent = self.failing_handler(operator_confirms)
        # Confirmed off by hand: DRBD hears "fenced" at its next try,
        # without the agent, and the record is gone.
        self.assertEqual(fence.DRBD_PEER_FENCED, code)
        self.assertEqual(3, len([call for call in agent.calls
                                 if call[0] == ['/usr/sbin/fence_lab']]))
        self.assertEqual({1000.0}, {record.since for record in seen})
        self.assertIn('no route to BMC', seen[-1].error)
        self.assertIn('"drbd-clvm-fence confirm node2"',
                      seen[-1].describe())
        self.assertIn('1970-01-01 00:16:40 UTC', seen[-1].describe())
        self.assertIsNone(self.fencer().failing())
        self.assertEqual(self.now - 100,
                         self.fencer().last_fenced('node2'))
        # dlm_controld is told too.
        self.assertEqual(['dlm_tool', 'fence_ack', '2'], agent.calls[-1][0])

    def test_drbd_handler_stops_when_the_peer_is_back(self):
        with open(UP_TO_DATE) as handle:
            text = handle.read()

        def link_back(tries, agent, fencer):
            self.proc_drbd_text(text.replace('cs:WFConnection',
                                             'cs:SyncSource'))

        code, agent = self.failing_handler(link_back)
        self.assertEqual(fence.DRBD_FENCE_FAILED, code)
        self.assertEqual(1, len(agent.calls))
        self.assertIsNone(self.fencer().last_fenced('node2'))
        self.assertIsNone(self.fencer().failing())

    def test_dlm_waits_like_drbd_and_the_agent_runs_once_per_interval(self):
        # DRBD's handler has just failed to fence node2 (at 1000) and
        # waits; dlm_controld asks 2 s later. Its request waits too, and
        # between the two the agent runs once per retry_interval.
        agent = FakeAgent(exit_code=1, stderr='no route to BMC')
        self.assertRaises(fence.FenceError,
                          self.fencer(agent=agent).fence, 'node2')
        fencer = self.fencer(agent=agent)
        tries_at = [self.now]

        def wait(seconds):
            self.now += seconds
            if len(agent.calls) > len(tries_at):
                tries_at.append(self.now - seconds)
            if len(tries_at) == 3:
                fence.main(['confirm', 'node2'], fencer=fencer)

        fencer.sleep = wait
        self.now = 1002.0
        self.assertEqual(0, fence.main([], stdin=_Stdin(
            'node=2\nfail_time=999\n'), fencer=fencer))
        self.assertEqual([1000.0, 1012.0, 1022.0], tries_at)
        with open(self.log_file) as handle:
            self.assertIn('the fence of node2 failed 2 s ago', handle.read())
        self.assertIsNone(self.fencer().failing())

    def test_dlm_request_ends_unfenced_when_the_peer_is_back(self):
        with open(UP_TO_DATE) as handle:
            text = handle.read()
        agent = FakeAgent(exit_code=1, stderr='no route to BMC')
        fencer = self.fencer(agent=agent)

        def link_back(seconds):
            self.now += seconds
            self.proc_drbd_text(text.replace('cs:WFConnection',
                                             'cs:Connected'))

        fencer.sleep = link_back
        self.assertEqual(1, fence.main([], stdin=_Stdin('node=2\n'),
                                       fencer=fencer))
        self.assertEqual(1, len(agent.calls))

    def test_confirm_never_this_node_or_a_stranger(self):
        for name in ('node1', 'node9'):
            self.assertEqual(1, fence.main(['confirm', name],
                                           fencer=self.fencer()))
            self.assertIsNone(self.fencer().last_fenced(name))

    def test_retry_interval_must_be_positive(self):
        text = CONFIG.replace('delay = %d', 'retry_interval = 0')
        self.assertRaises(fence.FenceError, fence.FenceConfig, text)

    def test_dlm_request_fenced_once_per_failure(self):
        # DRBD's handler fenced node2 at 1000; DLM saw node2 leave at 1004
        # (the fence itself, seen through corosync's token timeout): node2
        # is not fenced a second time.
        self.fencer().fence('node2')
        self.now = 1006.0
        self.assertEqual(0, fence.main([], stdin=_Stdin(
            'agent=/usr/sbin/drbd-clvm-fence\nnode=2\nfail_time=1004\n'),
            fencer=self.fencer()))
        self.assertEqual(1, len(self.agent.calls))
        with open(self.log_file) as handle:
            self.assertIn('node2 was already fenced at 1000; not again',
                          handle.read())
        # A later failure is fenced again.
        self.now = 1500.0
        self.assertEqual(0, fence.main([], stdin=_Stdin(
            'node=2\nfail_time=1490\n'), fencer=self.fencer()))
        self.assertEqual(2, len(self.agent.calls))

    def test_drbd_after_dlm_within_the_same_failure(self):
        self.fencer().fence('node2', failed_at=990)
        self.now = 1020.0
        self.fencer().fence('node2')
        self.assertEqual(1, len(self.agent.calls))
        self.now = 1000.0 + fence.RECENT_SECONDS + 1
        self.fencer().fence('node2')
        self.assertEqual(2, len(self.agent.calls))

    def test_delay_node_waits_before_fencing(self):
        self.fencer(delay=15).fence('node2')
        self.assertEqual([15], self.slept)
        self.fencer().fence('node2', failed_at=2000)
        self.assertEqual([15], self.slept)

    def test_never_fences_itself_or_a_stranger(self):
        self.assertEqual(1, fence.main(['node', 'node1'],
                                       fencer=self.fencer()))
        self.assertEqual(1, fence.main(['node', 'node9'],
                                       fencer=self.fencer()))
        self.assertEqual(1, fence.main([], stdin=_Stdin('node=7\n'),
                                       fencer=self.fencer()))
        self.assertEqual([], self.agent.calls)

    def test_agent_timeout_is_a_failure(self):
        def hanging(argv, **kwargs):
            raise subprocess.TimeoutExpired(argv, kwargs['timeout'])
        error = self.assertRaises(fence.FenceError,
                                  self.fencer(agent=hanging).fence, 'node2')
        self.assertIn('did not fence node2 within 30 s', str(error))


class FenceConfigTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'drbd_clvm_driver.cmd.fence.LOG_FILE',
            self.useFixture(fixtures.TempDir()).path + '/fence.log'))

    def test_missing_agent(self):
        error = self.assertRaises(fence.FenceError, fence.FenceConfig,
                                  '[fence]\nlocal_node = node1\n')
        self.assertIn('agent', str(error))

    def test_local_node_must_be_listed(self):
        error = self.assertRaises(
            fence.FenceError, fence.FenceConfig,
            '[fence]\nlocal_node = x\nagent = /bin/true\n')
        self.assertIn('local_node x has no [node x] section', str(error))

    def test_arguments_must_be_pairs(self):
        error = self.assertRaises(
            fence.FenceError, fence.FenceConfig,
            (CONFIG % 0).replace('username=admin', 'username'))
        self.assertIn("'username' is not key=value", str(error))


class _Stdin:
    def __init__(self, text):
        self.text = text

    def read(self):
        return self.text
