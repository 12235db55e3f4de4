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

"""Driver classes Cinder's volume manager can load by class path, each bound
to one node of a shared simulated cluster."""

from cinder.volume import manager

from drbd_clvm_driver import driver
from tests.sim import cluster as sim

#: the cluster both nodes' drivers talk to; tests replace it in setUp
CLUSTER = sim.SimulatedCluster(vg_size_mib=64 * 1024)


def reset_cluster():
    global CLUSTER
    CLUSTER = sim.SimulatedCluster(vg_size_mib=64 * 1024)
    return CLUSTER


class NodeOneDriver(driver.DrbdClvmVolumeDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, runner=CLUSTER.nodes[0].runner, **kwargs)


class NodeTwoDriver(driver.DrbdClvmVolumeDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, runner=CLUSTER.nodes[1].runner, **kwargs)


def start_manager(testcase, node, driver_class, cluster_name):
    """Cinder's volume manager for ``node`` (host ``<node>@drbd``) in
    ``cluster_name``, loading ``driver_class`` from this module the way
    ``volume_driver`` in cinder.conf does, started as the service starts it.
    """
    testcase.override_config('volume_driver',
                             'tests.functional.drivers.%s' % driver_class,
                             group='backend_defaults')
    volume_manager = manager.VolumeManager(host='%s@drbd' % node,
                                           cluster=cluster_name)
    volume_manager.init_host(added_to_cluster=None, service_id=None)
    testcase.assertTrue(volume_manager.driver.initialized)
    testcase.addCleanup(volume_manager.driver.peer_server.stop)
    return volume_manager
