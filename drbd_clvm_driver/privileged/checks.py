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

"""What the privileged daemon lets through: every command shape, spelled out.

Each shape is a regular expression over the argument list joined with NUL
(which no argument can contain), so a shape is read left to right like the
command line it allows. The daemon checks every request here before it runs
anything; a caller that skipped its own validation gets
:class:`~drbd_clvm_driver.exception.CommandRefused`, and so does anything a
compromised volume service might send.

Shapes come in families, one per entry point of
:mod:`drbd_clvm_driver.privileged.root`: LVM changes and reports, cluster
state readings (DRBD, corosync, the lock manager), and data copies.
"""

import re

from drbd_clvm_driver import exception

#: an LVM VG or LV name (lvm(8) "VALID NAMES"), at most 120 characters
_NAME = r'[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,119}'
_LV = _NAME + '/' + _NAME
_TAG = r'[A-Za-z0-9_+.:=/!&#-]{1,128}'
#: sizes in MiB, as the driver always passes them
_SIZE = r'[1-9][0-9]{0,9}m'
_FIELDS = r'[a-z_]+(?:,[a-z_]+)*'
_REPORT = r'--reportformat\x00json\x00--units\x00b\x00-o\x00' + _FIELDS
_MINOR = r'[0-9]{1,7}'
_COUNT = r'count=[1-9][0-9]{0,9}'
#: a plugin's name in its stevedore namespace
_PLUGIN = r'[a-z][a-z0-9_]{0,31}'
#: a block device's kernel name (sdb, dm-3, nvme0n1)
_KERNEL_NAME = r'[a-z][a-z0-9:_-]{0,31}'
#: an LV's device node, or the copy-on-write device of a snapshot
_LV_DEVICE = '/dev/' + _LV
_COW_DEVICE = r'/dev/mapper/[A-Za-z0-9_+.-]{1,250}-cow'

SHAPES = {
    'lvm': (
        r'lvcreate\x00-y\x00-a(?:ey|n)\x00-L\x00%s\x00-n\x00%s'
        r'(?:\x00--addtag\x00%s)*\x00%s' % (_SIZE, _NAME, _TAG, _NAME),
        r'lvcreate\x00-y\x00-s\x00-c\x00(?:4|8|16|32|64|128|256|512)k'
        r'\x00-L\x00%s\x00-n\x00%s(?:\x00--addtag\x00%s)*\x00%s'
        % (_SIZE, _NAME, _TAG, _LV),
        r'lvextend\x00-L\x00%s(?:\x00--lockopt\x00shupdate)?\x00%s'
        % (_SIZE, _LV),
        r'lvchange\x00--refresh(?:\x00%s)+' % _LV,
        r'lvchange\x00-a(?:ey|sy|n)\x00' + _LV,
        r'lvchange(?:\x00--(?:add|del)tag\x00%s)+\x00%s' % (_TAG, _LV),
        r'lvremove\x00-y\x00' + _LV,
        r'lvremove\x00-y\x00-S\x00lv_name=%s && lv_role!=\{origin\} && '
        r'lv_role!=\{snapshot\}\x00%s' % (_NAME, _NAME),
        r'lvrename\x00%s\x00%s\x00%s' % (_NAME, _NAME, _NAME),
        r'lvconvert\x00-y\x00--merge\x00' + _LV,
        r'lvs\x00%s\x00(?:%s|%s)' % (_REPORT, _NAME, _LV),
        r'vgs\x00%s\x00%s' % (_REPORT, _NAME),
        r'pvs\x00' + _REPORT,
        r'pvck\x00--dump\x00headers\x00/dev(?:/[A-Za-z0-9_:.+-]+)+',
        r'lvmconfig\x00global/locking_type',
        r'dmsetup\x00table',
    ),
    'cluster_state': (
        r'cat\x00/proc/drbd',
        r'cat\x00/run/drbd-clvm/fence/failing',
        r'cat\x00/sys/kernel/debug/drbd/minors/%s/data_gen_id' % _MINOR,
        r'drbdadm\x00sh-minor\x00' + _NAME,
        r'drbdsetup\x00status\x00--json\x00' + _NAME,
        r'drbdsetup\x00get-gi\x00' + _MINOR,
        r'drbdsetup\x00get-gi\x00%s\x00[0-9]{1,2}\x00[0-9]{1,5}' % _NAME,
        r'corosync-quorumtool\x00-[sl]',
        r'cat\x00/sys/kernel/dlm/lvm_%s/recover_status' % _NAME,
        r'pidof\x00(?:lvmlockd|dlm_controld|clvmd|sanlock|wdmd)',
        r'sanlock\x00client\x00gets',
        r'sanlock\x00client\x00host_status\x00-s\x00lvm_%s\x00-D' % _NAME,
        # a shared LUN: its device, the disks under it, present, not
        # suspended, its paths running
        r'readlink\x00-f\x00/dev(?:/[A-Za-z0-9_:.+-]+)+',
        r'ls\x00/sys/class/block/%s/slaves' % _KERNEL_NAME,
        r'cat\x00/sys/class/block/%s/(?:dev|dm/suspended|device/state)'
        % _KERNEL_NAME,
    ),
    'data': (
        r'dd\x00if=%s\x00of=%s\x00bs=1M\x00%s\x00iflag=direct'
        r'\x00oflag=direct\x00conv=(?:sparse,)?fdatasync' % (
            _LV_DEVICE, _LV_DEVICE, _COUNT),
        r'fallocate\x00--punch-hole\x00--keep-size\x00--offset\x000'
        r'\x00--length\x00[1-9][0-9]{0,15}\x00' + _LV_DEVICE,
        r'dd\x00if=/dev/zero\x00of=(?:%s|%s)\x00bs=1M\x00%s'
        r'\x00oflag=direct\x00conv=fdatasync' % (_LV_DEVICE, _COW_DEVICE,
                                                 _COUNT),
    ),
}

