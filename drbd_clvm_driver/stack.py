"""Assembling one node's layers, the same way for the driver, the operator
command and the scenario tests.
"""

import dataclasses

from drbd_clvm_driver import cluster
from drbd_clvm_driver import drbd
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations


@dataclasses.dataclass(frozen=True)
class NodeStack:
    """What sits under the driver on one node."""

    lock_manager: locking_base.LockManager
    gate: cluster.SafetyGate
    ops: operations.VolumeOperations


def build(runner, vg_name, drbd_resource, lock_manager='lvmlockd',
          lock_path=None, volume_clear='zero', volume_clear_size=0,
          lvm_timeout=120, check_timeout=10, data_timeout=3600):
    """Build the layers over ``runner``; the arguments mirror the options
    in :mod:`drbd_clvm_driver.opts` and Cinder's ``volume_clear``.
    """
    manager = locking_base.load(lock_manager, runner, vg_name, check_timeout)
    gate = cluster.SafetyGate(
        drbd.DrbdResource(runner, drbd_resource, check_timeout),
        cluster.Quorum(runner, check_timeout), manager)
    ops = operations.VolumeOperations(
        lvm.ClusteredVG(runner, vg_name, lvm_timeout), gate,
        operations.NodeLocks(lock_path, vg_name),
        volume_clear=volume_clear, volume_clear_size=volume_clear_size,
        data_timeout=data_timeout)
    return NodeStack(manager, gate, ops)
