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

"""The clustered volume group: reading it, and changing its logical volumes.

Every method issues at most one LVM command, so callers can count and order
them.  LVM's refusals in a shared VG become this project's exceptions, with
LVM's own words kept in the message (the texts were recorded on the lab
cluster, see tests/unit/fixtures/recorded; the runners start LVM in the C
locale, so it prints them in these words on any node).
"""

import dataclasses
import json
import re
import typing

from drbd_clvm_driver import exception

#: characters LVM accepts in an LV name; a leading '-' would read as an option
_NAME = re.compile(r'[A-Za-z0-9_+.][A-Za-z0-9_+.-]*')
#: LVM rejects these prefixes ("Names starting "snapshot" are reserved")
_RESERVED_PREFIXES = ('snapshot', 'pvmove')
#: LVM uses these inside names of hidden sub-volumes
_RESERVED_PARTS = ('_cdata', '_cmeta', '_corig', '_mimage', '_mlog',
                   '_pmspare', '_rimage', '_rmeta', '_tdata', '_tmeta',
                   '_vdata', '_vorigin')
#: LVM's limit is 127; snapshot and temporary names add a little
MAX_NAME_LENGTH = 120
#: LVM tag characters
_TAG = re.compile(r'[A-Za-z0-9_+.:=/!&#-]+')

_VG_FIELDS = ('vg_name,vg_attr,vg_size,vg_free,vg_extent_size,lv_count,'
              'lock_type,vg_uuid,vg_mda_size,vg_mda_free')
_LV_FIELDS = ('lv_name,lv_attr,lv_size,lv_tags,origin,lv_active_locally,'
              'lv_active_remotely,lv_active_exclusively,lv_device_open')

MIB = 1024 * 1024
#: the copy-on-write chunk sizes LVM takes for a (thick) snapshot
SNAPSHOT_CHUNKS_KIB = tuple(2 ** power for power in range(2, 10))


class Activation:
    """``lvchange -a`` modes in a clustered VG."""

    #: active on this node only; what an exported volume and every
    #: snapshot, extend or rename needs
    EXCLUSIVE = 'ey'
    #: active on both nodes at once (live migration); LVM then refuses
    #: snapshot, extend and rename
    SHARED = 'sy'
    INACTIVE = 'n'


def validate_name(name):
    """Raise :class:`~.exception.InvalidInput` unless ``name`` is a safe LV
    name that cannot be read as an option or reach a path.
    """
    if not isinstance(name, str) or not name:
        raise exception.InvalidInput('LV name must be a non-empty string, '
                                     'not %r' % (name,))
    problem = None
    if len(name) > MAX_NAME_LENGTH:
        problem = 'longer than %d characters' % MAX_NAME_LENGTH
    elif name in ('.', '..') or not _NAME.fullmatch(name):
        problem = ('only ASCII letters, digits and _+.- are allowed, and '
                   'not a leading -')
    elif name.startswith(_RESERVED_PREFIXES):
        problem = 'names starting with %s are reserved by LVM' % (
            ' or '.join(_RESERVED_PREFIXES))
    elif any(part in name for part in _RESERVED_PARTS):
        problem = 'it contains a part LVM reserves for hidden volumes'
    if problem:
        raise exception.InvalidInput('Invalid LV name %r: %s' % (name,
                                                                 problem))
    return name


def validate_size_mib(size_mib):
    """Raise unless ``size_mib`` is a positive whole number of MiB.
    """
    if isinstance(size_mib, bool) or not isinstance(size_mib, int):
        raise exception.InvalidInput('Size must be a whole number, not %r'
                                     % (size_mib,))
    if size_mib <= 0:
        raise exception.InvalidInput('Size must be positive, not %d'
                                     % size_mib)
    return size_mib


def validate_tag(tag):
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise exception.InvalidInput('Invalid LV tag %r' % tag)
    return tag


