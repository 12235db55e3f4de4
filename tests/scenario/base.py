"""What every scenario test starts from: two nodes, each with the driver's
operations layer built exactly as the driver builds it."""

import os
import shutil
import tempfile
import uuid

import testtools

from drbd_clvm_driver import stack

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


class TwoNodeTestCase(testtools.TestCase):
    """Node A and node B, each with its own operations and lock files.

    Names are unique per test so that runs on the real cluster never meet
    an LV of an earlier test; whatever a test made is removed after it.
    """

    #: 4 MiB, one extent: the lab VG is small and TCG guests are slow
    SIZE_MIB = 4

    def setUp(self):
        super().setUp()
        self.cluster = attach_cluster()
        self.node_a, self.node_b = self.cluster.nodes
        self.ops_a = self._ops(self.node_a)
        self.ops_b = self._ops(self.node_b)
        self.prefix = 't%s-' % uuid.uuid4().hex[:8]
        self.addCleanup(self._remove_leftovers)

    def _ops(self, node, **kwargs):
        lock_path = tempfile.mkdtemp(prefix='locks-%s-' % node.name)
        self.addCleanup(shutil.rmtree, lock_path, ignore_errors=True)
        kwargs.setdefault('volume_clear', 'none')
        return stack.build(node.runner, self.cluster.vg_name,
                           self.cluster.drbd_resource, lock_path=lock_path,
                           data_timeout=600, **kwargs).ops

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
        # A snapshot's activation follows its origin's; deactivate only
        # where a node has it active, to keep the real gate quick.
        for ops in (self.ops_a, self.ops_b):
            for lv in ops.vg.logical_volumes():
                if (self.prefix in lv.name and lv.active_locally
                        and not lv.is_snapshot):
                    ops.deactivate(lv.name)
        mine = [lv for lv in self.ops_a.vg.logical_volumes()
                if self.prefix in lv.name]
        # Snapshots first: removing an origin would take them along.
        for lv in sorted(mine, key=lambda lv: not lv.is_snapshot):
            self.ops_a.delete_volume(lv.name)
