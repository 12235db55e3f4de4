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

import datetime
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


class HeartbeatAgeTest(testtools.TestCase):

    NOW = datetime.datetime(2026, 12, 7, 17, 42, 30)

    def _age(self, updated_at):
        return api_flows.heartbeat_age(
            types.SimpleNamespace(updated_at=updated_at), self.NOW)

    def test_age_from_cinders_updated_at(self):
        self.assertEqual('25 s ago', self._age('2026-12-07T17:42:05.000000'))

    def test_a_clock_ahead_of_the_host_reads_negative(self):
        self.assertEqual('-10 s ago', self._age('2026-12-07T17:42:40'))

    def test_a_service_that_never_reported(self):
        self.assertEqual('never', self._age(None))


class OperatorViewTest(testtools.TestCase):
    """Both views read again while they differ, for a bounded time."""

    def setUp(self):
        super().setUp()
        self.flows = mock.Mock(spec=api_flows.Flows)
        self.flows.log = mock.Mock()
        self.useFixture(fixtures.MockPatch('time.sleep'))
        self.clock = self.useFixture(fixtures.MockPatch(
            'time.monotonic', side_effect=[0, 10, 20])).mock

    def test_a_view_that_agrees_after_a_late_heartbeat(self):
        self.flows._operator_view_once.side_effect = [
            api_flows.FlowError('1 down'), None]
        api_flows.Flows.operator_view(self.flows, 'cinder')
        self.assertEqual(2, self.flows._operator_view_once.call_count)

    def test_a_view_that_stays_wrong_fails_after_the_bound(self):
        self.clock.side_effect = [0, api_flows.OPERATOR_VIEW_SETTLE + 1]
        self.flows._operator_view_once.side_effect = api_flows.FlowError(
            '1 down')
        self.assertRaises(api_flows.FlowError,
                          api_flows.Flows.operator_view, self.flows, 'cinder')
        self.assertEqual(1, self.flows._operator_view_once.call_count)


class AtOnceTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(api_flows, 'client'))
        cluster = types.SimpleNamespace(nodes=(), hosts=())
        controller = types.SimpleNamespace(api_url='http://api')
        self.flows = api_flows.Flows(cluster, controller, log=lambda _: None)

    def _served_by(self, *nodes, silent=0, calls=(), answered=None):
        """``nodes`` served the request, each logging ``silent`` times that
        a peer did not answer and making ``calls``; ``answered`` a node that
        only answered them.
        """
        logs = {node: api_flows.RequestLog(True, silent, list(calls), [])
                for node in nodes}
        if answered:
            logs[answered] = api_flows.RequestLog(
                False, 0, [], [method for method, _, _ in calls])
        self.useFixture(fixtures.MockPatchObject(
            self.flows, 'logged', return_value=logs))

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

    def test_a_step_for_another_node_shows_its_answered_peer_call(self):
        self._served_by('node2', calls=[('use', 'node1.gate.test', 0.84)],
                        answered='node1.gate.test')
        self.flows.step('attach on node1', lambda cinder: None,
                        holder='node1.gate.test')
        row = self.flows.rows[-1]
        self.assertEqual('ok', row['status'])
        self.assertEqual('node2', row['served_by'])
        self.assertEqual(['node2>node1.gate.test use 0.84 s'],
                         row['peer_calls'])

    def test_a_step_for_another_node_without_a_peer_call_fails(self):
        self._served_by('node2')
        self.flows.step('attach on node1', lambda cinder: None,
                        holder='node1')
        self.assertEqual('failed: served by node2, no peer call to node1 '
                         'answered in both logs',
                         self.flows.rows[-1]['status'])

    def test_a_call_its_target_never_logged_fails(self):
        self._served_by('node2', calls=[('use', 'node1', 0.84)])
        self.flows.step('attach on node1', lambda cinder: None,
                        holder='node1')
        row = self.flows.rows[-1]
        self.assertIn('no peer call to node1', row['status'])
        self.assertEqual(['node2>? use 0.84 s'], row['peer_calls'])

    def test_the_holder_serving_needs_no_peer_call(self):
        self._served_by('node1')
        self.flows.step('attach on node1', lambda cinder: None,
                        holder='node1')
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


