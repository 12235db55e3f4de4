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
from unittest import mock

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

    def _served_by(self, *nodes, silent=0):
        """``nodes`` logged the request, each ``silent`` times that a peer
        did not answer.
        """
        self.useFixture(fixtures.MockPatchObject(
            self.flows, 'logged',
            return_value={node: silent for node in nodes}))

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

    def test_a_peer_silent_while_every_service_runs_fails(self):
        self._served_by('node1', silent=1)
        self.flows.step('delete', lambda cinder: None)
        self.assertEqual('failed: a peer did not answer node1, all services '
                         'running', self.flows.rows[-1]['status'])

    def test_a_peer_silent_while_a_service_is_stopped_is_expected(self):
        self._served_by('node1', silent=1)
        self.flows.stopped.add('node2')
        self.flows.step('delete', lambda cinder: None)
        self.assertEqual('ok', self.flows.rows[-1]['status'])

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


class LoggedTest(testtools.TestCase):
    """What each node's service log says of a request."""

    def _node(self, name, counts, exit_code=0):
        run = mock.Mock(return_value=types.SimpleNamespace(
            stdout=counts, exit_code=exit_code))
        return types.SimpleNamespace(name=name, run=run)

    def test_nodes_that_logged_the_request_with_their_silent_peers(self):
        # node3 is dead, node4 has no log yet
        nodes = (self._node('node1', '7 2\n'), self._node('node2', '0 0\n'),
                 self._node('node3', '1 0\n'), self._node('node4', '', 2))
        flows = api_flows.Flows(
            types.SimpleNamespace(nodes=nodes, hosts=nodes),
            types.SimpleNamespace(api_url='http://api'))
        flows.dead.add('node3')
        self.assertEqual({'node1': 2}, flows.logged('req-1'))
        self.assertIn('id=req-1', nodes[0].run.call_args.args)
        nodes[2].run.assert_not_called()


class VolumeHostTest(testtools.TestCase):

    def _cluster(self, lock_manager):
        return types.SimpleNamespace(
            nodes=[types.SimpleNamespace(name=name)
                   for name in ('node1', 'node2', 'node3')],
            lock_manager=lock_manager)

    def test_the_first_node_runs_as_its_fqdn_beside_corosync(self):
        cluster = self._cluster('lvmlockd')
        self.assertEqual(['node1.gate.test@drbd', 'node2@drbd', 'node3@drbd'],
                         [api_flows.service_host(cluster, node.name)
                          for node in cluster.nodes])

    def test_without_corosync_every_node_runs_as_its_name(self):
        # sanlock's nodes cannot learn their peers: they are configured
        cluster = self._cluster('sanlock')
        self.assertEqual(['node1', 'node2', 'node3'],
                         [api_flows.volume_host(cluster, node.name)
                          for node in cluster.nodes])