_COMPILED = {family: [re.compile(shape) for shape in shapes]
             for family, shapes in SHAPES.items()}

#: the program each family's commands start with
PROGRAMS = {family: {shape.split('\\x00', 1)[0] for shape in shapes}
            for family, shapes in SHAPES.items()}


def family_of(argv):
    """The family whose entry point runs ``argv``, or None."""
    program = argv[0] if argv else None
    return next((family for family, programs in PROGRAMS.items()
                 if program in programs), None)


def data_devices(argv):
    """The device paths a data command (already checked) reads or writes.
    """
    if argv[0] == 'dd':
        return [arg.split('=', 1)[1] for arg in argv[1:3]]
    return [argv[-1]]


def check(family, argv):
    """Return ``argv`` as a list of strings if ``family`` allows it.

    :raises CommandRefused: naming the command, when no shape of the family
        matches it, an argument is not a string or holds a NUL, or a path
        or name is ``.`` or ``..``.
    """
    shown = ' '.join(str(arg) for arg in argv)[:300]
    if not (isinstance(argv, (list, tuple)) and argv
            and all(isinstance(arg, str) and '\x00' not in arg
                    for arg in argv)):
        raise exception.CommandRefused(
            'Refused %r: a command is a non-empty list of strings' % shown)
    if any(part in ('.', '..') for arg in argv for part in
           re.split('[/=]', arg)):
        raise exception.CommandRefused(
            'Refused %r: "." and ".." are not names' % shown)
    joined = '\x00'.join(argv)
    if not any(shape.fullmatch(joined) for shape in _COMPILED[family]):
        raise exception.CommandRefused(
            'Refused %r: not a %s command the driver runs' % (shown, family))
    return list(argv)


def check_flag(name, value):
    """Refuse a flag argument that is not a bool."""
    if not isinstance(value, bool):
        raise exception.CommandRefused(
            'Refused %s=%r: a flag is True or False' % (name, value))


#: what a safety gate's description (``SafetyGate.spec``) may hold
_GATE_SPEC = {
    'vg_name': re.compile(_NAME).fullmatch,
    'replication': re.compile(_PLUGIN).fullmatch,
    # a DRBD resource's name, or a block device's path (no . or ..)
    'target': re.compile(r'%s|/dev(?:/(?!\.\.?(?:/|$))[A-Za-z0-9_:.+-]+)+'
                         % _NAME).fullmatch,
    'lock_manager': re.compile(_PLUGIN).fullmatch,
}
#: the longest bound a gate's readings may have, in seconds
MAX_GATE_TIMEOUT = 3600


def check_gate_spec(spec):
    """Return ``spec`` as a dict if it describes a safety gate: a VG, a
    replication plugin's name and target (a DRBD resource, a device path),
    a lock-manager plugin's name and a reading bound in seconds.

    :raises CommandRefused: anything else.
    """
    if not (isinstance(spec, dict)
            and set(spec) == set(_GATE_SPEC) | {'timeout'}
            and all(isinstance(spec[key], str) and matches(spec[key])
                    for key, matches in _GATE_SPEC.items())
            and isinstance(spec['timeout'], int)
            and not isinstance(spec['timeout'], bool)
            and 0 < spec['timeout'] <= MAX_GATE_TIMEOUT):
        raise exception.CommandRefused(
            'Refused %r: not a safety gate\'s description'
            % (str(spec)[:300],))
    return dict(spec)
