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

"""Assembling one node's layers, the same way for the driver, the operator
command and the scenario tests.
"""

import dataclasses

from oslo_log import log as logging

from drbd_clvm_driver import cluster
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes
from drbd_clvm_driver import operations
from drbd_clvm_driver import peer
from drbd_clvm_driver import routing


LOG = logging.getLogger(__name__)


def node_names(runner, local, peers=(), aliases=None, timeout=10):
    """This node, its peers (``peers``, or corosync's membership now, read
    through ``runner``) and the ``aliases`` connectors may use, as a
    :class:`~drbd_clvm_driver.nodes.NodeNames`.
    """
    if not peers:
        members = cluster.Quorum(runner, timeout).members()
        peers = nodes.peers_in_membership(local, members)
        LOG.info('Peer nodes from corosync membership (%s): %s, called at '
                 'their short names.', ', '.join(members) or 'none',
                 ', '.join(peers) or 'none')
    if not peers:
        LOG.warning('No peer node known (drbd_clvm_cluster_peer_nodes is '
                    'empty and corosync lists no other member): connectors '
                    'from the other node will be treated as outside hosts '
                    'until this service restarts.')
    return nodes.NodeNames(local, peers, aliases)


@dataclasses.dataclass(frozen=True)
class NodeStack:
    """What sits under the driver on one node."""

    lock_manager: locking_base.LockManager
    gate: cluster.SafetyGate
    ops: operations.VolumeOperations
    #: the operations as a request served here sees them: run where the
    #: volume is held, node-local steps on their node
    any_node: routing.AnyNode


def build(runner, vg_name, target, lock_manager='lvmlockd',
          lock_path=None, volume_clear='zero', volume_clear_size=0,
          lvm_timeout=120, check_timeout=10, data_timeout=3600,
          zero_in_device=True,
          snapshot_chunk_kib=operations.SNAPSHOT_CHUNK_KIB, names=None,
          peers=None, peer_timeout=180,
          peer_probe_timeout=15, replication='drbd'):
    """Build the layers over ``runner``; the arguments mirror the options
    in :mod:`drbd_clvm_driver.opts` and Cinder's ``volume_clear``.

    :param target: what the replication plugin ``replication`` checks (the
        DRBD resource, the shared LUN's device).

    :param names: a :class:`~drbd_clvm_driver.nodes.NodeNames`; by default
        this node alone, named after the runner's node.
    :param peers: how to reach the other nodes
        (:mod:`drbd_clvm_driver.peer`); by default none can be reached.
    """
    gate = cluster.build_gate(runner, vg_name, target, lock_manager,
                              check_timeout, replication)
    ops = operations.VolumeOperations(
        lvm.ClusteredVG(runner, vg_name, lvm_timeout), gate,
        operations.NodeLocks(lock_path, vg_name),
        volume_clear=volume_clear, volume_clear_size=volume_clear_size,
        data_timeout=data_timeout, zero_in_device=zero_in_device,
        snapshot_chunk_kib=snapshot_chunk_kib)
    names = names or nodes.NodeNames(runner.node or 'localhost')
    any_node = routing.AnyNode(
        names, ops, peers if peers is not None else peer.InProcessPeers({}),
        step_timeout=peer_timeout,
        operation_timeout=peer_timeout + data_timeout,
        probe_timeout=peer_probe_timeout,
        departed=lambda: gate.departed(names))
    return NodeStack(gate.lock_manager, gate, ops, any_node)
