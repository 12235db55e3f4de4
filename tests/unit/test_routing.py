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

"""Running each operation and step on the node that can do it, and the
peer calls that carry them."""

import logging
import threading
import types
from unittest import mock

import fixtures
import oslo_messaging
import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import nodes
from drbd_clvm_driver import peer
from drbd_clvm_driver import routing


class FakeOps:
    """Records calls; raises what a test sets for a method."""

    def __init__(self, node):
        self.node = node
        self.calls = []
        self.errors = {}

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append((name, kwargs or args))
            if name in self.errors:
                raise self.errors[name]
            return '%s did %s' % (self.node, name)
        return method


class AnyNodeTest(testtools.TestCase):

    NODES = ('node1', 'node2')

    def setUp(self):
        super().setUp()
        self.endpoints = {}
        self.ops = {}
        self.any = {}
        for node in self.NODES:
            self.ops[node] = FakeOps(node)
            self.any[node] = routing.AnyNode(
                nodes.NodeNames(node, self.NODES), self.ops[node],
                peer.InProcessPeers(self.endpoints))
            self.endpoints[node] = peer.Endpoint(
                node, self.any[node].handlers())

    def test_runs_here_when_it_can(self):
        self.assertEqual('node1 did extend_volume', self.any['node1'].run(
            'extend_volume', name='v', current_mib=4, new_mib=8))
        self.assertEqual([], self.ops['node2'].calls)

    def test_runs_where_the_volume_is_held(self):
        self.ops['node1'].errors['create_snapshot'] = \
            exception.LockedByOtherNode('LV locked by other host')
        self.assertEqual('node2 did create_snapshot', self.any['node1'].run(
            'create_snapshot', snapshot_name='s', volume_name='v',
            snapshot_id='i'))
        self.assertEqual([('create_snapshot', {
            'snapshot_name': 's', 'volume_name': 'v', 'snapshot_id': 'i'})],
            self.ops['node2'].calls)

    def test_refused_everywhere_is_busy(self):
        for node in self.NODES:
            self.ops[node].errors['clone_volume'] = \
                exception.SharedLockConflict('incompatible mode')
        error = self.assertRaises(exception.VolumeBusy, self.any['node2'].run,
                                  'clone_volume', name='c')
        self.assertIn('more than one node', str(error))

    def test_other_errors_are_not_forwarded(self):
        self.ops['node1'].errors['delete_volume'] = \
            exception.ClusterUnsafe(['DRBD r0 is StandAlone'])
        self.assertRaises(exception.ClusterUnsafe, self.any['node1'].run,
                          'delete_volume', name='v')
        self.assertEqual([], self.ops['node2'].calls)

    def test_peer_refusal_keeps_its_class(self):
        self.ops['node1'].errors['delete_volume'] = \
            exception.LockedByOtherNode('held')
        self.ops['node2'].errors['delete_volume'] = \
            exception.ClusterUnsafe(['quorum lost'])
        error = self.assertRaises(exception.ClusterUnsafe,
                                  self.any['node1'].run, 'delete_volume',
                                  name='v')
        self.assertIn('quorum lost', str(error))
        self.assertIn('(on node2)', str(error))

    def test_only_named_operations_run_for_a_peer(self):
        error = self.assertRaises(
            exception.InvalidInput, self.any['node1'].peers.call, 'node2',
            'run', operation='unmanage', kwargs={})
        self.assertIn('cannot be run for a peer', str(error))
        self.assertRaises(exception.InvalidInput,
                          self.any['node1'].peers.call, 'node2', 'rm')

    def test_steps_run_on_their_node(self):
        self.any['node1'].on('node2', 'use', name='v')
        self.any['node1'].on('node1', 'release', name='v')
        self.assertEqual([('use', {'name': 'v'})], self.ops['node2'].calls)
        self.assertEqual([('release', {'name': 'v'})],
                         self.ops['node1'].calls)

    def test_extend_refreshes_every_node_when_shared(self):
        self.ops['node1'].extend_volume = lambda **kwargs: True
        self.any['node1'].extend_volume('v', 4, 8)
        self.assertEqual([('refresh', {'name': 'v'})],
                         self.ops['node2'].calls)

    def test_peer_down_is_unavailable(self):
        del self.endpoints['node2']
        error = self.assertRaises(exception.PeerUnavailable,
                                  self.any['node1'].on, 'node2', 'release',
                                  name='v')
        self.assertIn('release on node2: the volume service on node2 did '
                      'not answer within 15 s, and node2 has not left the '
                      'cluster', str(error))

    def test_answers_says_which_peers_are_there(self):
        self.assertTrue(self.any['node1'].answers('node2'))
        del self.endpoints['node2']
        self.assertFalse(self.any['node1'].answers('node2'))
        self.assertTrue(self.any['node1'].answers('node1'))

    def test_probe_has_its_own_timeout(self):
        peers = mock.Mock()
        any_node = routing.AnyNode(nodes.NodeNames('node1', ['node2']),
                                   self.ops['node1'], peers, step_timeout=90,
                                   probe_timeout=4)
        any_node.answers('node2')
        peers.call.assert_called_once_with('node2', 'answering', timeout=4)

    def test_unexpected_peer_failure_is_reported(self):
        self.ops['node2'].errors['use'] = RuntimeError('boom')
        error = self.assertRaises(exception.DrbdClvmError,
                                  self.any['node1'].on, 'node2', 'use',
                                  name='v')
        self.assertIn('RuntimeError: boom', str(error))


