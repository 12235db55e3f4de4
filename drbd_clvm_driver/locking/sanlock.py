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

"""lvmlockd with sanlock: leases on the shared disk itself, no corosync.

Every host renews its lease (its ``host_id``) in the VG's lockspace on the
shared disk every few seconds; a host that cannot renew loses its locks,
and its watchdog (``wdmd``) resets it before another host may take them.
So no quorum is needed, and health means: lvmlockd, sanlock and wdmd run,
and sanlock holds the VG's lockspace (``lvm_VG``, which ``vgchange
--lock-start`` joins), neither still joining it nor leaving it.
"""

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base

_LOCK_TYPE = 'sanlock'
#: the lockspaces sanlock holds, one ``s NAME:HOST_ID:PATH:OFFSET`` line
#: each, `` ADD`` or `` REM`` after it while joining or leaving
LOCKSPACES = ('sanlock', 'client', 'gets')


def parse_lockspaces(text):
    """``{lockspace name: '' | 'ADD' | 'REM'}`` from ``sanlock client
    gets``.
    """
    lockspaces = {}
    for line in text.splitlines():
        if line.startswith('s '):
            spec, _, change = line[2:].partition(' ')
            lockspaces[spec.split(':', 1)[0]] = change.strip()
    return lockspaces


class Sanlock(base.LockManager):
    """A shared VG (``vgcreate --shared --lock-type sanlock``) under
    lvmlockd, on a disk every host sees.
    """

    name = 'sanlock'
    needs_quorum = False

    def check_volume_group(self, vg):
        if vg.lock_type == _LOCK_TYPE:
            return
        raise exception.VolumeGroupNotClustered(
            'Volume group %s has lock type %r, drbd_clvm_lock_manager='
            'sanlock needs a shared VG with lock type sanlock: set '
            'drbd_clvm_lock_manager to match it, or convert it while no LV '
            'is active (vgchange --lock-type '
            'none, then vgchange --lock-type sanlock %s)' % (
                vg.name, vg.lock_type or 'none', vg.name))

    def health_readings(self):
        return [('pidof', 'lvmlockd'), ('pidof', 'sanlock'),
                ('pidof', 'wdmd'), LOCKSPACES]

    def health_from(self, results):
        reasons = ['%s is not running: start it on this node' % daemon
                   for daemon in ('lvmlockd', 'sanlock', 'wdmd')
                   if not self._running(results, daemon)]
        if len(reasons) == 3:
            return reasons
        answer = results.output(LOCKSPACES, check=False)
        lockspace = 'lvm_%s' % self.vg_name
        change = parse_lockspaces(answer.stdout).get(lockspace)
        if change is None:
            reasons.append(
                'sanlock holds no lockspace for VG %s (%s): run vgchange '
                '--lock-start %s' % (self.vg_name, lockspace, self.vg_name))
        elif change:
            reasons.append(
                'sanlock is %s the lockspace of VG %s (%s): wait until it '
                'has joined' % ('joining' if change == 'ADD' else 'leaving',
                                self.vg_name, lockspace))
        return reasons
