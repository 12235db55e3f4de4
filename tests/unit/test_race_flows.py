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

"""What the Cinder gate's races accept as what users expect."""

import types

import testtools

from tests.cluster import race_flows

REFUSED = 'refused by the API: 400 Invalid volume'


class AcceptedOutcomesTest(testtools.TestCase):

    def test_a_copy_and_its_source_s_delete(self):
        for delete in (race_flows.DELETED, REFUSED, 'error_deleting',
                       'available'):
            self.assertTrue(race_flows.copy_race_as_expected(
                ('available', delete)), delete)
        self.assertFalse(race_flows.copy_race_as_expected(
            ('error', race_flows.DELETED)))

    def test_an_extend_during_an_attach(self):
        for extend in (REFUSED, 'in-use at 2 GiB'):
            self.assertTrue(race_flows.extend_race_as_expected(
                ('attached', extend)), extend)
        self.assertFalse(race_flows.extend_race_as_expected(
            ('attached', 'error_extending at 1 GiB')))
        self.assertFalse(race_flows.extend_race_as_expected(
            ('in-use at 1 GiB', REFUSED)))

    def test_two_attachments_at_once(self):
        self.assertTrue(race_flows.attach_race_as_expected(
            (REFUSED, 'attached')))
        self.assertFalse(race_flows.attach_race_as_expected(
            ('attached', 'attached')))
        self.assertFalse(race_flows.attach_race_as_expected(
            (REFUSED, REFUSED)))

    def test_a_copy_across_a_bus_restart(self):
        for copy in ('available', 'error'):
            self.assertTrue(race_flows.bus_restart_as_expected(
                (copy, 'restarted in 9 s')), copy)
        self.assertFalse(race_flows.bus_restart_as_expected(
            ('creating', 'restarted in 9 s')))


class ExpectTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.said = []
        self.flows = types.SimpleNamespace(
            rows=[{'flow': 'earlier', 'status': 'ok'},
                  {'flow': 'copy', 'status': 'ok'},
                  {'flow': 'delete', 'status': 'ok'}],
            log=self.said.append)

    def test_outcomes_kept_in_their_rows(self):
        race_flows._expect(self.flows, 'race', ['available', 'deleted'],
                           race_flows.copy_race_as_expected)
        self.assertEqual([('ok', None), ('ok', 'available'),
                          ('ok', 'deleted')],
                         [(row['status'], row.get('outcome'))
                          for row in self.flows.rows])
        self.assertEqual(['race: copy: available; delete: deleted'],
                         self.said)

    def test_unexpected_outcome_fails_every_row_of_the_race(self):
        race_flows._expect(self.flows, 'race', ['error', 'deleted'],
                           race_flows.copy_race_as_expected)
        self.assertEqual(
            ['ok'] + ['failed: not what users expect (copy: error; '
                      'delete: deleted)'] * 2,
            [row['status'] for row in self.flows.rows])

    def test_a_step_that_raised_fails_the_race(self):
        self.flows.rows[2]['status'] = 'failed: FlowError: boom'
        race_flows._expect(self.flows, 'race', ['available', None],
                           race_flows.copy_race_as_expected)
        self.assertEqual(['failed: not what users expect (copy: available; '
                          'delete: -)', 'failed: FlowError: boom'],
                         [row['status'] for row in self.flows.rows[1:]])