class ThreeNodesTest(AnyNodeTest):
    """The same, plus what a third node changes: one node down must not
    stop the others, and a refresh goes to every node that answers.
    """

    NODES = ('node1', 'node2', 'node3')

    def test_a_silent_node_is_passed_over(self):
        del self.endpoints['node2']
        self.ops['node1'].errors['delete_volume'] = \
            exception.LockedByOtherNode('held')
        self.assertEqual('node3 did delete_volume', self.any['node1'].run(
            'delete_volume', name='v'))

    def test_refused_where_it_answered_and_one_silent_is_unavailable(self):
        # The silent node may be the holder: not "busy", but "retry".
        del self.endpoints['node2']
        for node in ('node1', 'node3'):
            self.ops[node].errors['create_snapshot'] = \
                exception.LockedByOtherNode('LV locked by other host')
        error = self.assertRaises(
            exception.PeerUnavailable, self.any['node1'].run,
            'create_snapshot', snapshot_name='s', volume_name='v',
            snapshot_id='i')
        self.assertIn('on node2 did not answer', str(error))
        self.assertEqual([], self.ops['node2'].calls)

    def test_extend_refreshes_the_nodes_that_answer(self):
        del self.endpoints['node2']
        self.ops['node3'].extend_volume = lambda **kwargs: True
        with self.assertLogs(routing.LOG.logger, 'WARNING') as logs:
            self.any['node3'].extend_volume('v', 4, 8)
        self.assertEqual([('refresh', {'name': 'v'})],
                         self.ops['node1'].calls)
        self.assertEqual([], self.ops['node2'].calls)
        self.assertIn('the volume service on node2 did not answer',
                      logs.output[-1])

    def test_extend_not_shared_refreshes_nowhere(self):
        self.ops['node1'].extend_volume = lambda **kwargs: False
        self.any['node1'].extend_volume('v', 4, 8)
        self.assertEqual([], self.ops['node2'].calls + self.ops['node3'].calls)


