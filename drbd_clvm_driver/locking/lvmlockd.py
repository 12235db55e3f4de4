"""lvmlockd with dlm: the lock manager every current distribution ships."""

import re

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base

_LOCK_TYPE = 'dlm'


class LvmLockd(base.LockManager):
    """A shared VG (``vgcreate --shared --lock-type dlm``) under lvmlockd.

    Health means: lvmlockd answers, it has the VG's dlm lockspace started
    (``LS dlm lvm_VG`` in ``lvmlockctl --info``, not marked ``REM:``), and
    dlm_controld is quorate.
    """

    name = 'lvmlockd'

    def check_volume_group(self, vg):
        if vg.lock_type == _LOCK_TYPE:
            return
        if not vg.lock_type or vg.lock_type == 'none':
            fix = ('convert it while no LV is active: vgchange --lock-type '
                   'dlm %s' % vg.name)
        else:
            fix = 'set lock_manager to match it, or convert the VG to dlm'
        raise exception.VolumeGroupNotClustered(
            'Volume group %s has lock type %r, lock_manager=lvmlockd needs '
            'a shared VG with lock type dlm: %s' % (
                vg.name, vg.lock_type or 'none', fix))

    def health(self):
        reasons = []
        exit_code, info = self._output(['lvmlockctl', '--info'])
        lockspace = re.search(r'^LS dlm (REM:)?lvm_%s$' % re.escape(
            self.vg_name), info, re.MULTILINE)
        if exit_code != 0:
            reasons.append('lvmlockd is not running (lvmlockctl --info: %s)'
                           % info.strip())
        elif not lockspace:
            reasons.append('lvmlockd has no lockspace for VG %s: run '
                           'vgchange --lock-start %s' % (self.vg_name,
                                                         self.vg_name))
        elif lockspace.group(1):
            reasons.append('lvmlockd is removing the lockspace of VG %s '
                           '(lvmlockd stopping or lock-stop in progress)'
                           % self.vg_name)
        exit_code, status = self._output(['dlm_tool', 'status'])
        if not re.search(r'\bquorate 1\b', status):
            first_line = (status.strip() or 'no output').splitlines()[0]
            reasons.append('dlm_controld is not running or not quorate '
                           '(dlm_tool status: %s)' % first_line)
        return reasons
