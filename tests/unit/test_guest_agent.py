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

"""The gate's guest agent: every request is answered within its bound."""

import io
import json
import subprocess
import time

import testtools

from tests.unit import source_file

agent = source_file.load('guest_agent', 'tools', 'cluster', 'agent.py')


class GuestAgentRunTest(testtools.TestCase):

    def test_answers_a_command_and_its_exit(self):
        answer = agent.run({'argv': ['sh', '-c', 'echo out; echo err >&2; '
                                     'exit 3'], 'timeout': 10})
        self.assertEqual({'exit_code': 3, 'stdout': 'out\n',
                          'stderr': 'err\n'}, answer)

    def test_a_command_that_cannot_be_ended_is_answered_anyway(self):
        # Like a process in uninterruptible sleep on frozen DRBD I/O, the
        # output outlives the kill: a process of another session holds it.
        self.addCleanup(subprocess.run, ['pkill', '-f', '^sleep 61.5$'])
        started = time.monotonic()
        answer = agent.run({'argv': ['sh', '-c', 'setsid sleep 61.5 & '
                                     'sleep 61.5'], 'timeout': 1})
        self.assertIsNone(answer['exit_code'])
        self.assertLess(time.monotonic() - started, 1 + agent.KILL_WAIT + 5)

    def test_a_missing_program_is_an_answer(self):
        answer = agent.run({'argv': ['/nonexistent/program'], 'timeout': 5})
        self.assertEqual(127, answer['exit_code'])


class GuestAgentServeTest(testtools.TestCase):

    def test_tells_whether_a_connection_brought_requests(self):
        reader = io.BytesIO(b'\n{"id": 7, "argv": ["true"], "timeout": 5}\n')
        writer = io.BytesIO()
        self.assertTrue(agent.serve(reader, writer))
        self.assertEqual(7, json.loads(writer.getvalue())['id'])
        self.assertFalse(agent.serve(io.BytesIO(b'\n'), io.BytesIO()))

    def test_an_unconnected_port_is_looked_at_less_and_less_often(self):
        first, longest = agent.LOOK_AGAIN
        pauses = [first]
        for _ in range(6):
            pauses.append(agent.next_look(pauses[-1], served=False))
        self.assertEqual(sorted(pauses), pauses)
        self.assertLess(first, pauses[2])
        self.assertEqual(longest, pauses[-1])
        self.assertEqual(first, agent.next_look(longest, served=True))