class DepartedNodeTest(testtools.TestCase):
    """A fenced node holds nothing: nothing waits on it, and a step that
    needs it fails at once.
    """

    def setUp(self):
        super().setUp()
        self.peers = mock.Mock()
        self.peers.call.side_effect = AssertionError('asked a fenced node')
        self.departed = frozenset(['node2'])
        self.any_node = routing.AnyNode(
            nodes.NodeNames('node1', ['node2', 'node3']), FakeOps('node1'),
            self.peers, departed=lambda: self.departed)

    def test_not_probed(self):
        with self.assertLogs(routing.LOG.logger, 'WARNING') as logs:
            self.assertFalse(self.any_node.answers('node2'))
        self.assertIn('node2: it has left the cluster (fenced)',
                      logs.output[0])

    def test_what_it_held_is_not_asked_back(self):
        for step in sorted(routing.ENDED_BY_A_FENCE):
            self.assertIsNone(self.any_node.on('node2', step, name='v'))
        self.peers.call.assert_not_called()

    def test_a_step_that_needs_it_fails_at_once(self):
        error = self.assertRaises(exception.PeerUnavailable,
                                  self.any_node.on, 'node2', 'use', name='v')
        self.assertIn('node2: that node has left the cluster', str(error))
        self.peers.call.assert_not_called()

    def test_the_others_are_still_asked(self):
        self.peers.call.side_effect = None
        self.peers.call.return_value = 'node3 released'
        self.assertEqual('node3 released',
                         self.any_node.on('node3', 'release', name='v'))

    def test_holder_search_passes_over_it(self):
        self.peers.call.side_effect = [None, 'node3 did it']
        self.assertEqual('node3 did it', self.any_node.on_holder(
            'export', 60, 'export of volume 1', 'held', 'busy', kind='volume',
            resource_id='1'))
        asked = self.peers.call.call_args_list
        self.assertEqual([('node3', 'answering'), ('node3', 'export')],
                         [call.args for call in asked])

    def test_unknown_membership_asks_as_before(self):
        def unreadable():
            raise exception.CommandTimeout(['corosync-quorumtool', '-l'], 10)

        self.any_node.departed = unreadable
        self.peers.call.side_effect = None
        self.assertTrue(self.any_node.answers('node2'))


class DeadBeforeItHasLeftTest(testtools.TestCase):
    """node2 died and the cluster has not yet seen it go (sanlock sees a
    lease fail 80 s after its last renewal): its RPC server answers
    nothing, and a step that would be skipped once it has left fails
    within the probe timeout, not the step's.
    """

    def setUp(self):
        super().setUp()
        self.waited = []
        self.useFixture(fixtures.MockPatchObject(
            peer.time, 'sleep', self.waited.append))
        self.endpoints = {}
        self.any = {}
        for node in ('node1', 'node2'):
            self.any[node] = routing.AnyNode(
                nodes.NodeNames(node, ['node1', 'node2']), FakeOps(node),
                peer.InProcessPeers(self.endpoints, down_times_out=True),
                step_timeout=180, probe_timeout=15)
            self.endpoints[node] = peer.Endpoint(
                node, self.any[node].handlers())

    def test_release_fails_within_the_probe_timeout(self):
        del self.endpoints['node2']
        error = self.assertRaises(exception.PeerUnavailable,
                                  self.any['node1'].on, 'node2', 'release',
                                  name='v')
        self.assertEqual([15], self.waited)
        self.assertIn('node2 has not left the cluster as far as this node '
                      'can tell yet', str(error))

    def test_a_step_that_needs_it_waits_the_step_timeout(self):
        del self.endpoints['node2']
        self.assertRaises(exception.PeerUnavailable, self.any['node1'].on,
                          'node2', 'use', name='v')
        self.assertEqual([180], self.waited)

    def test_a_live_node_does_it(self):
        self.assertEqual('node2 did release', self.any['node1'].on(
            'node2', 'release', name='v'))
        self.assertEqual([('release', {'name': 'v'})],
                         self.any['node2'].ops.calls)
        self.assertEqual([], self.waited)


