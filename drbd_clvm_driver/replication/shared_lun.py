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

"""A shared LUN: one disk (iSCSI, FC, a multipath map) every node sees.

There is one copy of the data, so a metadata write that completed is on
the disk every node reads: nothing needs confirming after a change. What
must hold before it is that this node reaches the disk: the device is
present, not suspended (device-mapper), and at least one of its paths is
running. All of it is read from sysfs, files the privileged daemon reads
without starting a program. Quorum is not this plugin's business: the lock
manager says whether it needs corosync (lvmlockd with dlm does, with sanlock
it does not).
"""

import dataclasses
import os.path

from drbd_clvm_driver.replication import base

SYS_BLOCK = '/sys/class/block'
#: a path's ``device/state``: SCSI says running, NVMe live
_RUNNING = ('running', 'live')


@dataclasses.dataclass(frozen=True)
class SharedLunState:
    """The shared LUN as this node sees it.

    :param kernel_name: the block device's name in the kernel (``dm-3``,
        ``sdb``); None where the path leads to no device.
    :param paths: ``(kernel name, state)`` of each disk under it: the
        device itself, or the paths of a multipath map; the state is None
        where the disk has none to read (virtio).
    """

    device: str
    kernel_name: str
    present: bool
    suspended: bool = False
    paths: tuple = ()
    generation: str = None

    def describe(self):
        if not self.present:
            return '%s absent' % self.device
        return '%s (%s)%s, paths %s' % (
            self.device, self.kernel_name,
            ' suspended' if self.suspended else '',
            ', '.join('%s %s' % (name, state or 'present')
                      for name, state in self.paths) or 'none')


def _cat(*parts):
    return ('cat', os.path.join(SYS_BLOCK, *parts))


class SharedLun(base.Replication):
    """The block device ``drbd_clvm_shared_lun_device`` names (a stable
    path such as ``/dev/disk/by-id/...`` or ``/dev/mapper/NAME``).

    Where the path points and which disks are under it is read through the
    runner too (``readlink -f``, ``ls``: files the privileged daemon reads
    itself), on the node the commands run on, before each check: multipath
    maps gain and lose paths.
    """

    name = 'shared_lun'
    target_option = 'drbd_clvm_shared_lun_device'
    needs_quorum = False

    @property
    def label(self):
        return 'the shared LUN %s' % self.target

    def _resolve(self):
        return ('readlink', '-f', self.target)

    def _disks(self):
        """The device's kernel name (None where the path leads nowhere)
        and the disks under it.
        """
        answer = self.runner.read([self._resolve()], self.timeout).output(
            self._resolve(), check=False)
        device = answer.stdout.strip()
        if answer.exit_code != 0 or not device.startswith('/dev/'):
            return None, []
        kernel_name = os.path.basename(device)
        slaves = ('ls', os.path.join(SYS_BLOCK, kernel_name, 'slaves'))
        listed = self.runner.read([slaves], self.timeout).output(
            slaves, check=False)
        return kernel_name, listed.stdout.split() or [kernel_name]

    def readings(self, with_generation):
        kernel_name, disks = self._disks()
        if kernel_name is None:
            # gone: the path's own reading says so to state_from
            return [self._resolve()]
        commands = [_cat(kernel_name, 'dev')]
        if kernel_name.startswith('dm-'):
            commands.append(_cat(kernel_name, 'dm', 'suspended'))
        return commands + [_cat(disk, 'device', 'state') for disk in disks]

    def state_from(self, results, with_generation):
        ours = [(argv, argv[1].split('/')) for argv in results
                if argv[0] == 'cat' and argv[1].startswith(SYS_BLOCK + '/')]
        kernel_name = next((parts[-2] for argv, parts in ours
                            if parts[-1] == 'dev'), None)
        if kernel_name is None or results.output(
                _cat(kernel_name, 'dev'), check=False).exit_code != 0:
            return SharedLunState(self.target, kernel_name, present=False)
        suspended = False
        paths = []
        for argv, parts in ours:
            if parts[-2:] == ['dm', 'suspended']:
                suspended = results.output(argv).stdout.strip() != '0'
            elif parts[-2:] == ['device', 'state']:
                answer = results.output(argv, check=False)
                paths.append((parts[-3], answer.stdout.strip()
                              if answer.exit_code == 0 else None))
        return SharedLunState(self.target, kernel_name, True, suspended,
                              tuple(paths))

    def state_from_plain(self, plain):
        return SharedLunState(**dict(
            plain, paths=tuple(tuple(path) for path in plain['paths'])))

    def reasons(self, state):
        if not state.present:
            return ['the shared LUN %s is not present on this node'
                    % state.device]
        reasons = []
        if state.suspended:
            reasons.append('the shared LUN %s (%s) is suspended'
                           % (state.device, state.kernel_name))
        states = [path_state for _, path_state in state.paths]
        if states and not any(path_state in _RUNNING or path_state is None
                              for path_state in states):
            reasons.append('no path to the shared LUN %s is running: %s'
                           % (state.device, state.describe()))
        return reasons

    def confirm_readings(self):
        return []

    def confirmed(self, checked, results):
        return None
