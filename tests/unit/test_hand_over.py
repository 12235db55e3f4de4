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

"""bench/hand_over.py on a report fio printed in the gate's guest
(tests/unit/fixtures/recorded/fio), and its verdict.
"""

import json
import os

import testtools

from bench import hand_over

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'fixtures', 'recorded', 'fio',
                        '4k-randwrite-qd1.json')


class LongestWriteTest(testtools.TestCase):

    def test_recorded_report(self):
        with open(RECORDED) as handle:
            output = handle.read()
        longest = json.loads(output)['jobs'][0]['write']['lat_ns']['max']
        self.assertEqual(longest / 1e6, hand_over.longest_write_ms(output))
        self.assertGreater(hand_over.longest_write_ms(output), 1)

    def test_no_write_is_an_error(self):
        report = json.dumps({'jobs': [{'write': {'total_ios': 0}}]})
        self.assertRaises(ValueError, hand_over.longest_write_ms, report)

    def test_the_writer_is_direct_and_one_at_a_time(self):
        argv = hand_over.writer_argv('/dev/vgc/v', seconds=7)
        for option in ('--direct=1', '--iodepth=1', '--bs=4k',
                       '--rw=randwrite', '--runtime=7',
                       '--filename=/dev/vgc/v'):
            self.assertIn(option, argv)


class VerdictTest(testtools.TestCase):

    def _row(self, joins, leaves, baseline=900.0):
        return hand_over.row({'node2_joins': joins, 'node1_leaves': leaves,
                              'baseline': baseline},
                             {'node2_joins': 0.5, 'node1_leaves': 0.25})

    def test_the_longer_step_is_the_pause(self):
        row = self._row(120.04, 80.0)
        self.assertEqual(120.0, row['pause_ms'])
        self.assertTrue(row['met'])
        self.assertEqual([('node2_joins', 0.5), ('node1_leaves', 0.25),
                          ('baseline', None)],
                         [(step['step'], step['step_seconds'])
                          for step in row['steps']])

    def test_a_second_is_missed_whatever_the_baseline(self):
        self.assertFalse(self._row(10.0, 1000.0, baseline=2000.0)['met'])