class MessagingPeersTest(testtools.TestCase):

    def _peers(self, **call):
        client = mock.Mock()
        client.prepare.return_value.call = mock.Mock(**call)
        return peer.MessagingPeers(client, dict, timeout=7), client

    def test_call_addresses_the_node(self):
        peers, client = self._peers(return_value={'result': 3})
        self.assertEqual(3, peers.call('node2', 'use', name='v'))
        client.prepare.assert_called_once_with(server='node2', timeout=7,
                                               version=peer.VERSION)
        client.prepare.return_value.call.assert_called_once_with(
            {}, 'peer_call', step='use', arguments={'name': 'v'})

    def test_a_node_spelled_as_an_fqdn_is_called_at_its_address(self):
        peers, client = self._peers(return_value={'result': None})
        peers.call('node2.example.com', 'use', name='v')
        client.prepare.assert_called_once_with(server='node2', timeout=7,
                                               version=peer.VERSION)

    def test_an_answered_call_is_logged_with_its_seconds(self):
        logged = self.useFixture(fixtures.FakeLogger(
            name='drbd_clvm_driver.peer', level=logging.INFO))
        peers, _ = self._peers(return_value={'result': None})
        peers.call('node2', 'use', name='v')
        self.assertRegex(logged.output,
                         r'^Peer call use to node2 answered in \d+\.\d\d s$')

    def test_an_unanswered_call_is_not_logged_as_answered(self):
        logged = self.useFixture(fixtures.FakeLogger(
            name='drbd_clvm_driver.peer', level=logging.INFO))
        peers, _ = self._peers(side_effect=oslo_messaging.MessagingTimeout)
        self.assertRaises(exception.PeerUnavailable, peers.call, 'node2',
                          'use', name='v')
        self.assertNotIn('answered', logged.output)

    def test_timeout_is_peer_unavailable(self):
        peers, _ = self._peers(side_effect=oslo_messaging.MessagingTimeout)
        error = self.assertRaises(exception.PeerUnavailable, peers.call,
                                  'node2', 'use', timeout=3, name='v')
        self.assertIn('node2 did not answer use within 3 s', str(error))

    def test_endpoint_answers(self):
        logged = self.useFixture(fixtures.FakeLogger(
            name='drbd_clvm_driver.peer', level=logging.INFO))
        endpoint = peer.MessagingEndpoint(peer.Endpoint(
            'node1', {'use': lambda name: name.upper()}))
        self.assertEqual({'result': 'V'},
                         endpoint.peer_call({}, 'use', {'name': 'v'}))
        self.assertRegex(logged.output,
                         r"^Answering peer call use\({'name': 'v'}\) on "
                         r"node1\nAnswered peer call use on node1 in "
                         r"\d+\.\d\d s\n$")

    def test_endpoint_knows_its_calls_by_their_request_id(self):
        states = []
        endpoint = peer.Endpoint('node1', {
            'use': lambda name: states.append(inner.call_state('req-1'))})
        inner = endpoint
        messaging = peer.MessagingEndpoint(endpoint)
        self.assertEqual(peer.UNKNOWN, endpoint.call_state('req-1'))
        messaging.peer_call({'request_id': 'req-1'}, 'use', {'name': 'v'})
        self.assertEqual([peer.RUNNING], states)
        self.assertEqual({'result': peer.FINISHED}, messaging.peer_call(
            {'request_id': 'req-2'}, peer.CALL_STATE,
            {'call_id': 'req-1'}))
        self.assertEqual(peer.UNKNOWN, endpoint.call_state('req-2'))

    def test_an_unknown_call_given_up_is_refused_if_it_arrives(self):
        handler = mock.Mock()
        endpoint = peer.Endpoint('node1', {'use': handler})
        self.assertEqual(peer.GIVEN_UP,
                         endpoint.call_state('req-1', give_up=True))
        answer = endpoint.dispatch('use', {'name': 'v'}, call_id='req-1')
        self.assertEqual('PeerUnavailable', answer['error'])
        handler.assert_not_called()

    def test_a_call_that_ran_is_not_given_up(self):
        endpoint = peer.Endpoint('node1', {'use': lambda name: name})
        endpoint.dispatch('use', {'name': 'v'}, call_id='req-1')
        self.assertEqual(peer.FINISHED,
                         endpoint.call_state('req-1', give_up=True))
        self.assertEqual({'result': 'v'}, endpoint.dispatch(
            'use', {'name': 'v'}, call_id='req-1'))

    def test_a_failed_call_is_finished_too(self):
        endpoint = peer.Endpoint('node1', {'use': mock.Mock(
            side_effect=exception.VolumeBusy('busy'))})
        answer = endpoint.dispatch('use', {}, call_id='req-1')
        self.assertEqual('VolumeBusy', answer['error'])
        self.assertEqual(peer.FINISHED, endpoint.call_state('req-1'))


#: what an endpoint of an older version answers to a call-state check
OLDER_PEER = 'older peer'


