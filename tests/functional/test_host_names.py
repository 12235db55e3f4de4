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

"""Host names spelled differently inside real Cinder: the volume services'
hosts are FQDNs (``node1.example.com@drbd``), or only node1's is (as in the
Cinder gate), while corosync's membership and the connectors of the nodes'
compute services use short names (``node1``).
"""

from unittest import mock

from tests.functional import test_active_active

DOMAIN = '.example.com'


class FqdnHostsTest(test_active_active.ActiveActiveTestCase):

    DOMAIN = DOMAIN

    def _attached_recording_peer_calls(self, host, served_by):
        """Attach a new volume; the connection info and the nodes the
        serving node called.
        """
        volume = self._created(server=served_by)
        peers = self.managers[served_by].driver.any_node.peers
        with mock.patch.object(peers, 'call', wraps=peers.call) as call:
            _, info = self.attach(volume, host, served_by=served_by)
        return volume, info, {args[0] for args, _ in call.call_args_list}

    def test_a_node_is_never_its_own_peer(self):
        for node, manager in self.managers.items():
            names = manager.driver.any_node.names
            self.assertEqual(node + DOMAIN, names.local)
            self.assertEqual((self.other(node) + DOMAIN,), names.peers)

    def test_a_connector_from_the_serving_node_is_local(self):
        for node in test_active_active.SERVERS:
            volume, info, called = self._attached_recording_peer_calls(
                node, served_by=node)
            self.assertEqual(('local', node + DOMAIN), (
                info['driver_volume_type'], info['drbd_clvm_node']))
            self.assertEqual(set(), called)
            self.assertEqual({node}, self.active_on(volume))

    def test_a_connector_from_the_other_node_goes_there(self):
        for node in test_active_active.SERVERS:
            other = self.other(node)
            volume, info, called = self._attached_recording_peer_calls(
                other, served_by=node)
            self.assertEqual(('local', other + DOMAIN), (
                info['driver_volume_type'], info['drbd_clvm_node']))
            self.assertEqual({other + DOMAIN}, called)
            self.assertEqual({other}, self.active_on(volume))

    def test_a_connector_from_outside_is_remote(self):
        volume, info, called = self._attached_recording_peer_calls(
            'compute3', served_by='node1')
        self.assertEqual(('iscsi', 'node1' + DOMAIN), (
            info['driver_volume_type'], info['drbd_clvm_node']))
        self.assertEqual(set(), called)
        self.assertEqual({'node1'}, self.active_on(volume))


class MixedHostsMixin:
    """node1's host is its FQDN, node2's its short name; neither configures
    its node name or peers, so each takes its peers from corosync's short
    names and spells them as it spells itself.
    """

    def host(self, node):
        return node + DOMAIN if node == 'node1' else node


class MixedHostsTest(MixedHostsMixin,
                     test_active_active.ActiveActiveTestCase):

    def test_each_node_makes_a_connection_on_the_other(self):
        for node in test_active_active.SERVERS:
            other = self.other(node)
            volume = self._created(server=node)
            _, info = self.attach(volume, other, served_by=node)
            self.assertEqual('local', info['driver_volume_type'])
            self.assertEqual({other}, self.active_on(volume))


class MixedHostsLiveMigrationTest(MixedHostsMixin,
                                  test_active_active.LiveMigrationTest):
    pass


class MixedHostsMultiattachTest(MixedHostsMixin,
                                test_active_active.MultiattachTest):
    pass
