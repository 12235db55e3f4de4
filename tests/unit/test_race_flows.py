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

"""What the Cinder gate's races accept as what users expect, and its
consistency check between Cinder's records and the cluster.
"""

import threading
import types
from unittest import mock

import fixtures
import testtools

from tests.cluster import api_flows
from tests.cluster import race_flows

REFUSED = 'refused by the API: 400 Invalid volume'
VOLUME_A = '11111111-aaaa-4aaa-8aaa-111111111111'
VOLUME_B = '22222222-bbbb-4bbb-8bbb-222222222222'


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


class DeleteDuringCopyTest(testtools.TestCase):
    """The source's delete counts only if the copy was still being made."""

    def delete_during(self, copy_status):
        # cinderclient is the Cinder gate's, not the unit tests'
        self.useFixture(fixtures.MockPatchObject(
            race_flows, 'refused_by_api', side_effect=lambda call: call()))
        self.useFixture(fixtures.MockPatchObject(
            race_flows, 'settled', return_value=race_flows.DELETED))
        volumes = types.SimpleNamespace(
            deleted=[], delete=lambda volume_id: volumes.deleted.append(
                volume_id),
            get=lambda volume_id: types.SimpleNamespace(status=copy_status))
        started = race_flows.CopyStarted()
        started.volume_id = VOLUME_B
        started.set()
        races = race_flows.Races(flows=None)
        outcome = races.delete_during(types.SimpleNamespace(volumes=volumes),
                                      started, 'volume', VOLUME_A)
        self.assertEqual([VOLUME_A], volumes.deleted)
        return outcome

    def test_a_delete_sent_while_the_copy_is_made(self):
        outcome = self.delete_during('creating')
        self.assertEqual(race_flows.DELETED, outcome)
        self.assertTrue(race_flows.copy_race_as_expected(
            ('available', outcome)))

    def test_a_delete_sent_once_the_copy_ended_fails_the_race(self):
        outcome = self.delete_during('available')
        self.assertEqual(race_flows.AFTER_THE_COPY + race_flows.DELETED,
                         outcome)
        self.assertFalse(race_flows.copy_race_as_expected(
            ('available', outcome)))


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


class FakeNode:
    """A guest answering the check's commands from canned outputs."""

    def __init__(self, lvs='', active='', targets=''):
        self.outputs = {'lv_name,lv_size,lv_tags': lvs,
                        'lv_active=active': active,
                        '/sys/kernel/config/target/iscsi': targets}

    def run(self, *argv, timeout=60):
        for key, output in self.outputs.items():
            if key in argv:
                return types.SimpleNamespace(stdout=output, exit_code=0)
        raise AssertionError('unexpected command %s' % (argv,))


def _volume(volume_id, status='available', size=1):
    return types.SimpleNamespace(id=volume_id, status=status, size=size)


class ConsistencyTest(testtools.TestCase):

    def _check(self, volumes, node1, node2=None, dead=()):
        cinder = types.SimpleNamespace(volumes=types.SimpleNamespace(
            list=lambda search_opts: volumes))
        flows = types.SimpleNamespace(
            nodes={'node1': node1, 'node2': node2 or FakeNode()},
            cluster_names=['node1', 'node2'], dead=set(dead))
        return race_flows.consistency(cinder, flows)

    @staticmethod
    def _lv(volume_id, size='1.00', tags=None):
        return '  volume-%s %s %s\n' % (
            volume_id, size, tags or 'cinder-volume:' + volume_id)

    def test_records_and_lvs_that_agree(self):
        outcome = self._check(
            [_volume(VOLUME_A), _volume(VOLUME_B, 'in-use', 2)],
            FakeNode(lvs=self._lv(VOLUME_A) + self._lv(VOLUME_B, '2.00'),
                     active='  volume-%s\n' % VOLUME_B,
                     targets='iqn.2010-10.org.openstack:volume-%s\n'
                     % VOLUME_B))
        self.assertEqual('2 volumes, 2 LVs: consistent', outcome)

    def test_each_disagreement_is_named(self):
        error = self.assertRaises(
            api_flows.FlowError, self._check,
            [_volume(VOLUME_A, size=2), _volume('gone-with-no-lv')],
            FakeNode(lvs=self._lv(VOLUME_A) + self._lv(VOLUME_B),
                     active='  volume-%s\n' % VOLUME_A),
            FakeNode(targets='iqn.2010-10.org.openstack:volume-%s\n'
                     % VOLUME_B))
        self.assertEqual(
            '%s is 2 GiB, its LV 1.0; gone-with-no-lv (available) has no '
            'LV; LV volume-%s has no volume in Cinder; node1 keeps '
            'volume-%s active, not in use; node2 keeps the target '
            'iqn.2010-10.org.openstack:volume-%s, not in use'
            % (VOLUME_A, VOLUME_B, VOLUME_A, VOLUME_B), str(error))

    def test_a_missing_tag_and_volumes_in_error_are_told_apart(self):
        error = self.assertRaises(
            api_flows.FlowError, self._check,
            [_volume(VOLUME_A), _volume(VOLUME_B, 'error')],
            FakeNode(lvs=self._lv(VOLUME_A, tags='other')))
        self.assertEqual('%s: its LV lacks its tag (other)' % VOLUME_A,
                         str(error))

    def test_a_dead_node_is_not_asked(self):
        outcome = self._check([_volume(VOLUME_A)], None,
                              FakeNode(lvs=self._lv(VOLUME_A)),
                              dead=['node1'])
        self.assertEqual('1 volumes, 1 LVs: consistent', outcome)