#: lines as the volume services log them (format of a real run's log)
_PREFIX = '2026-12-04 14:29:05.370 832 %s %s [%s %s - - - - - -] '
SERVING = [
    _PREFIX % ('INFO', 'cinder.volume.manager', 'req-gate', 'req-api') +
    'attachment_update volume-1',
    _PREFIX % ('INFO', 'drbd_clvm_driver.peer', 'req-gate', 'req-api') +
    'Peer call use to node1 answered in 0.84 s',
    _PREFIX % ('INFO', 'drbd_clvm_driver.peer', 'None', 'req-other') +
    'Peer call release to node1 answered in 0.20 s']
ANSWERING = [
    _PREFIX % ('INFO', 'drbd_clvm_driver.peer', 'req-gate', 'req-call') +
    "Answering peer call use({'name': 'volume-1'}) on node1",
    _PREFIX % ('DEBUG', 'drbd_clvm_driver.runner', 'req-gate', 'req-call') +
    'Running lvchange -aey vgc/volume-1',
    _PREFIX % ('INFO', 'cinder.volume.manager', 'None', 'req-other') +
    'something else']


class RequestLogTest(testtools.TestCase):
    """One node's log lines of one request."""

    def test_the_node_that_served_and_its_call(self):
        self.assertEqual(
            api_flows.RequestLog(True, 0, [('use', 'node1', 0.84)], []),
            api_flows.request_log(SERVING, 'req-gate'))

    def test_a_node_that_only_answered_did_not_serve(self):
        self.assertEqual(api_flows.RequestLog(False, 0, [], ['use']),
                         api_flows.request_log(ANSWERING, 'req-gate'))

    def test_a_node_that_answered_and_served_served(self):
        both = ANSWERING + [
            _PREFIX % ('INFO', 'cinder.volume.manager', 'req-gate',
                       'req-api') + 'Deleted volume']
        self.assertTrue(api_flows.request_log(both, 'req-gate').served)

    def test_silent_peers_are_counted(self):
        lines = [_PREFIX % ('WARNING', 'drbd_clvm_driver.routing',
                            'req-gate', 'req-api') +
                 'The volume service on node1 did not answer use']
        self.assertEqual(1, api_flows.request_log(lines, 'req-gate').silent)

    def test_calls_matched_to_the_node_that_answered(self):
        logs = {'node2': api_flows.request_log(SERVING, 'req-gate'),
                'node1.gate.test': api_flows.request_log(ANSWERING,
                                                         'req-gate')}
        self.assertEqual([('node2', 'node1.gate.test', 'use', 0.84)],
                         api_flows.peer_calls(logs))
        del logs['node1.gate.test']
        self.assertEqual([('node2', None, 'use', 0.84)],
                         api_flows.peer_calls(logs))


class LoggedTest(testtools.TestCase):
    """What each node's service log says of a request."""

    def _node(self, name, lines, exit_code=0):
        run = mock.Mock(return_value=types.SimpleNamespace(
            stdout=''.join(line + '\n' for line in lines),
            exit_code=exit_code))
        return types.SimpleNamespace(name=name, run=run)

    def test_nodes_that_logged_the_request(self):
        # node3 is dead, node4 has no log yet, node5 nothing of it
        nodes = (self._node('node1', ANSWERING), self._node('node2', SERVING),
                 self._node('node3', SERVING), self._node('node4', [], 2),
                 self._node('node5', [], 1))
        flows = api_flows.Flows(
            types.SimpleNamespace(nodes=nodes, hosts=nodes),
            types.SimpleNamespace(api_url='http://api'))
        flows.dead.add('node3')
        logged = flows.logged('req-gate')
        self.assertEqual(['node1', 'node2'], sorted(logged))
        self.assertFalse(logged['node1'].served)
        self.assertEqual(['node2'], flows.served_by('req-gate'))
        self.assertIn('req-gate', nodes[0].run.call_args.args)
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
