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

"""Clearing what a test made from the VG, quickly.

A test's own checks are over by then: its volumes go in one ``lvremove``
for the snapshots and one for the rest, not one driver delete each (with
its cluster checks before and after), which in the emulated guests took
minutes for the hundred volumes of one scenario test.
"""

#: seconds for one ``lvremove`` of a test's volumes
REMOVE_TIMEOUT = 300


def remove(node, vg_name, lvs):
    """Remove ``lvs`` (LV reports; active on no node) on ``node``."""
    snapshots = [lv.name for lv in lvs if lv.is_snapshot]
    others = [lv.name for lv in lvs if not lv.is_snapshot]
    # Snapshots first: an origin's removal would take them along, and the
    # command would then fail on a name it no longer finds.
    for names in (snapshots, others):
        if names:
            node.runner.run(['lvremove', '-y'] + [
                '%s/%s' % (vg_name, name) for name in names],
                timeout=REMOVE_TIMEOUT)
