"""Driver classes Cinder's volume manager can load by class path, each bound
to one node of a shared simulated cluster."""

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
