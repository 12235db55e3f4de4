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