class FakeBus:
    """An RPC client whose watched call waits until the scripted answers
    to its checks (``states``: a state, None for no answer, or
    :data:`OLDER_PEER`) are used up, then answers.
    """

    def __init__(self, states):
        self.states = list(states)
        self.checked = []
        self.answered = threading.Event()

    def prepare(self, server, timeout, version):
        return types.SimpleNamespace(
            call=lambda context, name, step, arguments: self._call(
                timeout, step, arguments))

    def _call(self, timeout, step, arguments):
        if step != peer.CALL_STATE:
            if not self.answered.wait(timeout):
                raise oslo_messaging.MessagingTimeout()
            return {'result': 'done'}
        self.checked.append((arguments['call_id'], arguments['give_up']))
        state = self.states.pop(0) if self.states else peer.RUNNING
        if not self.states:
            self.answered.set()
        if state is None:
            raise oslo_messaging.MessagingTimeout()
        if state == OLDER_PEER:
            return {'error': 'InvalidInput',
                    'message': 'unknown peer call %r' % step}
        if state == peer.UNKNOWN and arguments['give_up']:
            state = peer.GIVEN_UP
        return {'result': state}


class WatchedCallTest(testtools.TestCase):
    """A long call whose peer may lose it."""

    def _call(self, states, timeout=60, departed=lambda node: False):
        bus = FakeBus(states)
        # a lost call's thread ends with the test
        self.addCleanup(bus.answered.set)
        ids = iter(range(1000))
        peers = peer.MessagingPeers(
            bus, lambda: {'request_id': 'req-%d' % next(ids)}, timeout=60,
            probe_timeout=1, watch_interval=0.01, departed=departed)
        return bus, peers, lambda: peers.call('node2', 'run', timeout=timeout,
                                              operation='clone_volume')

    def test_a_call_its_peer_does_not_know_twice_is_given_up(self):
        bus, _, call = self._call([peer.RUNNING, peer.UNKNOWN, peer.UNKNOWN,
                                   peer.RUNNING])
        error = self.assertRaises(exception.PeerUnavailable, call)
        self.assertIn('The volume service on node2 lost run after', str(error))
        self.assertIn('it does not know the call', str(error))
        self.assertIn('will not run now', str(error))
        # the checks name the call by its own request id; the second in a
        # row that does not know it gives it up
        self.assertEqual([('req-0', False), ('req-0', False),
                          ('req-0', True)], bus.checked)

    def test_a_silent_peer_is_waited_for(self):
        # its call may still be queued for it
        bus, _, call = self._call([None] * 5)
        self.assertEqual('done', call())
        self.assertEqual(5, len(bus.checked))

    def test_a_silent_peer_that_left_the_cluster_is_given_up(self):
        gone = []
        bus, _, call = self._call([peer.RUNNING, None, None, None],
                                  departed=lambda node: node in gone)
        gone.append('node2')  # fenced while its call ran
        error = self.assertRaises(exception.PeerUnavailable, call)
        self.assertIn('node2 left the cluster (fenced) during run',
                      str(error))
        self.assertIn('can be retried now', str(error))
        # the first check that found it silent, not the call's bound
        self.assertEqual(2, len(bus.checked))

    def test_one_that_left_but_answers_is_waited_for(self):
        # an answering node is not gone, whatever the cluster read said
        bus, _, call = self._call([peer.RUNNING] * 3,
                                  departed=lambda node: True)
        self.assertEqual('done', call())

    def test_departure_that_cannot_be_read_waits(self):
        def unreadable(node):
            raise exception.ClusterUnsafe(['corosync does not answer'])

        bus, _, call = self._call([None] * 3, departed=unreadable)
        self.assertEqual('done', call())
        self.assertEqual(3, len(bus.checked))

    def test_a_call_answered_after_checks_that_are_not_all_bad_returns(self):
        bus, _, call = self._call([peer.UNKNOWN, peer.RUNNING, None, None,
                                   peer.FINISHED, peer.UNKNOWN])
        self.assertEqual('done', call())
        self.assertEqual(6, len(bus.checked))

    def test_an_older_peer_that_cannot_say_is_waited_for(self):
        bus, _, call = self._call([OLDER_PEER] * 4)
        self.assertEqual('done', call())
        self.assertEqual(4, len(bus.checked))

    def test_a_short_call_is_not_watched(self):
        bus, _, call = self._call([peer.UNKNOWN] * 3, timeout=0.015)
        bus.answered.set()
        self.assertEqual('done', call())
        self.assertEqual([], bus.checked)