class NotFound(Exception):
    """cinderclient's NotFound, in a stand-in of its exceptions module."""


class FakeManager:
    """Volumes or snapshots of a stand-in Cinder: available at once, gone
    once deleted; ``fail_extend`` makes each extend end in error_extending.
    """

    def __init__(self, cinder, prefix):
        self.cinder = cinder
        self.prefix = prefix

    def create(self, *args, **kwargs):
        with self.cinder.lock:
            self.cinder.made += 1
            resource = types.SimpleNamespace(
                id='%s-%d' % (self.prefix, self.cinder.made),
                status='available', size=1)
            self.cinder.resources[resource.id] = resource
        return resource

    def get(self, resource_id):
        try:
            return self.cinder.resources[resource_id]
        except KeyError:
            raise NotFound(resource_id)

    def delete(self, resource_id):
        status = self.cinder.resources[resource_id].status
        if status in race_flows.TRANSITIONAL or status == 'in-use':
            raise ValueError('Invalid volume: status must not be %s'
                             % status)
        del self.cinder.resources[resource_id]

    def extend(self, volume_id, size):
        self.cinder.resources[volume_id].status = (
            self.cinder.extend_ends_in)

    def reset_state(self, resource_id, state):
        self.cinder.resources[resource_id].status = state


class FakeCinder:

    def __init__(self, extend_ends_in='available'):
        self.lock = threading.Lock()
        self.made = 0
        self.resources = {}
        self.extend_ends_in = extend_ends_in
        self.volumes = FakeManager(self, 'volume')
        self.volume_snapshots = FakeManager(self, 'snapshot')


#: where the stream's rolling restart moves the services' Cinder locks
ETCD = 'etcd3+http://10.0.2.2:2379'


class FakeServiceNode:
    """A node's volume service as the stream restarts it: its runner
    records the coordination URL it is given, and its log has warned of a
    file URL once per start on one.
    """

    def __init__(self, name, restarts, url='file:///var/lib/cinder'):
        self.name = name
        self.restarts = restarts
        self.url = url
        self.warned = 1
        self.runner = types.SimpleNamespace(run=self._configure)

    def _configure(self, argv, timeout):
        self.url = argv[-1]
        self.restarts.append((self.name, 'coordination ' + self.url))

    def start(self):
        self.restarts.append((self.name, 'started'))
        self.warned += self.url.startswith('file:')

    def run(self, *argv, timeout):
        return types.SimpleNamespace(stdout='%d\n' % self.warned)