@dataclasses.dataclass(frozen=True)
class VolumeGroup:
    name: str
    attr: str
    size_bytes: int
    free_bytes: int
    extent_bytes: int
    lv_count: int
    lock_type: str
    uuid: str
    #: the size of the metadata area, and how much of the VG's metadata
    #: may still grow before LVM refuses every change (None where the
    #: report lacks them)
    metadata_area_bytes: typing.Optional[int] = None
    metadata_free_bytes: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class LogicalVolume:
    name: str
    attr: str
    size_bytes: int
    tags: tuple
    origin: str
    active_locally: bool
    active_remotely: bool
    active_exclusively: bool
    open: bool

    @property
    def is_snapshot(self):
        return self.attr[:1] in ('s', 'S')

    @property
    def is_origin(self):
        """It has snapshots: lvmlockd then activates it exclusively only."""
        return self.attr[:1] in ('o', 'O')

    @property
    def size_mib(self):
        return self.size_bytes // MIB

    @property
    def is_active(self):
        return self.active_locally or self.active_remotely

    def tag_value(self, prefix):
        """The part after ``prefix`` of the first tag that starts with it."""
        return tag_value(self.tags, prefix)


def tag_value(tags, prefix):
    """The part after ``prefix`` of the first of ``tags`` that starts with
    it, or None.
    """
    return next((tag[len(prefix):] for tag in tags
                 if tag.startswith(prefix)), None)


def _bytes(value):
    return int(value.rstrip('B') or 0)


def _report(text, kind):
    try:
        return json.loads(text)['report'][0][kind]
    except (ValueError, KeyError, IndexError) as error:
        raise exception.DrbdClvmError('Cannot read the LVM %s report (%s): '
                                      '%r' % (kind, error, text[:300]))


def _optional_bytes(value):
    return None if value is None else _bytes(value)


def _volume_group(row):
    return VolumeGroup(
        name=row['vg_name'], attr=row['vg_attr'],
        size_bytes=_bytes(row['vg_size']), free_bytes=_bytes(row['vg_free']),
        extent_bytes=_bytes(row['vg_extent_size']),
        lv_count=int(row.get('lv_count') or 0),
        lock_type=row.get('vg_lock_type', ''), uuid=row.get('vg_uuid', ''),
        metadata_area_bytes=_optional_bytes(row.get('vg_mda_size')),
        metadata_free_bytes=_optional_bytes(row.get('vg_mda_free')))


def _tags(row):
    return tuple(tag for tag in row.get('lv_tags', '').split(',') if tag)


def _logical_volume(row):
    return LogicalVolume(
        name=row['lv_name'], attr=row['lv_attr'],
        size_bytes=_bytes(row['lv_size']), tags=_tags(row),
        origin=row.get('origin', ''),
        active_locally=bool(row.get('lv_active_locally')),
        active_remotely=bool(row.get('lv_active_remotely')),
        active_exclusively=bool(row.get('lv_active_exclusively')),
        # 'unknown' on a node where the LV is not active (recorded on the
        # gate cluster): not open here.
        open=row.get('lv_device_open') == 'open')


def parse_vgs_json(text):
    """Volume groups from ``vgs --reportformat json --units b``."""
    return [_volume_group(row) for row in _report(text, 'vg')]


def parse_lvs_json(text):
    """Logical volumes from ``lvs --reportformat json --units b``."""
    return [_logical_volume(row) for row in _report(text, 'lv')]


def parse_vg_with_tags_json(text):
    """``(VolumeGroup or None, {LV name: its tags})`` from a ``vgs`` report
    with LV columns: one row per LV, each carrying the VG's fields, and no
    row at all for a VG without LVs (both recorded on the gate cluster).
    """
    rows = _report(text, 'vg')
    if not rows:
        return None, {}
    return _volume_group(rows[0]), {row['lv_name']: _tags(row)
                                    for row in rows}


def parse_pvs_json(text, vg_name):
    """The PVs of ``vg_name`` from ``pvs --reportformat json -o
    pv_name,vg_name``.
    """
    return [row['pv_name'] for row in _report(text, 'pv')
            if row.get('vg_name') == vg_name]


#: ``pvck --dump headers``: where each metadata area's committed copy is,
#: its size and checksum; and the VG and sequence number of its text
_COMMITTED_COPY = re.compile(
    r'^\s*mda_header_\d+\.raw_locn\[0\]\.(?:offset|size|checksum) (\S+)$',
    re.MULTILINE)
_METADATA_TEXT = re.compile(
    r'^\s*metadata text at \d+ crc \S+ # vgname (\S+) seqno (\d+)$',
    re.MULTILINE)


