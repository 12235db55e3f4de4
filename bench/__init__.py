"""Host benchmarks: LVM invocations per operation against Cinder's own
LVM driver, and the cost of a stats refresh as the VG fills up.

Nothing here needs root or a cluster: our driver runs on the simulator
(``tests/sim``), Cinder's on a small in-memory VG (:mod:`bench.fake_lvm`).
Run ``python -m bench``.
"""

from cinder import objects

# Cinder's driver modules use the versioned objects at import time, as
# cinder-volume registers them first.
objects.register_all()
