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

"""What every scenario test starts from: two nodes, each with the driver's
operations layer built exactly as the driver builds it (on a lab of more
nodes: its first and its last, with every other node serving peer calls
as in production)."""

import os
import shutil
import tempfile
import uuid

import testtools

from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes
from drbd_clvm_driver import peer
from drbd_clvm_driver import stack
from tests import leftovers

STATE_VARIABLE = 'DRBD_CLVM_CLUSTER_STATE'


def on_real_cluster():
    return bool(os.environ.get(STATE_VARIABLE))


def attach_cluster():
    """The real cluster the gate booted, or a fresh simulated one."""
    if on_real_cluster():
        from tests.cluster import guests
        return guests.attach(os.environ[STATE_VARIABLE])
    from tests.sim import cluster as sim
    return sim.SimulatedCluster(vg_size_mib=1024)


def device_size(node, path):
    """Bytes of ``path`` as ``node``'s kernel sees it."""
    return int(node.runner.run(['blockdev', '--getsize64', path]).stdout)


def write_pattern(node, path):
    """Write 1 MiB of random data through ``node``'s device, bypassing its
    page cache; returns the digest of the whole device as ``node`` reads it.
    """
    node.runner.run(['dd', 'if=/dev/urandom', 'of=%s' % path, 'bs=1M',
                     'count=1', 'oflag=direct', 'conv=fdatasync'])
    return digest(node, path)


def stale_snapshot_devices(cluster, node, name_part):
    """Snapshot devices ``node`` still maps although LVM removed them,
    among those whose LV name contains ``name_part``.
    """
    if on_real_cluster():
        names = {lv.name.replace('-', '--') for lv in lvm.ClusteredVG(
            node.runner, cluster.vg_name).logical_volumes()}
        devices = node.runner.run(['dmsetup', 'ls']).stdout.split()
        prefix = cluster.vg_name.replace('-', '--') + '-'
        return [device for device in devices
                if device.startswith(prefix) and device.endswith('-cow')
                and name_part.replace('-', '--') in device
                and device[len(prefix):-len('-cow')] not in names]
    return [name for stale_node, name in cluster.stale_snapshots
            if stale_node == node.name and name_part in name]


def digest(node, path):
    """The md5 of the device as ``node`` reads it."""
    return node.runner.run(['md5sum', path]).stdout.split()[0]


class TwoNodeTestCase(testtools.TestCase):
    """Node A and node B, each with its own operations and lock files, and
    each able to ask the other for node-local steps (``any_a``, ``any_b``:
    :class:`~drbd_clvm_driver.routing.AnyNode`).  The two stacks live in
    this process, so peer calls go through
    :class:`~drbd_clvm_driver.peer.InProcessPeers` instead of a message bus.

    Names are unique per test so that runs on the real cluster never meet
    an LV of an earlier test; whatever a test made is removed after it.
    """

    #: 4 MiB, one extent: the lab VG is small and TCG guests are slow
    SIZE_MIB = 4

    def setUp(self):
        super().setUp()
        self.cluster = attach_cluster()
        self.node_a, self.node_b = (self.cluster.nodes[0],
                                    self.cluster.nodes[-1])
        #: node name -> peer endpoint; a test removes one to take it down
        self.endpoints = {}
        #: node name -> its AnyNode; every node of the lab serves, as in
        #: production (on three nodes, the middle one too)
        self.any_nodes = {}
        self.any_a = self._any_node(self.node_a)
        self.any_b = self._any_node(self.node_b)
        for node in self.cluster.nodes[1:-1]:
            self._any_node(node)
        self.ops_a, self.ops_b = self.any_a.ops, self.any_b.ops
        self.prefix = 't%s-' % uuid.uuid4().hex[:8]
        self.addCleanup(self._remove_leftovers)

    def _stack(self, node, **kwargs):
        lock_path = tempfile.mkdtemp(prefix='locks-%s-' % node.name)
        self.addCleanup(shutil.rmtree, lock_path, ignore_errors=True)
        kwargs.setdefault('volume_clear', 'none')
        names = nodes.NodeNames(node.name, [other.name for other in
                                            self.cluster.nodes])
        return stack.build(node.runner, self.cluster.vg_name,
                           self.cluster.target,
                           replication=self.cluster.replication,
                           lock_manager=self.cluster.lock_manager,
                           lock_path=lock_path, data_timeout=600, names=names,
                           peers=peer.InProcessPeers(self.endpoints),
                           **kwargs)

    def _ops(self, node, **kwargs):
        return self._stack(node, **kwargs).ops

    def _any_node(self, node):
        any_node = self._stack(node).any_node
        self.endpoints[node.name] = peer.Endpoint(node.name,
                                                  any_node.handlers())
        self.any_nodes[node.name] = any_node
        return any_node

    def name(self, label):
        return self.prefix + label

    def volume_id(self, label):
        return self.name(label)

    def names_on(self, ops):
        """This test's LVs as one node sees them: name -> (size, tags)."""
        return {lv.name: (lv.size_bytes, lv.tags)
                for lv in ops.vg.logical_volumes()
                if self.prefix in lv.name}

    def _remove_leftovers(self):
        # A snapshot's activation follows its origin's; release only
        # where a node has it active, to keep the real gate quick.
        for ops in (any_node.ops for any_node in self.any_nodes.values()):
            for lv in ops.vg.logical_volumes():
                if (self.prefix in lv.name and lv.active_locally
                        and not lv.is_snapshot):
                    ops.release(lv.name)
        leftovers.remove(self.node_a, self.cluster.vg_name, [
            lv for lv in self.ops_a.vg.logical_volumes()
            if self.prefix in lv.name])
