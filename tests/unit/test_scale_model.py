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

"""The scale model: exact MVA of one lock, fitted to measured rates."""

import testtools

from bench import scale_model


class ScaleModelTest(testtools.TestCase):

    def test_one_node_never_queues(self):
        self.assertAlmostEqual(1 / 1.5, scale_model.throughput(1, 0.5, 1.0))

    def test_the_lock_is_the_ceiling(self):
        self.assertAlmostEqual(2.0, scale_model.throughput(64, 0.5, 1.0),
                               places=3)
        # nothing outside the lock: more nodes only queue
        self.assertAlmostEqual(2.0, scale_model.throughput(3, 0.5, 0.0))

    def test_two_nodes_by_hand(self):
        # n=1: R=0.5, X=1/1.5, Q=1/3; n=2: R=0.5*(4/3), X=2/(2/3+1)
        self.assertAlmostEqual(1.2, scale_model.throughput(2, 0.5, 1.0))

    def test_fit_finds_the_times_behind_the_rates(self):
        measured = {nodes: scale_model.throughput(nodes, 0.4, 0.6)
                    for nodes in (1, 2, 3)}
        demand, think = scale_model.fit(measured)
        self.assertAlmostEqual(0.4, demand, places=2)
        self.assertAlmostEqual(0.6, think, places=2)

    def test_idle_io_is_multiplied_out_per_host(self):
        result = {'lock_manager': 'sanlock',
                  'creates_per_second': {'1': 1.0, '2': 1.0, '3': 1.0},
                  'idle_io_per_second': {
                      'per_node': [[1.0, 8.0], [1.0, 8.0], [1.0, 8.0]],
                      'columns': ['reads', 'KiB read']}}
        rows = {row['nodes']: row
                for row in scale_model.model(result)['rows']}
        self.assertEqual([16.0, 128.0], rows[16]['idle_io_all_hosts'])
        self.assertEqual(1.0, rows[3]['measured'])
        self.assertIsNone(rows[8]['measured'])
