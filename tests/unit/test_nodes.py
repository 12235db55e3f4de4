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
