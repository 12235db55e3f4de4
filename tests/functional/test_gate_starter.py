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

"""The real-Cinder gate's starter of cinder-volume
(tools/cluster/cinder-volume), against the Cinder release it starts.
"""

import os
from unittest import mock

from cinder import service as cinder_service
from oslo_service import service
import testtools

from tests.unit import source_file


class GateStarterTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(setattr, service, 'ProcessLauncher',
                        service.ProcessLauncher)
        # the launcher would take this process's SIGTERM, SIGHUP, SIGINT
        mock.patch.object(
            service.ProcessLauncher, 'handle_signal').start()
        self.addCleanup(mock.patch.stopall)
        self.starter = source_file.load('cinder_volume_starter', 'tools',
                                        'cluster', 'cinder-volume')

    def _launcher(self):
        launcher = cinder_service.process_launcher()
        self.addCleanup(os.close, launcher.writepipe)
        self.addCleanup(launcher.readpipe.close)
        return launcher

    def test_cinders_launcher_checks_its_backend_once_a_second(self):
        self.assertEqual(1.0, self.starter.CHILD_CHECK_INTERVAL)
        self.assertEqual(self.starter.CHILD_CHECK_INTERVAL,
                         self._launcher().wait_interval)

    def test_the_launcher_keeps_cinders_restart_method(self):
        self.assertEqual('mutate', self._launcher().restart_method)

    def test_the_service_is_cinders_own(self):
        from cinder.cmd import volume
        self.assertIs(volume.main, self.starter.volume.main)
