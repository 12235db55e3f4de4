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

"""How the gate's Cinder mode reads what an operator reads (``cinder-manage
cluster list``, recorded from the real control plane) and keeps its rows.
"""

import threading
import types

import fixtures
import testtools

from tests.cluster import api_flows
from tests.unit import recorded


class ClusterListTest(testtools.TestCase):

    def _clusters(self, filename):
        return api_flows.parse_cluster_list(
            recorded.load('gate-cinder/' + filename).output)

    def test_both_services_up(self):
        self.assertEqual(
            {('drbdgate@drbd', 'cinder-volume'): (':-)', 2, 0)},
            self._clusters('cinder_manage_cluster_list-both-up.txt'))

    def test_a_cluster_with_no_heartbeat_yet(self):
        # Cinder prints empty dates until a service reports
        output = ('Name Binary Status State Heartbeat Hosts Down Hosts '
                  'Updated At\n'
                  'c1@b cinder-volume enabled XXX  1 1 \n')
        self.assertEqual({('c1@b', 'cinder-volume'): ('XXX', 1, 1)},
                         api_flows.parse_cluster_list(output))

    def test_header_only_is_no_cluster(self):
        self.assertEqual({}, api_flows.parse_cluster_list(
            'Name Binary Status State Heartbeat Hosts Down Hosts\n'))


class AtOnceTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(api_flows, 'client'))
        cluster = types.SimpleNamespace(nodes=(), hosts=())
        controller = types.SimpleNamespace(api_url='http://api')
        self.flows = api_flows.Flows(cluster, controller, log=lambda _: None)

    def _served_by(self, *nodes):
        self.useFixture(fixtures.MockPatchObject(
            self.flows, 'served_by', return_value=list(nodes)))

    def test_a_step_may_be_served_by_any_node_named(self):
        self._served_by('node3')
        self.flows.step('create', lambda cinder: None,
                        serving=['node2', 'node3'])
        self.assertEqual('ok', self.flows.rows[-1]['status'])

    def test_a_step_served_elsewhere_fails(self):
        # node1's service was stopped: it must not have served anything.
        self._served_by('node1', 'node2')
        self.flows.step('create', lambda cinder: None,
                        serving=['node2', 'node3'])
        self.assertEqual('failed: served by node1,node2, not node2 or node3',
                         self.flows.rows[-1]['status'])

    def test_steps_run_together_rows_keep_the_listed_order(self):
        # The first step finishes only once the second has started: run
        # one after the other, it would wait out its bound and fail.
        second_started = threading.Event()

        def first(cinder):
            if not second_started.wait(5):
                raise api_flows.FlowError('ran alone')
            return 'made first'

        def second(cinder, value, extra=None):
            second_started.set()
            return value + extra

        results = self.flows.at_once(('first', first, (), {}),
                                     ('second', second, ('made ',),
                                      {'extra': 'second'}))
        self.assertEqual(['made first', 'made second'], results)
        self.assertEqual([('first', 'ok'), ('second', 'ok')],
                         [(row['flow'], row['status'])
                          for row in self.flows.rows])
