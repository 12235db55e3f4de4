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

"""lvmlockd with dlm: the lock manager every current distribution ships."""

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base

_LOCK_TYPE = 'dlm'
#: DLM_RS_DONE of the kernel's ``recover_status`` (hex): this node finished
#: its last recovery. Recorded: ``ff`` on the node that led it, ``55`` on
#: the other; ``0`` while the dlm has the lockspace stopped.
_RECOVERY_DONE = 0x40


def _recovery_done(recover_status):
    try:
        return bool(int(recover_status.strip(), 16) & _RECOVERY_DONE)
    except ValueError:
        return False


class LvmLockd(base.LockManager):
    """A shared VG (``vgcreate --shared --lock-type dlm``) under lvmlockd.

    Health means: lvmlockd and dlm_controld run, and the kernel has the
    VG's dlm lockspace (``lvm_VG``, which lvmlockd joins at ``vgchange
    --lock-start``) running, not stopped for recovery. All three are files
    the privileged daemon reads; quorum itself is the safety gate's own
    check.
    """

    name = 'lvmlockd'

    def check_volume_group(self, vg):
        if vg.lock_type == _LOCK_TYPE:
            return
        if not vg.lock_type or vg.lock_type == 'none':
            fix = ('convert it while no LV is active: vgchange --lock-type '
                   'dlm %s' % vg.name)
        else:
            fix = ('set drbd_clvm_lock_manager to match it, or convert the '
                   'VG to dlm')
        raise exception.VolumeGroupNotClustered(
            'Volume group %s has lock type %r, drbd_clvm_lock_manager='
            'lvmlockd needs a shared VG with lock type dlm: %s' % (
                vg.name, vg.lock_type or 'none', fix))

    def health_readings(self):
        return [('pidof', 'lvmlockd'), ('pidof', 'dlm_controld'),
                self._lockspace_status()]

    def health_from(self, results):
        reasons = []
        if not self._running(results, 'lvmlockd'):
            reasons.append('lvmlockd is not running: start it on this node')
        if not self._running(results, 'dlm_controld'):
            reasons.append('dlm_controld is not running: start dlm on this '
                           'node')
        status = results.output(self._lockspace_status(), check=False)
        if status.exit_code != 0:
            reasons.append('the dlm has no lockspace for VG %s (lvm_%s): run '
                           'vgchange --lock-start %s' % (
                               self.vg_name, self.vg_name, self.vg_name))
        elif not _recovery_done(status.stdout):
            reasons.append(
                'the dlm lockspace of VG %s is stopped for recovery '
                '(recover_status %s): a node joined or left and the dlm '
                'waits for quorum or fencing' % (self.vg_name,
                                                 status.stdout.strip()))
        return reasons

    def _lockspace_status(self):
        return ('cat', '/sys/kernel/dlm/lvm_%s/recover_status' % self.vg_name)