class StreamTest(testtools.TestCase):
    """The stream's accounting, on a stand-in Cinder that answers at once."""

    def setUp(self):
        super().setUp()
        exceptions = types.ModuleType('cinderclient.exceptions')
        exceptions.NotFound = NotFound
        modules = mock.patch.dict('sys.modules', {
            'cinderclient': types.ModuleType('cinderclient'),
            'cinderclient.exceptions': exceptions})
        modules.start()
        self.addCleanup(modules.stop)
        self.restarts = []
        self.lines = []

    def _run(self, cinder, requests=30, served_by=(), lost_after=None,
             detach_fails=False, onto=ETCD):
        self.useFixture(fixtures.MockPatchObject(
            api_flows, 'client', return_value=cinder))
        for bound in ('STREAM_BOUND', 'STREAM_FINAL_BOUND'):
            self.useFixture(fixtures.MockPatchObject(race_flows, bound, 0.2))
        if lost_after is not None:
            for bound in ('STREAM_LOST_AFTER', 'STREAM_LOST_CHECK'):
                self.useFixture(fixtures.MockPatchObject(
                    race_flows, bound, lost_after))
        detached_once = set()

        def attach(cinder, volume_id, host, instance):
            volume = cinder.resources[volume_id]
            if volume.status != 'available':
                raise ValueError('Invalid volume: status must be available')
            volume.status = 'in-use'
            return (host, volume_id)

        def detach(cinder, attached):
            # with detach_fails, each attachment's first detach fails, as
            # one served by a stopping service does
            if detach_fails and attached not in detached_once:
                detached_once.add(attached)
                raise RuntimeError('MessagingTimeout')
            cinder.resources[attached[1]].status = 'available'

        nodes = {name: FakeServiceNode(name, self.restarts)
                 for name in ('node1', 'node2')}
        flows = types.SimpleNamespace(
            cluster_names=['node1', 'node2'], dead=set(), stopped=set(),
            api_url='http://api', log=self.lines.append,
            attach=attach, detach=detach, nodes=nodes,
            service=lambda node, action: self.restarts.append(
                (node, action)),
            start_service=lambda cinder, node: nodes[node].start(),
            served_by=lambda request_id: list(served_by))
        stream = race_flows.Stream(flows, race_flows.Races(flows), onto,
                                   requests=requests, clients=3)
        return stream, stream.run(cinder)

    def test_every_request_answered_while_each_service_restarts(self):
        cinder = FakeCinder()
        stream, outcome = self._run(cinder)
        self.assertGreaterEqual(len(stream.answers), 30)
        self.assertEqual({'ok'}, {answer['outcome']
                                  for answer in stream.answers})
        self.assertEqual(
            [('node1', 'stop'), ('node1', 'coordination ' + ETCD),
             ('node1', 'started'),
             ('node2', 'stop'), ('node2', 'coordination ' + ETCD),
             ('node2', 'started')], self.restarts)
        self.assertIn('from 3 clients while node1 then node2 restarted: '
                      'ok %d' % len(stream.answers), outcome)
        self.assertEqual({}, cinder.resources)

    def test_a_service_restarted_still_on_file_locks_fails_it(self):
        error = self.assertRaises(
            api_flows.FlowError, self._run, FakeCinder(),
            onto='file:///elsewhere')
        self.assertIn('node1 warned of a file coordination URL after its '
                      'restart onto file:///elsewhere', str(error))

    def test_failed_requests_counted_and_what_they_left_cleaned_up(self):
        cinder = FakeCinder(extend_ends_in='error_extending')
        stream, outcome = self._run(cinder)
        extends = [answer for answer in stream.answers
                   if answer['request'] == 'extend']
        self.assertTrue(extends)
        self.assertEqual({'failed: FlowError'},
                         {answer['outcome'] for answer in extends})
        self.assertIn('failed: FlowError %d' % len(extends), outcome)
        self.assertEqual('0 left, deleted; 0 reset, 0 detached first',
                         stream.clean_up(cinder))

    def test_a_failed_detach_is_asked_for_again_before_the_deletes(self):
        cinder = FakeCinder()
        stream, outcome = self._run(cinder, detach_fails=True)
        detaches = [answer['outcome'] for answer in stream.answers
                    if answer['request'].startswith('detach from')]
        self.assertTrue(detaches)
        self.assertEqual({'failed: RuntimeError'}, set(detaches))
        self.assertEqual(len(detaches), len(stream.still_attached))
        # the volumes stayed in use, so their deletes failed in the stream
        self.assertEqual(
            {'in-use'}, {cinder.resources[volume_id].status
                         for _, volume_id in stream.still_attached})
        cleaned = stream.clean_up(cinder)
        self.assertTrue(cleaned.endswith(
            '0 reset, %d detached first' % len(detaches)), cleaned)
        self.assertEqual({}, cinder.resources)

    def test_what_requests_cinder_lost_left_is_counted_then_reset(self):
        # no volume service logged the extends: Cinder lost them
        cinder = FakeCinder(extend_ends_in='extending')
        stream, outcome = self._run(cinder, requests=6)
        stuck = [resource_id for resource_id, resource in
                 cinder.resources.items() if resource.status == 'extending']
        self.assertTrue(stuck)
        self.assertEqual(sorted(stuck), sorted(
            resource_id for _, resource_id in stream.lost))
        self.assertIn('; %d left in a transitional status by requests no '
                      'volume service received' % len(stuck), outcome)
        # each names the request that left it so: its extend, not the
        # delete the API refused afterwards
        labels = {answer['request_id']: answer['request']
                  for answer in stream.answers}
        self.assertEqual({'extend'}, {
            labels[stream.changed_by[resource_id]] for resource_id in stuck})
        self.assertIn('%d reset, 0 detached first' % len(stuck),
                      stream.clean_up(cinder))
        self.assertEqual({}, cinder.resources)

    def test_a_resource_stuck_after_a_service_took_its_request_fails(self):
        cinder = FakeCinder(extend_ends_in='extending')
        error = self.assertRaises(api_flows.FlowError, self._run, cinder,
                                  requests=6, served_by=['node2'],
                                  lost_after=0)
        self.assertIn('stuck after a volume service took the request',
                      str(error))
        self.assertIn('extending (req-', str(error))
        # a request some service took is waited for to the bound
        self.assertFalse([line for line in self.lines
                          if 'not waited for' in line])

    def test_a_request_no_service_logged_is_not_waited_for(self):
        cinder = FakeCinder(extend_ends_in='extending')
        stream, _ = self._run(cinder, requests=6, lost_after=0)
        given_up = [line for line in self.lines if 'not waited for' in line]
        self.assertEqual(len(stream.lost), len(given_up))
        for _, resource_id in stream.lost:
            self.assertTrue(any(resource_id in line for line in given_up))


