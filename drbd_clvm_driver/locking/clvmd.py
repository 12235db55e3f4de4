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

"""clvmd (``locking_type = 3``) for legacy cman/corosync clusters.

No current distribution packages clvmd (LVM 2.03 removed it); this plugin
is tested against the documented output of its commands.
"""

import re

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base

#: the 6th vg_attr character of a clustered VG
_CLUSTERED_ATTR = 'c'


class Clvmd(base.LockManager):
    """A clustered VG (``vgchange -cy``) with clvmd on both nodes."""

    name = 'clvmd'
    # locking_type 3 takes VG locks in clvmd instead of LVM's lock files
    lvm_file_locks = False
    # LVM 2.02's shell with clvmd cannot be shown on a real cluster here
    lvm_shell = False

    def check_volume_group(self, vg):
        if len(vg.attr) < 6 or vg.attr[5] != _CLUSTERED_ATTR:
            raise exception.VolumeGroupNotClustered(
                'Volume group %s is not clustered (vg_attr %s): with '
                'drbd_clvm_lock_manager=clvmd run vgchange -cy %s while '
                'clvmd runs on both nodes' % (vg.name, vg.attr, vg.name))
        exit_code, config = self._output(['lvmconfig', 'global/locking_type'])
        if not re.search(r'^locking_type=3$', config, re.MULTILINE):
            raise exception.VolumeGroupNotClustered(
                'drbd_clvm_lock_manager=clvmd needs locking_type = 3 in the '
                'global section of lvm.conf (lvmconfig says: %s); run '
                'lvmconf --enable-cluster' % config.strip())

    def health_readings(self):
        return [('pidof', 'clvmd')]

    def health_from(self, results):
        if not self._running(results, 'clvmd'):
            return ['clvmd is not running: start it (service clvm start) on '
                    'this node']
        return []
