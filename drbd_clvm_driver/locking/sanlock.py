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

Which peers have left is what sanlock reads of their leases: a host whose
lease this node has not seen renewed for 8 I/O timeouts (sanlock's
``id_renewal_fail_seconds``, 80 s by default) has failed, and its watchdog
resets it before its locks may be taken (60 s later).
"""

import dataclasses
import re

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import base

_LOCK_TYPE = 'sanlock'
#: the lockspaces sanlock holds, one ``s NAME:HOST_ID:PATH:OFFSET`` line
#: each, `` ADD`` or `` REM`` after it while joining or leaving
LOCKSPACES = ('sanlock', 'client', 'gets')


#: I/O timeouts without a renewal after which sanlock takes a host for
#: failed (``id_renewal_fail_seconds``)
FAIL_RENEWALS = 8
#: the longest host name sanlock keeps: ``UUID.NODENAME`` cut to 47
#: characters (``NAME_ID_SIZE`` less its NUL), i.e. 10 of the node name
NAME_LIMIT = 47
_HOST_LINE = re.compile(r'^(\d+) timestamp (\d+)$')
_FIELD_LINE = re.compile(r'^\s+(\w+)=(.*)$')
#: the UUID sanlock puts before the node name it makes up its name from
_GENERATED = re.compile(r'^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\.')


@dataclasses.dataclass(frozen=True)
class HostLease:
    """One host's lease in a lockspace, as ``sanlock client host_status
    -D`` shows what this node's sanlock last read of it.

    :param name: the host's sanlock name (``owner_name``).
    :param silent_seconds: since this node last saw the lease renewed, as
        of its last read (``last_check - last_live``).
    """

    host_id: int
    timestamp: int
    name: str
    silent_seconds: int
    io_timeout: int

    @property
    def failed(self):
        return bool(self.io_timeout) and (
            self.silent_seconds >= FAIL_RENEWALS * self.io_timeout)

    @property
    def host(self):
        """The node name sanlock made its name from (or the name it was
        given, ``our_host_name``).
        """
        return _GENERATED.sub('', self.name)


def parse_host_status(text):
    """The :class:`HostLease` of each host ``sanlock client host_status -s
    LOCKSPACE -D`` lists.
    """
    blocks = []
    for line in text.splitlines():
        host = _HOST_LINE.match(line)
        if host:
            blocks.append(([int(host.group(1)), int(host.group(2))], {}))
            continue
        field = _FIELD_LINE.match(line)
        if field and blocks:
            blocks[-1][1][field.group(1)] = field.group(2)
    return [HostLease(host_id, timestamp, fields.get('owner_name', ''),
                      int(fields.get('last_check', 0)) -
                      int(fields.get('last_live', 0)),
                      int(fields.get('io_timeout', 0)))
            for (host_id, timestamp), fields in blocks]


def _peer_named(names, lease):
    """The peer of ``names`` ``lease`` belongs to, or None. A name sanlock
    cut short matches the one peer it begins, and none if it begins several.
    """
    node = names.node_of(lease.host)
    if node is None and len(lease.name) >= NAME_LIMIT:
        cut = lease.host.lower()
        starting = [peer for peer in names.peers
                    if (peer.lower() + '.').startswith(cut)]
        node = starting[0] if len(starting) == 1 else None
    return None if node is None or names.is_local(node) else node


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

    def host_status(self):
        """The command that lists the hosts' leases in the VG's
        lockspace.
        """
        return ('sanlock', 'client', 'host_status', '-s',
                'lvm_%s' % self.vg_name, '-D')

    def departed(self, names):
        """The peers whose every lease in the VG's lockspace has failed;
        None where sanlock cannot be asked. A peer whose sanlock name does
        not lead to it (a node name longer than 10 characters that begins
        another's too: set sanlock's ``our_host_name``) is never counted.
        """
        exit_code, text = self._output(self.host_status())
        if exit_code != 0:
            return None
        failed, live = set(), set()
        for lease in parse_host_status(text):
            node = _peer_named(names, lease)
            if node is not None:
                (failed if lease.failed else live).add(node)
        # a node that came back under another host id is not gone
        return frozenset(failed - live)

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