class StepWithOutcomeTest(testtools.TestCase):

    def _flows(self):
        flows = types.SimpleNamespace(rows=[])

        def step(flow, action, *args):
            flows.rows.append({'flow': flow})
            return action(*args)
        flows.step = step
        return flows

    def test_a_step_that_passed_keeps_its_outcome(self):
        flows = self._flows()
        race_flows.step_with_outcome(
            flows, 'stream', lambda n: race_flows.Outcome('%d ok' % n), 3)
        self.assertEqual([{'flow': 'stream', 'outcome': '3 ok'}], flows.rows)

    def test_a_step_that_failed_has_no_outcome(self):
        flows = self._flows()
        race_flows.step_with_outcome(flows, 'stream', lambda: None)
        self.assertEqual([{'flow': 'stream'}], flows.rows)


class FullCountsTest(testtools.TestCase):
    """CI's counts by default, the issue's with ``full``."""

    def setUp(self):
        super().setUp()
        for name in ('delete_source_during_copy', 'extend_during_attach',
                     'two_attachments_at_once', 'Races',
                     'step_with_outcome'):
            self.useFixture(fixtures.MockPatch(
                'tests.cluster.race_flows.' + name))
        self.copies = self.useFixture(fixtures.MockPatch(
            'tests.cluster.race_flows.copies_at_once')).mock
        self.stream = self.useFixture(fixtures.MockPatch(
            'tests.cluster.race_flows.Stream')).mock

    def test_copies_at_once(self):
        race_flows.races_once(mock.Mock(), mock.Mock(), ', etcd locks',
                              full=True)
        race_flows.races_once(mock.Mock(), mock.Mock(), ', etcd locks')
        self.assertEqual(
            [race_flows.FULL_CONCURRENT_COPIES, race_flows.CONCURRENT_COPIES],
            [call.kwargs['count'] for call in self.copies.call_args_list])
        self.assertEqual((20, 4), (race_flows.FULL_CONCURRENT_COPIES,
                                   race_flows.CONCURRENT_COPIES))

    def test_stream_requests(self):
        race_flows.on_file_locks(mock.MagicMock(), full=True)
        race_flows.on_file_locks(mock.MagicMock())
        self.assertEqual(
            [race_flows.FULL_STREAM_REQUESTS, race_flows.STREAM_REQUESTS],
            [call.args[3] for call in self.stream.call_args_list])
        self.assertEqual(
            [race_flows.FULL_CONCURRENT_COPIES, race_flows.CONCURRENT_COPIES],
            [call.kwargs['count'] for call in self.copies.call_args_list])
