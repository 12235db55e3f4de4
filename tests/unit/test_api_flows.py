"""How the gate's Cinder mode reads what an operator reads: ``cinder-manage
cluster list``, recorded from the real control plane.
"""

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
