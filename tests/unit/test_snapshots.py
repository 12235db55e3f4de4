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

"""Users' snapshots take the operator's chunk size, on the simulator."""

import fixtures
import testtools

from drbd_clvm_driver import operations
from drbd_clvm_driver import opts
from drbd_clvm_driver import stack
from tests.sim import cluster as sim


def opts_by_name(name):
    return next(option for option in opts.drbd_clvm_opts
                if option.name == name)


class SnapshotChunkTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=1024)
        self.node = self.cluster.nodes[0]

    def _ops(self, **options):
        ops = stack.build(self.node.runner, self.cluster.vg_name,
                          self.cluster.drbd_resource, volume_clear='none',
                          lock_path=self.useFixture(fixtures.TempDir()).path,
                          **options).ops
        ops.create_volume('origin', 8, 'id-origin')
        return ops

    def _snapshot_chunks(self):
        return [argv[4] for _node, argv in self.cluster.commands
                if argv[:4] == ('lvcreate', '-y', '-s', '-c')]

    def test_default_unless_chosen(self):
        self._ops().create_snapshot('snap', 'origin', 'id-snap')
        self.assertEqual(['64k'], self._snapshot_chunks())
        self.assertEqual(operations.SNAPSHOT_CHUNK_KIB, opts_by_name(
            'drbd_clvm_snapshot_chunk_kib').default)

    def test_chosen_chunk_for_the_snapshot_and_its_revert(self):
        ops = self._ops(snapshot_chunk_kib=4)
        ops.create_snapshot('snap', 'origin', 'id-snap')
        ops.revert_to_snapshot('origin', 'snap', 'id-snap')
        self.assertEqual(['4k', '4k'], self._snapshot_chunks())
        self.assertEqual(['origin', 'snap'], sorted(
            lv.name for lv in ops.vg.logical_volumes()))