def parse_pvck_commit(text, vg_name):
    """What one PV's ``pvck --dump headers`` says of the last commit of
    ``vg_name``'s metadata, as a value that changes with every commit
    (LVM writes each one to a new place of the area, with its checksum and
    the next sequence number); None where the output does not say it of
    this VG.
    """
    copies = _COMMITTED_COPY.findall(text)
    texts = _METADATA_TEXT.findall(text)
    if not copies or not texts or any(name != vg_name for name, _ in texts):
        return None
    return tuple(copies + [seqno for _, seqno in texts])


#: bytes of a device-mapper sector
SECTOR = 512


def device_mapper_name(vg_name, lv_name):
    """The kernel's name of an LV's device: each name's dashes doubled,
    one dash between them.
    """
    return '%s-%s' % (vg_name.replace('-', '--'), lv_name.replace('-', '--'))


def parse_dmsetup_table(text):
    """``{device name: bytes}`` from ``dmsetup table``: a line per segment
    (``NAME: START LENGTH TARGET ...``, in sectors), summed per device.
    """
    sizes = {}
    for line in text.splitlines():
        name, colon, table = line.partition(': ')
        fields = table.split()
        if colon and len(fields) >= 3 and fields[1].isdigit():
            sizes[name] = sizes.get(name, 0) + int(fields[1]) * SECTOR
    return sizes


#: where an operator reads what to do about a VG's full metadata area
METADATA_AREA_ADVICE = 'see "The VG\'s metadata area" in the admin guide'

#: LVM's exit code for a command it refused while processing it
#: (ECMD_FAILED), as a program and in its shell: every recorded refusal
#: below. LVM has no code or report field per refusal, so which one it was
#: is read from its words.
ECMD_FAILED = 5

# LVM's words for each refusal, as recorded on the lab cluster.
_REFUSALS = (
    ('LV locked by other host', exception.LockedByOtherNode,
     'the other node holds this volume (it is active there, e.g. attached)'),
    ('already locked with incompatible mode', exception.SharedLockConflict,
     'the volume is active in shared mode (both nodes); it must be active '
     'exclusively on one node or inactive for this'),
    ('insufficient free space', exception.InsufficientSpace,
     'the volume group is too full'),
    ('exceeds maximum metadata size', exception.MetadataAreaFull,
     'the VG\'s metadata area is full: no more LVs fit in it, whatever the '
     'free space (delete volumes, or %s)' % METADATA_AREA_ADVICE),
    ('due to failed lock', exception.LockManagerUnavailable,
     'the LVM lock manager refused the VG lock'),
    ('Global lock failed', exception.LockManagerUnavailable,
     'the LVM lock manager has no global lock'),
    # lvmlockd between a node's promotion and the end of its lock start
    ('lock start in progress', exception.LockManagerUnavailable,
     'the VG\'s lockspace is still starting on this node; nothing was '
     'changed, try again in a few seconds'),
    ('already exists in volume group', exception.LogicalVolumeExists,
     'the name is taken'),
    ('Failed to find logical volume', exception.LogicalVolumeNotFound,
     'no such logical volume'),
    ('Volume group "', exception.VolumeGroupNotFound,
     'no such volume group'),
    ('is used by another device', exception.VolumeBusy,
     'the volume is in use'),
    ('in use', exception.VolumeBusy, 'the volume is in use'),
)


def _refusal(error):
    """Map a failed LVM command onto the exception that names the cause."""
    # Only LVM's code makes its words a refusal: another program's failure
    # (the root helper's, say) may well say 'in use'.
    if error.exit_code != ECMD_FAILED:
        return error
    for words, exception_class, meaning in _REFUSALS:
        if words in error.stderr:
            return exception_class('%s: %s (LVM: %s)' % (
                ' '.join(error.argv), meaning, error.stderr.strip()))
    return error


