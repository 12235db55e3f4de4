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

"""The operator command ``drbd-clvm-health`` on the simulator."""

import io
import os
import subprocess
import sys

import fixtures
import testtools

from drbd_clvm_driver.cmd import health
from tests.sim import cluster as sim


class HealthCommandTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = sim.SimulatedCluster(vg_size_mib=4096)
        self.directory = self.useFixture(fixtures.TempDir()).path

    def _cinder_conf(self, volume_group=None, prefix='drbd_clvm_'):
        """node1's cinder.conf; ``prefix`` begins the names of the
        driver's options.
        """
        path = os.path.join(self.directory, 'cinder.conf')
        with open(path, 'w') as handle:
            handle.write('[drbd]\nvolume_group = %s\n%sdrbd_resource = %s\n'
                         '%scluster_node_name = node1\n'
                         '%scluster_peer_nodes = node2\n' % (
                             volume_group or self.cluster.vg_name, prefix,
                             self.cluster.drbd_resource, prefix, prefix))
        return path

    def _run(self, **conf):
        path = self._cinder_conf(**conf)
        out = io.StringIO()
        status = health.main(['--config-file', path],
                             runner=self.cluster.nodes[0].runner, out=out)
        return status, out.getvalue()

    def test_healthy(self):
        status, text = self._run()
        self.assertEqual(health.SAFE, status, text)
        self.assertIn('verdict: changes allowed', text)
        self.assertIn('lock type dlm', text)

    def test_metadata_area_left(self):
        status, text = self._run()
        self.assertIn('metadata area: 508 of 1020 KiB left\n', text)
        self.cluster.set_metadata_area(120 * 1024)
        status, text = self._run()
        self.assertEqual(health.SAFE, status, text)
        self.assertIn('metadata area: 58 of 120 KiB left - nearly full: '
                      'creates will be refused', text)

    def test_cinder_conf_from_before_the_prefix(self):
        # A resource other than the option's default, which only the old
        # name can set.
        self.cluster = sim.SimulatedCluster(vg_size_mib=4096,
                                            drbd_resource='r5')
        status, text = self._run(prefix='')
        self.assertEqual(health.SAFE, status, text)
        self.assertIn('verdict: changes allowed', text)

    def test_configuration_read_in_a_process_of_its_own(self):
        # As the installed command runs: no Cinder service has registered
        # Cinder's objects, which Cinder's LVM driver needs at import.
        result = subprocess.run(
            [sys.executable, '-c', 'import sys\n'
             'from drbd_clvm_driver.cmd import health\n'
             'print(health._configuration(sys.argv[1], "drbd")'
             '.drbd_clvm_cluster_node_name)', self._cinder_conf()],
            capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('node1\n', result.stdout)

    def test_disconnected_drbd(self):
        self.cluster.disconnect_drbd()
        status, text = self._run()
        self.assertEqual(health.UNSAFE, status, text)
        self.assertIn('not Connected', text)
        self.assertIn('verdict: changes refused', text)

    def test_missing_volume_group(self):
        status, text = self._run(volume_group='nope')
        self.assertEqual(health.BROKEN, status, text)
        self.assertIn('Volume group nope not found', text)

    def test_peer_fenced_serves_alone(self):
        self.cluster.fence(self.cluster.nodes[1])
        status, text = self._run()
        self.assertEqual(health.SAFE, status, text)
        self.assertIn('left the cluster: node2', text)
        self.assertIn('degraded: DRBD r0 is WFConnection with the peer fenced '
                      '(Outdated): this node serves alone until the peer '
                      'rejoins', text)
        self.assertIn('verdict: changes allowed, degraded', text)
