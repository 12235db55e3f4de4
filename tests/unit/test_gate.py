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

"""The gate's agent client: a guest that goes away mid-answer is a
GuestError the gate's waits handle, whatever the socket says.
"""

import io

import fixtures
import testtools

from drbd_clvm_driver import exception
from tests.cluster import gate


class GateMainTest(testtools.TestCase):
    """What the gate prints and returns when its run ends in an error."""

    def setUp(self):
        super().setUp()
        # The gate's own deadline and SIGTERM handler stay off the test
        # process.
        self.useFixture(fixtures.MockPatch('tests.cluster.gate.signal.signal'))
        self.useFixture(fixtures.MockPatch('tests.cluster.gate.signal.alarm'))
        self.out = self.useFixture(fixtures.MockPatch(
            'sys.stdout', new_callable=io.StringIO)).mock
        self.err = self.useFixture(fixtures.MockPatch(
            'sys.stderr', new_callable=io.StringIO)).mock

    def _main_ending_in(self, error):
        self.useFixture(fixtures.MockPatch(
            'tests.cluster.gate.run_cluster', side_effect=error))
        return gate.main(['--logs', self.useFixture(
            fixtures.TempDir()).path])

    def test_a_gate_failure_is_its_failure_line(self):
        self.assertEqual(1, self._main_ending_in(
            gate.guests.GuestError('cluster did not heal within 600 s')))
        self.assertRegex(self.out.getvalue(),
                         r'\[gate\] FAILED: cluster did not heal within '
                         r'600 s \(\d+ s\)\n$')

    def test_any_other_error_is_a_failure_line_after_its_traceback(self):
        self.assertEqual(1, self._main_ending_in(
            exception.DrbdClvmError('Logical volume in use')))
        self.assertIn('Traceback (most recent call last)',
                      self.err.getvalue())
        self.assertRegex(self.out.getvalue(),
                         r'\[gate\] FAILED: DrbdClvmError: Logical volume '
                         r'in use \(\d+ s\)\n$')


class RunFaultsTest(testtools.TestCase):

    def test_a_missed_case_names_its_criteria_and_its_clean_up_failure(self):
        results = [{'case': 'link-cut', 'met': True, 'missed': []},
                   {'case': 'lvmlockd-killed', 'met': False,
                    'missed': ['cleared after'],
                    'clean_up_failure': 'CommandFailed: lvchange -an '
                                        'vgc/x failed'}]
        for name, value in (('run', results), ('format_table', ''),
                            ('write_results', None)):
            self.useFixture(fixtures.MockPatch(
                'tests.cluster.faults.' + name, return_value=value))
        self.useFixture(fixtures.MockPatch(
            'sys.stdout', new_callable=io.StringIO))
        error = self.assertRaises(gate.guests.GuestError, gate.run_faults,
                                  None, None, None)
        self.assertEqual(
            'fault cases missed their targets: lvmlockd-killed (missed: '
            'cleared after; clean-up: CommandFailed: lvchange -an vgc/x '
            'failed)', str(error))
