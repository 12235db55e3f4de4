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

"""Node names and the names connectors use for them."""

import testtools

from drbd_clvm_driver import nodes


class NodeNamesTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.names = nodes.NodeNames(
            'node1', ['node1', 'node2', 'node2'],
            {'compute-a': 'node2', 'Node1.Example.Org': 'node1'})

    def test_nodes(self):
        self.assertEqual(('node1', 'node2'), self.names.all)
        self.assertEqual(('node2',), self.names.peers)
        self.assertTrue(self.names.is_local('node1'))
        self.assertFalse(self.names.is_local('node2'))

    def test_names_connectors_use(self):
        for host, node in (('node1', 'node1'), ('NODE2', 'node2'),
                           ('node2.cloud.example.org', 'node2'),
                           ('compute-a', 'node2'),
                           ('node1.example.org', 'node1')):
            self.assertEqual(node, self.names.node_of(host), host)

    def test_other_hosts_are_outside(self):
        for host in ('compute3', 'node3', 'node', '', None,
                     'compute-a-2'):
            self.assertIsNone(self.names.node_of(host), host)

    def test_fqdn_node_names(self):
        names = nodes.NodeNames('node1.example.org', ['node2.example.org'])
        self.assertEqual('node2.example.org', names.node_of('node2'))
        self.assertEqual('node1.example.org',
                         names.node_of('NODE1.example.org'))

    def test_alias_of_unknown_node_refused(self):
        error = self.assertRaises(ValueError, nodes.NodeNames, 'node1',
                                  ['node2'], {'x': 'node3'})
        self.assertIn('node3', str(error))

    def test_a_name_is_needed(self):
        self.assertRaises(ValueError, nodes.NodeNames, '')


class SameHostTest(testtools.TestCase):

    def test_one_host(self):
        for name, other in (('node1', 'NODE1'),
                            ('node1', 'node1.example.com'),
                            ('Node1.Example.com', 'node1'),
                            ('node1.example.com', 'NODE1.EXAMPLE.COM'),
                            ('10.0.0.1', '10.0.0.1')):
            self.assertTrue(nodes.same_host(name, other), (name, other))
            self.assertTrue(nodes.same_host(other, name), (other, name))

    def test_other_hosts(self):
        for name, other in (('node1', 'node2'),
                            ('node1', 'node10.example.com'),
                            ('node1.example.com', 'node1.lab.example.com'),
                            ('node1.example.com', 'node1.example.org'),
                            ('10.0.0.1', '10'),
                            ('10.0.0.1', '10.0.0.2')):
            self.assertFalse(nodes.same_host(name, other), (name, other))
            self.assertFalse(nodes.same_host(other, name), (other, name))


class SpellingsTest(testtools.TestCase):
    """Cinder's host an FQDN, corosync's members short, and the other
    mixes: a node is itself whichever way it is spelled.
    """

    def test_a_node_is_never_its_own_peer(self):
        for local, peers in (('node1.example.com', ['node1', 'node2']),
                             ('node1', ['NODE1.example.com', 'node2']),
                             ('Node1', ['node1', 'node2'])):
            names = nodes.NodeNames(local, peers)
            self.assertEqual(('node2',), names.peers, local)
            self.assertEqual(local, names.node_of('node1'), local)
            self.assertTrue(names.is_local('node1.example.com'), local)
            self.assertFalse(names.is_local('node2'), local)

    def test_one_node_named_twice_is_one_node(self):
        names = nodes.NodeNames('node1', ['node2', 'NODE2.example.com',
                                          'node2'])
        self.assertEqual(('node1', 'node2'), names.all)
        self.assertEqual('node2', names.node_of('node2.example.com'))

    def test_another_domain_is_another_host(self):
        names = nodes.NodeNames('node1.example.com', ['node2.example.com'])
        for host in ('node1.lab.example.com', 'node2.example.org'):
            self.assertIsNone(names.node_of(host), host)

    def test_a_short_name_two_nodes_share_is_refused(self):
        for local, peers, aliases in (
                ('node1.a.example.com', ['node1.b.example.com'], {}),
                ('node1', ['node2'], {'node2.example.com': 'node1'})):
            error = self.assertRaises(ValueError, nodes.NodeNames, local,
                                      peers, aliases)
            self.assertIn('share the short name', str(error))

    def test_aliases_name_nodes_any_way(self):
        names = nodes.NodeNames('node1.example.com', ['node2.example.com'],
                                {'compute-a': 'NODE2',
                                 'Compute-B.example.com': 'node1'})
        self.assertEqual('node2.example.com', names.node_of('compute-a'))
        self.assertEqual('node1.example.com', names.node_of('compute-b'))


class AddressTest(testtools.TestCase):
    """Every spelling of a node reaches its one peer endpoint."""

    def test_every_spelling_of_a_node_has_one_address(self):
        for name in ('node2', 'Node2.example.com', 'node2.lab.example.com'):
            self.assertEqual('node2', nodes.address(name))

    def test_an_address_stays_whole(self):
        self.assertEqual('10.0.0.2', nodes.address('10.0.0.2'))


class PeersInMembershipTest(testtools.TestCase):
    """Members are spelled as this node is."""

    def test_short_members_of_an_fqdn_node(self):
        self.assertEqual(['node2.example.com'], nodes.peers_in_membership(
            'node1.example.com', ['node1', 'node2']))

    def test_fqdn_members_of_a_short_node(self):
        self.assertEqual(['node2'], nodes.peers_in_membership(
            'node1', ['node1.example.com', 'node2.example.com']))

    def test_members_spelled_as_this_node_stay(self):
        for local, members, peers in (
                ('node1', ['node1', 'node2'], ['node2']),
                ('NODE1.example.com', ['node1.example.com',
                                       'node2.lab.example.com'],
                 ['node2.lab.example.com']),
                ('node1.example.com', ['10.0.0.2'], ['10.0.0.2'])):
            self.assertEqual(peers, nodes.peers_in_membership(local,
                                                              members))
