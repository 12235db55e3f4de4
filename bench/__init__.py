"""Benchmarks. Host ones (``python -m bench``): LVM invocations per
operation against Cinder's own LVM driver, and the cost of a stats refresh
as the VG fills up; they need no root or cluster: our driver runs on the
simulator (``tests/sim``), Cinder's on a small in-memory VG
(:mod:`bench.fake_lvm`). The real-cluster timing
(:mod:`bench.cluster_timing`) runs from the gate and needs no Cinder.
"""

try:
    from cinder import objects
except ImportError:
    # Only the cluster timing runs where Cinder is not installed.
    objects = None
else:
    # Cinder's driver modules use the versioned objects at import time, as
    # cinder-volume registers them first.
    objects.register_all()
