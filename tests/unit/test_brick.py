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

"""The compute side's stand-in (tools/cluster/brick): the pattern written
and checked, in-process and through its server, and a server's failure
reported as the command's."""

import os
import threading
from unittest import mock

import fixtures
import testtools

from tests.unit import source_file


class BrickTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.brick = source_file.load('brick_tool', 'tools', 'cluster',
                                      'brick')
        directory = self.useFixture(fixtures.TempDir()).path
        self.device = os.path.join(directory, 'device')
        with open(self.device, 'wb') as handle:
            handle.truncate(2 * 1024 * 1024)
        self.socket = os.path.join(directory, 'brick.sock')
        self.patch(self.brick, 'SOCKET', self.socket)
        # os-brick itself is not needed for the pattern commands.
        self.patch(self.brick, '_os_brick', mock.Mock())

    def _serve(self):
        """A running server; the threads its commands ran in."""
        server = self.brick.make_server()
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        ran_in = []
        execute = self.brick.execute

        def recording(args):
            ran_in.append(threading.current_thread())
            return execute(args)

        self.patch(self.brick, 'execute', recording)
        return thread, ran_in

    def test_pattern_checked_in_process(self):
        self.brick.main(['brick', 'write', self.device, 'one'])
        self.brick.main(['brick', 'check', self.device, 'one'])
        error = self.assertRaises(SystemExit, self.brick.main,
                                  ['brick', 'check', self.device, 'two'])
        self.assertIn('does not hold pattern two', str(error))

    def test_server_runs_the_commands(self):
        server_thread, ran_in = self._serve()
        self.brick.main(['brick', 'write', self.device, 'one'])
        self.brick.main(['brick', 'check', self.device, 'one'])
        error = self.assertRaises(SystemExit, self.brick.main,
                                  ['brick', 'check', self.device, 'two'])
        self.assertIn('does not hold pattern two', str(error))
        self.assertEqual([server_thread] * 3, ran_in)

    def test_server_reports_an_unexpected_failure(self):
        self._serve()
        error = self.assertRaises(SystemExit, self.brick.main,
                                  ['brick', 'check', '/nonexistent', 'one'])
        self.assertIn('FileNotFoundError', str(error))

    def test_unknown_command_prints_the_usage(self):
        error = self.assertRaises(SystemExit, self.brick.main,
                                  ['brick', 'frobnicate'])
        self.assertIn('brick serve', str(error))
