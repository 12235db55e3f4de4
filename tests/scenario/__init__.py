"""Two-node scenarios, run on the simulator or on the real lab cluster.

With ``DRBD_CLVM_CLUSTER_STATE`` set (the cluster gate sets it), the same
tests drive the two real guests; without it, the simulator.
"""
