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

"""Who is who in the cluster: this node, its peers, and the other names
their hosts go by.

A node's name is the address of its volume service for peer calls (the RPC
server it listens on) and the name a connector from that host is recognised
by.  It comes from configuration (by default the host part of the volume
service's ``host``), never from ``socket.gethostname()``.

Cinder's ``host``, corosync's members, connectors,
``drbd_clvm_cluster_peer_nodes`` and ``drbd_clvm_cluster_node_aliases`` each
spell a host their own way, so every comparison is :func:`same_host`:

* case never matters;
* a short name is the host of every FQDN it begins: ``node1`` is
  ``node1.example.com``;
* two FQDNs are one host only when equal: ``node1.example.com`` is not
  ``node1.lab.example.com``.  A host wrongly taken for a cluster node would
  get a local device path that does not exist there, while a node wrongly
  taken for another host still works, over iSCSI;
* an IP address is compared whole.

The same node named twice is one node, under its first name; two nodes a
short name could both be are refused.

A node's volume service listens for peer calls at its :func:`address`, its
short name, which no two nodes share: a peer is reached however it is
spelled, by ``drbd_clvm_cluster_peer_nodes`` or by corosync, and whatever its
own ``host`` is (``node1.example.com`` calls member ``node2`` while node2's
service runs as ``host = node2``).  corosync's members are spelled as this
node is (:func:`peers_in_membership`), in logs and connection info.  Where
corosync lists addresses, set ``drbd_clvm_cluster_peer_nodes``.
"""

import ipaddress


def _is_address(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _short(name):
    return name if _is_address(name) else name.split('.', 1)[0]


def _domain(name):
    """The domain of an FQDN; '' for a short name or an address."""
    return '' if _is_address(name) else name.partition('.')[2]


def same_host(name, other):
    """Whether ``name`` and ``other`` are one host, by the module's rule."""
    name, other = name.lower(), other.lower()
    if name == other:
        return True
    if _domain(name) and _domain(other):
        return False
    return _short(name) == _short(other)


def address(node):
    """Where ``node``'s volume service listens for peer calls: its short
    name (an address whole), lower case, as every spelling of it shares.
    """
    return _short(node).lower()


def _spelled_like(member, local):
    """``member`` spelled as ``local`` is, short or in its domain."""
    if (_is_address(member) or _is_address(local) or
            bool(_domain(member)) == bool(_domain(local))):
        return member
    if _domain(local):
        return '%s.%s' % (member, _domain(local))
    return _short(member)


def peers_in_membership(local, members):
    """The peers among corosync's ``members`` of the node ``local``, each
    spelled as ``local`` is.
    """
    return [_spelled_like(member, local) for member in members
            if not same_host(member, local)]


class NodeNames:
    """The cluster's volume-service nodes and the names that reach them.

    :param local: this node's name.
    :param peers: the other nodes' names.
    :param aliases: ``{other name: node name}``, e.g. FQDNs or the names
        compute services use for a cluster node.
    :raises ValueError: an alias names no node, or a short name could be
        two nodes.
    """

    def __init__(self, local, peers=(), aliases=None):
        if not local:
            raise ValueError('this node needs a name')
        self.local = local
        #: (name, node) for every name a node answers to
        self._spellings = []
        self._add(local, local)
        self.peers = ()
        for peer in peers:
            if self.node_of(peer) is None:
                self._add(peer, peer)
                self.peers += (peer,)
        # Resolved before any is added: an alias names a node, not an alias.
        aliased = {}
        for alias, name in (aliases or {}).items():
            aliased[alias] = self.node_of(name)
            if aliased[alias] is None:
                raise ValueError('alias %s names %s, which is not a node of '
                                 'this cluster (%s)' % (
                                     alias, name, ', '.join(self.all)))
        for alias, node in aliased.items():
            self._add(alias, node)

    def _add(self, name, node):
        short = _short(name).lower()
        for known, known_node in self._spellings:
            if known_node != node and _short(known).lower() == short:
                raise ValueError(
                    '%s (node %s) and %s (node %s) share the short name %s, '
                    'so a connector from %s could be either: make the names '
                    'of different nodes, aliases included, differ before '
                    'the first dot' % (known, known_node, name, node, short,
                                       short))
        self._spellings.append((name, node))

    @property
    def all(self):
        return (self.local,) + self.peers

    def node_of(self, host):
        """The cluster node ``host`` is (by :func:`same_host` with its name
        or an alias), or None for a host outside the cluster.
        """
        if not host:
            return None
        return next((node for name, node in self._spellings
                     if same_host(host, name)), None)

    def is_local(self, node):
        return self.node_of(node) == self.local
