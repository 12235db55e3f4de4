"""Who is who in the cluster: this node, its peers, and the other names
their hosts go by.

A node's name is the address of its volume service for peer calls and the
name a connector from that host is recognised by.  It comes from
configuration (by default the host part of the volume service's ``host``),
never from ``socket.gethostname()``: an FQDN on one side and a short name on
the other must not silently turn a local attachment into iSCSI.
"""


def _short(name):
    return name.split('.', 1)[0]


class NodeNames:
    """The cluster's volume-service nodes and the names that reach them.

    :param local: this node's name.
    :param peers: the other nodes' names.
    :param aliases: ``{other name: node name}``, e.g. FQDNs or the names
        compute services use for a cluster node.
    """

    def __init__(self, local, peers=(), aliases=None):
        if not local:
            raise ValueError('this node needs a name')
        self.local = local
        self.peers = tuple(peer for peer in dict.fromkeys(peers)
                           if peer != local)
        self._names = {}
        for node in self.all:
            self._names[node.lower()] = node
            self._names.setdefault(_short(node).lower(), node)
        for alias, node in (aliases or {}).items():
            if node not in self.all:
                raise ValueError('alias %s names %s, which is not a node of '
                                 'this cluster (%s)' % (
                                     alias, node, ', '.join(self.all)))
            self._names[alias.lower()] = node

    @property
    def all(self):
        return (self.local,) + self.peers

    def node_of(self, host):
        """The cluster node ``host`` is, or None for a host outside the
        cluster.  Case does not matter, and an FQDN matches its short name.
        """
        if not host:
            return None
        host = host.lower()
        return self._names.get(host) or self._names.get(_short(host))

    def is_local(self, node):
        return node == self.local