class ClusteredVG:
    """LVM operations on one clustered volume group, through a runner.

    :param runner: a :class:`~drbd_clvm_driver.commands.CommandRunner`.
    :param vg_name: the volume group's name.
    :param timeout: seconds each LVM command may take before it is killed.
    """

    def __init__(self, runner, vg_name, timeout=60):
        self.runner = runner
        self.vg_name = vg_name
        self.timeout = timeout
        #: the VG's PVs, learnt at the first :meth:`last_commit`
        self._pvs = None
        #: ``(commit, VolumeGroup, tags)`` of the last full read
        self._last_read = None

    def lv_path(self, name):
        return '/dev/%s/%s' % (self.vg_name, name)

    def _lvm(self, *argv):
        try:
            return self.runner.run(argv, timeout=self.timeout).stdout
        except exception.CommandFailed as error:
            raise _refusal(error)

    def _lv(self, name):
        return '%s/%s' % (self.vg_name, validate_name(name))

    # Reading.

    def volume_group(self):
        """The VG's report; :class:`~.exception.VolumeGroupNotFound` if
        this node does not see it.
        """
        try:
            rows = parse_vgs_json(self._lvm(
                'vgs', '--reportformat', 'json', '--units', 'b',
                '-o', _VG_FIELDS, self.vg_name))
        except exception.VolumeGroupNotFound:
            rows = []
        if not rows:
            raise exception.VolumeGroupNotFound(
                'Volume group %s not found on %s; check volume_group and '
                'that DRBD is up and the VG lockspace started' % (
                    self.vg_name, self.runner.node or 'this node'))
        return rows[0]

    def last_commit(self):
        """A value that changes with every commit of the VG's metadata, by
        any node, read from its PVs' headers (``pvck``: no VG lock, no
        metadata parsed, direct I/O); None when they do not tell it (an LVM
        without ``pvck --dump``, a PV gone).

        :raises CommandTimeout: the headers could not be read in time.
        """
        try:
            if self._pvs is None:
                self._pvs = parse_pvs_json(self._lvm(
                    'pvs', '--reportformat', 'json', '--units', 'b',
                    '-o', 'pv_name,vg_name'), self.vg_name)
            commits = tuple(parse_pvck_commit(
                self._lvm('pvck', '--dump', 'headers', pv), self.vg_name)
                for pv in self._pvs)
        except exception.CommandTimeout:
            raise  # the VG's read would hang the same: one bound, not two
        except exception.DrbdClvmError:
            commits = ()
        if not commits or None in commits:
            self._pvs = None
            return None
        return commits

    def volume_group_and_tags(self):
        """The VG's report and ``{LV name: its tags}``, in one command while
        it has LVs. No column of an LV's device: LVM then asks the kernel
        nothing per LV (a stats refresh at thousands of LVs). Not read again
        while the PVs' headers show no commit since the last read: the
        headers are read first, so a commit made meanwhile only makes the
        next call read again.
        """
        commit = self.last_commit()
        last = self._last_read
        if commit is not None and last is not None and last[0] == commit:
            return last[1], dict(last[2])
        vg, tags = parse_vg_with_tags_json(self._lvm(
            'vgs', '--reportformat', 'json', '--units', 'b',
            '-o', '%s,lv_name,lv_tags' % _VG_FIELDS, self.vg_name))
        vg = vg or self.volume_group()
        self._last_read = None if commit is None else (commit, vg, tags)
        return vg, dict(tags)

    def logical_volumes(self):
        """Every LV of the VG, read in one command.
        """
        return parse_lvs_json(self._lvm(
            'lvs', '--reportformat', 'json', '--units', 'b',
            '-o', _LV_FIELDS, self.vg_name))

    def device_sizes(self, names):
        """``{LV name: bytes}`` of the devices of the LVs ``names`` that
        this node has, as its kernel has them now (not the metadata's
        size), in one command.
        """
        sizes = parse_dmsetup_table(self._lvm('dmsetup', 'table'))
        devices = {name: device_mapper_name(self.vg_name, name)
                   for name in names}
        return {name: sizes[device] for name, device in devices.items()
                if device in sizes}

    def logical_volume(self, name):
        rows = parse_lvs_json(self._lvm(
            'lvs', '--reportformat', 'json', '--units', 'b',
            '-o', _LV_FIELDS, self._lv(name)))
        return rows[0]

    def find(self, name):
        """The LV or None, in one command."""
        try:
            return self.logical_volume(name)
        except exception.LogicalVolumeNotFound:
            return None

    # Changing.

    def create(self, name, size_mib, tags=(),
               activation=Activation.INACTIVE):
        """Create an LV, inactive unless it is about to be written here."""
        validate_size_mib(size_mib)
        if activation not in (Activation.EXCLUSIVE, Activation.INACTIVE):
            raise exception.InvalidInput('A new LV is inactive or active '
                                         'exclusively, not %r' % activation)
        argv = ['lvcreate', '-y', '-a%s' % activation, '-L', '%dm' % size_mib,
                '-n', validate_name(name)]
        for tag in tags:
            argv += ['--addtag', validate_tag(tag)]
        self._lvm(*argv, self.vg_name)

    def create_snapshot(self, name, origin, size_mib, chunk_kib, tags=()):
        """A copy-on-write snapshot of ``origin``.

        LVM needs the origin exclusively active on this node or inactive;
        it leaves origin and snapshot active exclusively here.

        :param chunk_kib: the copy-on-write unit, one of
            :data:`SNAPSHOT_CHUNKS_KIB` (LVM's default is 4). The kernel
            reads a snapshot in pieces of this size.
        """
        validate_size_mib(size_mib)
        if chunk_kib not in SNAPSHOT_CHUNKS_KIB:
            raise exception.InvalidInput(
                'A snapshot chunk is one of %s KiB, not %r'
                % (', '.join(map(str, SNAPSHOT_CHUNKS_KIB)), chunk_kib))
        argv = ['lvcreate', '-y', '-s', '-c', '%dk' % chunk_kib,
                '-L', '%dm' % size_mib, '-n', validate_name(name)]
        for tag in tags:
            argv += ['--addtag', validate_tag(tag)]
        self._lvm(*argv, self._lv(origin))

    def extend(self, name, size_mib, shared=False):
        """Grow an LV; ``shared`` extends it while it is active shared on
        one or more nodes (lvmlockd's ``--lockopt shupdate``). Each node
        that has it active must then :meth:`refresh` its own device: on the
        gate cluster the other node's device kept its old size until it did.
        """
        validate_size_mib(size_mib)
        argv = ['lvextend', '-L', '%dm' % size_mib]
        if shared:
            argv += ['--lockopt', 'shupdate']
        self._lvm(*argv, self._lv(name))

    def refresh(self, *names):
        """Reload this node's devices of active LVs from the metadata, in
        one command however many (a start-up with hundreds in use).
        """
        self._lvm('lvchange', '--refresh', *map(self._lv, names))

    def remove(self, name):
        self._lvm('lvremove', '-y', self._lv(name))

    def remove_plain(self, name):
        """Remove ``name`` if it is neither a snapshot nor the origin of
        one, in one command: LVM checks and removes under its own VG lock,
        so no snapshot can appear in between (an origin with inactive
        snapshots would go with them under plain ``lvremove -y``; recorded
        on the gate guests).

        :returns: whether it was removed; False also when there is no such
            LV.
        """
        output = self._lvm(
            'lvremove', '-y', '-S', 'lv_name=%s && lv_role!={origin} && '
            'lv_role!={snapshot}' % validate_name(name), self.vg_name)
        # LVM exits 0 whether its selection matched or not: only its words
        # tell.
        return '"%s" successfully removed' % name in output

    def rename(self, name, new_name):
        self._lvm('lvrename', self.vg_name, validate_name(name),
                  validate_name(new_name))

    def activate(self, name, mode):
        """``lvchange -a<mode>`` with an :class:`Activation` mode."""
        if mode not in (Activation.EXCLUSIVE, Activation.SHARED,
                        Activation.INACTIVE):
            raise exception.InvalidInput('Unknown activation mode %r' % mode)
        self._lvm('lvchange', '-a%s' % mode, self._lv(name))

    def change_tags(self, name, add=(), delete=()):
        argv = ['lvchange']
        for tag in add:
            argv += ['--addtag', validate_tag(tag)]
        for tag in delete:
            argv += ['--deltag', validate_tag(tag)]
        self._lvm(*argv, self._lv(name))

    def merge_snapshot(self, snapshot_name):
        """Revert the origin to ``snapshot_name``; the snapshot is used up."""
        self._lvm('lvconvert', '-y', '--merge', self._lv(snapshot_name))
