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

"""A simulated two-node cluster: one shared VG on dual-primary DRBD.

It answers the commands the driver runs with the output formats and the
behaviour recorded on the real lab cluster (tests/unit/fixtures/recorded):
lvmlockd's exclusive/shared activation conflicts, snapshots that keep their
origin's activation, LVM creating LVs on a disconnected DRBD (the nodes' views
then diverge; the reconnect discards the second node's), LVM hanging without
corosync, each Primary starting a new DRBD data generation when the link
drops.  Where it and the real cluster disagree, the real one is right and
this file is wrong.
"""

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import threading
import zlib

from drbd_clvm_driver import lvm
from drbd_clvm_driver import runner

EXCLUSIVE, SHARED = 'ey', 'sy'
_LVM_CHANGES = ('lvcreate', 'lvextend', 'lvremove', 'lvrename', 'lvchange',
                'lvconvert')
_LVM = _LVM_CHANGES + ('lvs', 'vgs', 'pvs', 'pvck')
#: the VG's one PV, as on the gate's DRBD pair
PV = '/dev/drbd0'
_VALID_NAME = re.compile(r'[A-Za-z0-9+_.][A-Za-z0-9+_.-]*')
#: the current generation UUID both gate nodes had while healthy
_FIRST_GENERATION = 0x7E3173C55CA44047
_NO_UUID = '0' * 16


class Refused(Exception):
    """An LVM (or other) command failing with ``exit_code`` and stderr."""

    def __init__(self, exit_code, *lines):
        super().__init__(exit_code)
        self.exit_code = exit_code
        self.stderr = ''.join('  %s\n' % line for line in lines)


@dataclasses.dataclass
class _LV:
    name: str
    size_mib: int
    tags: list
    origin: str = ''
    #: node name -> EXCLUSIVE or SHARED (origins and plain LVs only)
    active: dict = dataclasses.field(default_factory=dict)
    #: what the LV holds, to check copies and wipes
    content: str = 'unwritten'
    #: node name -> MiB of that node's device, set when it activates and
    #: changed only by its own extend or refresh (as on the gate cluster)
    device_mib: dict = dataclasses.field(default_factory=dict)


#: LVM's default metadata area, as the gate cluster reported it (vgs -o
#: vg_mda_size)
DEFAULT_METADATA_AREA_BYTES = 1044480
#: the metadata of an empty VG, and what each Cinder volume adds to it
#: (gate cluster: 1,279 LVs filled the default area)
_EMPTY_VG_METADATA_BYTES = 1280
_METADATA_BYTES_PER_LV = 406


class _VolumeGroup:
    """One node's view of the VG metadata (shared while DRBD connects)."""

    def __init__(self, size_mib, extent_mib,
                 metadata_area_bytes=DEFAULT_METADATA_AREA_BYTES):
        self.size_mib = size_mib
        self.extent_mib = extent_mib
        self.lvs = {}
        self.metadata_area_bytes = metadata_area_bytes
        #: LVM's sequence number of the metadata: one more at each change
        self.seqno = 1

    @property
    def metadata_limit_bytes(self):
        """The largest metadata the area takes (about half: LVM writes the
        new copy beside the old one); 521472 bytes of the default area, as
        the gate cluster's lvcreate refusal said.
        """
        return self.metadata_area_bytes // 2 - 768

    def metadata_bytes(self, lv_count=None):
        count = len(self.lvs) if lv_count is None else lv_count
        return _EMPTY_VG_METADATA_BYTES + _METADATA_BYTES_PER_LV * count

    def extents(self, size_mib):
        return -(-size_mib // self.extent_mib)

    def free_extents(self):
        used = sum(self.extents(lv.size_mib) for lv in self.lvs.values())
        return self.size_mib // self.extent_mib - used

    def holder(self, lv):
        """The LV whose activation this LV follows (its origin)."""
        return self.lvs[lv.origin] if lv.origin else lv

    def snapshots_of(self, name):
        return [lv for lv in self.lvs.values() if lv.origin == name]


@dataclasses.dataclass
class _Drbd:
    connection: str = 'Connected'
    role: str = 'Primary'
    disk: str = 'UpToDate'
    out_of_sync_kib: int = 0
    #: the current data generation UUID, as ``drbdsetup get-gi`` prints it
    generation: str = '%016X' % _FIRST_GENERATION
    #: the generation the peer last shared, kept while apart
    bitmap: str = _NO_UUID


class SimulatedNode:
    """One node: a name, a command runner, and devices held open on it."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.runner = _NodeRunner(cluster, self)
        self.open = set()

    def open_lv(self, name):
        self.open.add(name)

    def close_lv(self, name):
        self.open.discard(name)


class _NodeRunner(runner.CommandRunner):
    def __init__(self, cluster, node):
        super().__init__(default_timeout=60, node=node.name)
        self._cluster = cluster
        self._node = node

    def _execute(self, argv, timeout):
        return self._cluster.execute(self._node, argv)


class SimulatedCluster:
    """Two nodes, one DRBD resource, one shared VG.

    :param lock_type: ``'dlm'`` (lvmlockd) or ``'clvmd'``.
    """

    def __init__(self, vg_name='vgc', vg_size_mib=1024 * 1024,
                 extent_mib=4, drbd_resource='r0', drbd_version=(8, 4),
                 lock_type='dlm'):
        self.vg_name = vg_name
        self.drbd_resource = drbd_resource
        # as the driver's stack is built for it (stack.build)
        self.replication = 'drbd'
        self.target = drbd_resource
        self.lock_manager = 'clvmd' if lock_type == 'clvmd' else 'lvmlockd'
        #: a node whose corosync stops comes back (stop_corosync and
        #: start_corosync stand in for the fence and the reboot)
        self.fencing = True
        self.drbd_version = drbd_version
        self.lock_type = lock_type
        self.nodes = (SimulatedNode(self, 'node1'),
                      SimulatedNode(self, 'node2'))
        self.commands = []
        self._lock = threading.RLock()
        shared = _VolumeGroup(vg_size_mib, extent_mib)
        self._views = {node.name: shared for node in self.nodes}
        self._drbd = {node.name: _Drbd() for node in self.nodes}
        self._corosync = {node.name: True for node in self.nodes}
        self._lvmlockd = {node.name: True for node in self.nodes}
        #: nodes fenced and off until they rejoin
        self._fenced = set()
        self._changed_while_apart = set()
        self._patterns = itertools.count(1)
        #: whether the LVs' devices zero ranges themselves (WRITE_ZEROES
        #: through DRBD, as on the gate's guests)
        self.zeroes_in_device = True
        self._generations = itertools.count(_FIRST_GENERATION + 1)
        #: (node name, program) -> what to run before that command next runs
        self._before_next = {}
        #: reconnects that threw away the second node's changes
        self.discarded_changes = 0
        #: (node, snapshot) removed by another node while this node had its
        #: origin active: a device-mapper table out of step with LVM
        self.stale_snapshots = []

    def set_metadata_area(self, area_bytes):
        """The VG's metadata area, as ``vgcreate --metadatasize`` made it."""
        for view in set(self._views.values()):
            view.metadata_area_bytes = area_bytes

    # Faults, as the tests inject them.

    def disconnect_drbd(self):
        """Cut the DRBD link as the gate does; each Primary starts a new
        generation at once (gate-generation/node1-07, node2-08).
        """
        with self._lock:
            first, second = (node.name for node in self.nodes)
            self._drbd[first].connection = 'StandAlone'
            self._drbd[second].connection = 'WFConnection'
            for state in self._drbd.values():
                state.bitmap = state.generation
                state.generation = '%016X' % next(self._generations)
            self._views = {name: copy.deepcopy(view)
                           for name, view in self._views.items()}

    def reconnect_drbd(self):
        """Reconnect the way the real gate does: DRBD calls it split-brain
        (both were Primary), and the second node discards its generation,
        including any change made on it meanwhile.
        """
        with self._lock:
            first, second = (node.name for node in self.nodes)
            if second in self._changed_while_apart:
                self.discarded_changes += 1
            self._changed_while_apart.clear()
            for state in self._drbd.values():
                state.connection = 'Connected'
                state.out_of_sync_kib = 0
                # The resync hands the first node's generation to both
                # (gate-generation/reconnected-*).
                state.generation = self._drbd[first].generation
                state.bitmap = _NO_UUID
            shared = self._views[first]
            self._views = {node.name: shared for node in self.nodes}

    def fence(self, node):
        """``node`` dies and its fence succeeds, as the gate's survivor
        recorded it (gate-faults/corosync-killed/node1-01): the other node
        serves alone (WFConnection, the peer's disk Outdated, a new
        generation); ``node`` holds no activation, leaves corosync's
        membership and answers no command until :meth:`rejoin`.
        """
        with self._lock:
            survivor = self._drbd[self._other(node).name]
            survivor.connection = 'WFConnection'
            survivor.bitmap = survivor.generation
            survivor.generation = '%016X' % next(self._generations)
            self._fenced.add(node.name)
            self._corosync[node.name] = False
            for lv in self._views[node.name].lvs.values():
                lv.active.pop(node.name, None)
                lv.device_mib.pop(node.name, None)
            node.open.clear()

    def rejoin(self, node):
        """The fenced node is back and has resynced from the survivor."""
        with self._lock:
            self._fenced.discard(node.name)
            self._corosync[node.name] = True
            survivor = self._drbd[self._other(node).name]
            for state in self._drbd.values():
                state.connection = 'Connected'
                state.generation = survivor.generation
                state.bitmap = _NO_UUID

    def set_drbd_state(self, node, connection=None, role=None, disk=None):
        with self._lock:
            state = self._drbd[node.name]
            state.connection = connection or state.connection
            state.role = role or state.role
            state.disk = disk or state.disk

    def stop_corosync(self, node):
        self._corosync[node.name] = False

    def start_corosync(self, node):
        self._corosync[node.name] = True

    def stop_lvmlockd(self, node):
        self._lvmlockd[node.name] = False

    def start_lvmlockd(self, node):
        self._lvmlockd[node.name] = True

    def before_next(self, node, program, action):
        """Run ``action()`` when ``node`` next runs ``program``, just before
        the command takes effect: a fault in the middle of an operation,
        after the safety gate has passed it.
        """
        with self._lock:
            self._before_next[node.name, program] = action

    def view(self, node):
        """The VG as ``node`` sees it (tests read contents from it)."""
        return self._views[node.name]

    # Commands.

    def execute(self, node, argv):
        with self._lock:
            self.commands.append((node.name, tuple(argv)))
            program = argv[0]
            action = self._before_next.pop((node.name, program), None)
            if action:
                action()
            if node.name in self._fenced:
                return None, '', ''  # powered off: nothing answers
            if program in _LVM and not self._corosync[node.name]:
                return None, '', ''  # LVM blocks without corosync
            handler = getattr(self, '_cmd_' + program.replace('-', '_'),
                              None)
            if handler is None:
                return 127, '', '%s: command not found\n' % program
            try:
                stdout, stderr = handler(node, list(argv[1:]))
            except Refused as refusal:
                return refusal.exit_code, '', refusal.stderr
            if program in _LVM_CHANGES:
                self._views[node.name].seqno += 1
            return 0, stdout, stderr

    def _other(self, node):
        return next(other for other in self.nodes if other is not node)

    def _peer_state(self, node):
        if self._drbd[node.name].connection != 'Connected':
            fenced = self._other(node).name in self._fenced
            return 'Unknown', 'Outdated' if fenced else 'DUnknown'
        peer = self._drbd[self._other(node).name]
        return peer.role, peer.disk

    def _cmd_cat(self, node, args):
        path = args[0] if len(args) == 1 else None
        if path == '/sys/kernel/debug/drbd/minors/0/data_gen_id' and (
                self.drbd_version[0] < 9):
            state = self._drbd[node.name]
            return ''.join('0x%s\n' % uuid for uuid in (
                state.generation, state.bitmap, _NO_UUID, _NO_UUID)), ''
        if path == '/sys/kernel/dlm/lvm_%s/recover_status' % self.vg_name:
            if not self._lvmlockd[node.name]:
                raise Refused(1, 'cat: %s: No such file or directory' % path)
            # the dlm stops the lockspace when corosync goes
            return ('ff' if self._corosync[node.name] else '0') + '\n', ''
        if path != '/proc/drbd':
            raise Refused(1, 'cat: %s: No such file' % ' '.join(args))
        if self.drbd_version[0] >= 9:
            return 'version: 9.2.8 (api:2/proto:86-122)\n', ''
        state = self._drbd[node.name]
        peer_role, peer_disk = self._peer_state(node)
        protocol = 'C' if state.connection != 'StandAlone' else ' '
        return ('version: 8.4.11 (api:1/proto:86-101)\n'
                'srcversion: B536C32A3EADA868561EFD9 \n'
                ' 0: cs:%s ro:%s/%s ds:%s/%s %s r-----\n'
                '    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 '
                'wo:f oos:%d\n' % (state.connection, state.role, peer_role,
                                   state.disk, peer_disk, protocol,
                                   state.out_of_sync_kib)), ''

    def _cmd_drbdadm(self, node, args):
        if args == ['sh-minor', self.drbd_resource]:
            return '0\n', ''
        raise Refused(10, "'%s' not defined in your config" % args[-1])

    def _cmd_drbdsetup(self, node, args):
        if args[0] == 'get-gi':
            return self._generation_identifiers(node, args[1:]), ''
        if self.drbd_version[0] < 9:
            raise Refused(20, "status: unrecognized option '--json'")
        state = self._drbd[node.name]
        peer_role, peer_disk = self._peer_state(node)
        connections = [] if state.connection == 'StandAlone' else [{
            'peer-node-id': 2, 'name': self._other(node).name,
            'connection-state': state.connection, 'peer-role': peer_role,
            'peer_devices': [{'volume': 0, 'peer-disk-state': peer_disk,
                              'out-of-sync': state.out_of_sync_kib}]}]
        return json.dumps([{
            'name': self.drbd_resource, 'role': state.role,
            'devices': [{'volume': 0, 'minor': 0,
                         'disk-state': state.disk}],
            'connections': connections}], indent=2), ''

    def _generation_identifiers(self, node, device):
        """``drbdsetup get-gi``: by minor for 8.4, by resource, peer node id
        and volume for 9.
        """
        expected = (['0'] if self.drbd_version[0] < 9
                    else [self.drbd_resource, '2', '0'])
        if device != expected:
            raise Refused(20, 'get-gi: no such device: %s' % ' '.join(device))
        state = self._drbd[node.name]
        return '%s:%s:%s:%s:1:1:1:%d:0:0:0\n' % (
            state.generation, state.bitmap, _NO_UUID, _NO_UUID,
            state.connection == 'Connected')

    def _cmd_corosync_quorumtool(self, node, args):
        if not self._corosync[node.name]:
            raise Refused(1, 'Cannot initialize CMAP service')
        members = [other for other in self.nodes
                   if self._corosync[other.name]]
        lines = ['%10d %10d %s%s' % (index + 1, 1, other.name,
                                     ' (local)' if other is node else '')
                 for index, other in enumerate(self.nodes)
                 if other in members]
        membership = ('Membership information\n----------------------\n'
                      '    Nodeid      Votes Name\n%s\n' % '\n'.join(lines))
        if args == ['-l']:
            return '\n' + membership, ''
        return ('Quorum information\n------------------\n'
                'Quorum provider:  corosync_votequorum\n'
                'Nodes:            %d\nQuorate:          Yes\n\n%s' % (
                    len(members), membership)), ''

    def _cmd_lvmconfig(self, node, args):
        if self.lock_type == 'clvmd':
            return 'locking_type=3\n', ''
        raise Refused(5, 'Configuration node global/locking_type not found')

    def _cmd_pidof(self, node, args):
        running = {'clvmd': self.lock_type == 'clvmd',
                   'lvmlockd': (self.lock_type == 'dlm'
                                and self._lvmlockd[node.name]),
                   # dlm_controld ends with its corosync connection
                   'dlm_controld': self._corosync[node.name]}
        if running.get(args[0]):
            return '%d\n' % (1000 + len(args[0])), ''
        raise Refused(1)

    # LVM reports.

    def _target(self, node, spec, reading=False):
        """The view and LV name (or None) that ``VG[/LV]`` names."""
        vg_name, _, lv_name = spec.partition('/')
        if vg_name != self.vg_name:
            raise Refused(5, 'Volume group "%s" not found' % vg_name,
                          'Cannot process volume group %s' % vg_name)
        if not reading and not self._lvmlockd[node.name]:
            raise Refused(5, 'Cannot access VG %s due to failed lock.'
                          % vg_name)
        view = self._views[node.name]
        if lv_name and lv_name not in view.lvs:
            raise Refused(5, 'Failed to find logical volume "%s"' % spec)
        return view, lv_name or None

    def _report(self, kind, rows):
        body = ',\n'.join('                  %s' % json.dumps(
            row, separators=(', ', ':')) for row in rows)
        return ('  {\n      "report": [\n          {\n              "%s": [\n'
                '%s\n              ]\n          }\n      ]\n  }\n'
                % (kind, body)), ''

    def _reading_warning(self, node):
        if self._lvmlockd[node.name]:
            return ''
        return '  Reading VG %s without a lock.\n' % self.vg_name

    def _cmd_vgs(self, node, args):
        view, _ = self._target(node, args[-1], reading=True)
        fields = args[args.index('-o') + 1].split(',')
        mib = 1024 * 1024
        values = {
            'vg_name': self.vg_name,
            'vg_attr': 'wz--ns' if self.lock_type == 'dlm' else 'wz--nc',
            'vg_size': '%dB' % (view.size_mib * mib),
            'vg_free': '%dB' % (view.free_extents() * view.extent_mib * mib),
            'vg_extent_size': '%dB' % (view.extent_mib * mib),
            'lv_count': str(len(view.lvs)),
            'vg_lock_type': self.lock_type if self.lock_type == 'dlm' else '',
            'vg_uuid': '2jmccK-pFQ6-CN30-iAsG-4cB3-olpN-tF3S7o',
            'vg_mda_size': '%dB' % view.metadata_area_bytes,
            'vg_mda_free': '%dB' % max(
                0, view.metadata_limit_bytes - view.metadata_bytes())}
        keys = {'lock_type': 'vg_lock_type'}
        fields = [keys.get(field, field) for field in fields]
        if not any(field.startswith('lv_') and field != 'lv_count' or
                   field == 'origin' for field in fields):
            rows = [{field: values[field] for field in fields}]
        else:
            # With LV columns: a row per LV, none for a VG without LVs.
            rows = [{field: dict(values, **self._lv_values(node, view, lv))[
                field] for field in fields}
                for lv in sorted(view.lvs.values(), key=lambda lv: lv.name)]
        stdout, _ = self._report('vg', rows)
        return stdout, self._reading_warning(node)

    def _cmd_pvs(self, node, args):
        fields = args[args.index('-o') + 1].split(',')
        values = {'pv_name': PV, 'vg_name': self.vg_name}
        return self._report('pv', [{field: values[field]
                                    for field in fields}])

    def _cmd_pvck(self, node, args):
        """``pvck --dump headers``: the lines of the committed copy
        (gate-commit), its checksum over what the VG holds.
        """
        if args[-1] != PV:
            raise Refused(5, 'Cannot use %s: device not found' % args[-1])
        view = self._views[node.name]
        held = sorted((lv.name, lv.size_mib, tuple(lv.tags), lv.origin)
                      for lv in view.lvs.values())
        checksum = zlib.crc32(repr((view.seqno, view.metadata_area_bytes,
                                    view.size_mib, held)).encode())
        offset = 1536 + view.seqno * 512 % (view.metadata_area_bytes // 2)
        return (
            '  mda_header_1 at 4096 # metadata area\n'
            '  mda_header_1.raw_locn[0] at 4136 # commit\n'
            '  mda_header_1.raw_locn[0].offset %d\n'
            '  mda_header_1.raw_locn[0].size %d\n'
            '  mda_header_1.raw_locn[0].checksum 0x%x\n'
            '  metadata text at %d crc 0x%x # vgname %s seqno %d\n' % (
                offset, view.metadata_bytes(), checksum, 4096 + offset,
                checksum, self.vg_name, view.seqno)), ''

    def _lv_values(self, node, view, lv):
        holder = view.holder(lv)
        mode = holder.active.get(node.name)
        is_open = lv.name in node.open
        kind = 's' if lv.origin else ('o' if view.snapshots_of(lv.name)
                                      else '-')
        attr = '%swi-%s%s%s---' % (kind, 'a' if mode else '-',
                                   'o' if is_open else '-',
                                   's' if kind != '-' else '-')
        return {
            'lv_name': lv.name, 'vg_name': self.vg_name, 'lv_attr': attr,
            'lv_size': '%dB' % (view.extents(lv.size_mib) * view.extent_mib
                                * 1024 * 1024),
            'lv_tags': ','.join(lv.tags), 'origin': lv.origin,
            'lv_active_locally': 'active locally' if mode else '',
            'lv_active_remotely': '',
            # lvmlockd's LVM says so for shared activation too (measured on
            # the gate cluster): the column cannot tell the modes apart.
            'lv_active_exclusively': 'active exclusively' if mode else '',
            # What lvmlockd's LVM prints where the LV is not active.
            'lv_device_open': 'open' if is_open else ('' if mode
                                                      else 'unknown')}

    def _cmd_lvs(self, node, args):
        view, name = self._target(node, args[-1], reading=True)
        fields = args[args.index('-o') + 1].split(',')
        chosen = [view.lvs[name]] if name else sorted(
            view.lvs.values(), key=lambda lv: lv.name)
        rows = [{field: values[field] for field in fields}
                for values in (self._lv_values(node, view, lv)
                               for lv in chosen)]
        stdout, _ = self._report('lv', rows)
        return stdout, self._reading_warning(node)

    # LVM changes.

    def _changed(self, node):
        """Record a metadata write while DRBD is apart (it diverges)."""
        if self._drbd[node.name].connection != 'Connected':
            self._changed_while_apart.add(node.name)
            self._drbd[node.name].out_of_sync_kib += 128

    @staticmethod
    def _options(args, with_value):
        """Split ``args`` into {option: [values]} and positionals."""
        options, positional = {}, []
        iterator = iter(args)
        for arg in iterator:
            if arg in with_value:
                options.setdefault(arg, []).append(next(iterator))
            elif arg.startswith('-'):
                options.setdefault(arg, []).append(True)
            else:
                positional.append(arg)
        return options, positional

    def _need_exclusive(self, node, view, lv, origin_words=False):
        """LVM's refusals when another lock mode holds the LV."""
        holder = view.holder(lv)
        lv_path = '%s/%s' % (self.vg_name, holder.name)
        extra = ['Failed to lock origin LV %s' % lv_path] if origin_words \
            else []
        if node.name not in holder.active and holder.active:
            # Recorded on the gate (gate-active-active/node2-12).
            raise Refused(5, 'LV locked by other host: %s' % lv_path, *extra)
        if SHARED in holder.active.values():
            raise Refused(5, 'LV is already locked with incompatible mode: '
                          '%s' % lv_path, *extra)
        if self._other(node).name in holder.active:
            raise Refused(5, 'LV locked by other host: %s' % lv_path, *extra)

    def _check_new_name(self, view, name):
        if not _VALID_NAME.fullmatch(name):
            raise Refused(3, 'Logical volume name "%s" is invalid.' % name,
                          "Run `lvcreate --help' for more information.")
        if name.startswith(('snapshot', 'pvmove')):
            raise Refused(3, 'Names starting "snapshot" are reserved. '
                          'Please choose a different LV name.',
                          "Run `lvcreate --help' for more information.")
        if name in view.lvs:
            raise Refused(5, 'Logical Volume "%s" already exists in volume '
                          'group "%s"' % (name, self.vg_name))

    def _cmd_lvcreate(self, node, args):
        options, positional = self._options(args, ('-L', '-n', '--addtag',
                                                   '-c'))
        view, origin_name = self._target(node, positional[-1])
        name = options['-n'][0]
        self._check_new_name(view, name)
        size_mib = int(options['-L'][0].rstrip('m'))
        if view.extents(size_mib) > view.free_extents():
            raise Refused(5, 'Volume group "%s" has insufficient free space '
                          '(%d extents): %d required.' % (
                              self.vg_name, view.free_extents(),
                              view.extents(size_mib)))
        grown = view.metadata_bytes(len(view.lvs) + 1)
        if grown > view.metadata_limit_bytes:
            raise Refused(5, 'VG %s %d metadata on /dev/drbd0 (%d bytes) '
                          'exceeds maximum metadata size (%d bytes)' % (
                              self.vg_name, len(view.lvs) + 4, grown,
                              view.metadata_limit_bytes),
                          'Failed to write VG %s.' % self.vg_name)
        lv = _LV(name, size_mib, list(options.get('--addtag', [])))
        stderr = ''
        if '-aey' in options:
            lv.active[node.name] = EXCLUSIVE
            lv.device_mib[node.name] = size_mib
        if '-s' in options:
            origin = view.lvs[origin_name]
            # The origin keeps its activation (inactive stays inactive, as
            # the gate cluster showed).
            self._need_exclusive(node, view, origin, origin_words=True)
            lv.origin, lv.content = origin_name, origin.content
        elif '-an' in options:
            stderr = '  WARNING: Logical volume %s/%s not zeroed.\n' % (
                self.vg_name, name)
        view.lvs[name] = lv
        self._changed(node)
        return '  Logical volume "%s" created.\n' % name, stderr

    def _cmd_lvextend(self, node, args):
        options, positional = self._options(args, ('-L', '--lockopt'))
        view, name = self._target(node, positional[-1])
        lv = view.lvs[name]
        if options.get('--lockopt') == ['shupdate']:
            # A shared lock for the update: granted to a node that holds
            # it shared, refused to one that does not while another does
            # (both recorded on the gate, gate-active-active/node2-06, -13).
            if self._other(node).name in lv.active and (
                    lv.active.get(node.name) != SHARED):
                raise Refused(5, 'LV locked by other host: %s/%s' % (
                    self.vg_name, name))
        else:
            self._need_exclusive(node, view, lv)
        new_mib = int(options['-L'][0].rstrip('m'))
        if new_mib < lv.size_mib:
            raise Refused(5, 'New size given (%d extents) not larger than '
                          'existing size' % view.extents(new_mib))
        grow = view.extents(new_mib) - view.extents(lv.size_mib)
        if grow > view.free_extents():
            raise Refused(5, 'Insufficient free space: %d extents needed, '
                          'but only %d available' % (grow,
                                                     view.free_extents()))
        lv.size_mib = new_mib
        if node.name in lv.device_mib:
            lv.device_mib[node.name] = new_mib
        self._changed(node)
        return '  Logical volume %s/%s successfully resized.\n' % (
            self.vg_name, name), ''

    def _cmd_lvremove(self, node, args):
        if '-S' in args:
            return self._remove_selected(node, args)
        return ''.join(self._remove_one(node, target)[0] for target in
                       args if not target.startswith('-')), ''

    def _remove_one(self, node, target):
        view, name = self._target(node, target)
        lv = view.lvs[name]
        holder = view.holder(lv)
        other = self._other(node).name
        if lv.origin and other in holder.active:
            # LVM lets it happen (gate-active-active/node2-19): the other
            # node's device-mapper keeps a snapshot that no longer exists.
            self.stale_snapshots.append((other, name))
        elif other in holder.active:
            raise Refused(5, 'LV locked by other host: %s/%s' % (
                self.vg_name, holder.name))
        if name in node.open:
            raise Refused(5, 'Logical volume %s/%s in use.' % (
                self.vg_name, name))
        for snapshot in view.snapshots_of(name):
            del view.lvs[snapshot.name]
        del view.lvs[name]
        self._changed(node)
        return '  Logical volume "%s" successfully removed.\n' % name, ''

    def _remove_selected(self, node, args):
        """``lvremove -y -S 'lv_name=N && lv_role!={origin} && lv_role!=
        {snapshot}' VG``, the one selection the driver uses: what does not
        match is left alone, silently (recorded on the gate guests).
        """
        selection = args[args.index('-S') + 1]
        match = re.fullmatch(r'lv_name=(\S+) && lv_role!=\{origin\} && '
                             r'lv_role!=\{snapshot\}', selection)
        view = self._target(node, args[-1])[0]
        lv = view.lvs.get(match.group(1))
        if lv is None or lv.origin or view.snapshots_of(lv.name):
            return '', ''
        return self._remove_one(node, '%s/%s' % (self.vg_name, lv.name))

    def _cmd_lvrename(self, node, args):
        view, old = self._target(node, '%s/%s' % (args[0], args[1]))
        self._check_new_name(view, args[2])
        lv = view.lvs.pop(old)
        self._need_exclusive(node, view, lv)
        lv.name = args[2]
        view.lvs[lv.name] = lv
        for snapshot in view.snapshots_of(old):
            snapshot.origin = lv.name
        self._changed(node)
        return '  Renamed "%s" to "%s" in volume group "%s"\n' % (
            old, lv.name, self.vg_name), ''

    def _cmd_lvchange(self, node, args):
        options, positional = self._options(args, ('--addtag', '--deltag'))
        if '--refresh' in options:
            return self._refresh(node, positional)
        view, name = self._target(node, positional[-1])
        lv = view.lvs[name]
        for tag in options.get('--addtag', []):
            if tag not in lv.tags:
                lv.tags.append(tag)
        for tag in options.get('--deltag', []):
            if tag in lv.tags:
                lv.tags.remove(tag)
        modes = [option[2:] for option in options if option.startswith('-a')]
        if modes and lv.origin and '-y' not in options:
            # LVM asks first; with no terminal the answer is no (seen on the
            # real cluster for a half-made clone's snapshot).
            raise Refused(5, '  Change of snapshot %s/%s will also change '
                          'its origin %s/%s. Proceed? [y/n]: [n]' % (
                              self.vg_name, lv.name, self.vg_name,
                              lv.origin))
        if modes:
            self._activate(node, view, lv, modes[0])
        else:
            self._changed(node)
        return '', ''

    def _refresh(self, node, specs):
        """Each LV named, as LVM does: past one it cannot find, failing
        at the end.
        """
        missing = []
        for spec in specs:
            try:
                view, name = self._target(node, spec)
            except Refused as refusal:
                missing.append(refusal)
                continue
            lv = view.lvs[name]
            if node.name in lv.device_mib:
                lv.device_mib[node.name] = lv.size_mib
        if missing:
            raise missing[0]
        return '', ''

    def _activate(self, node, view, lv, mode):
        holder = view.holder(lv)
        other = self._other(node).name
        if mode == 'n':
            if holder.name in node.open:
                raise Refused(5, 'Logical volume %s/%s in use.' % (
                    self.vg_name, holder.name))
            holder.active.pop(node.name, None)
            holder.device_mib.pop(node.name, None)
            return
        if other in holder.active and (mode == EXCLUSIVE or
                                       holder.active[other] == EXCLUSIVE):
            lv_path = '%s/%s' % (self.vg_name, holder.name)
            raise Refused(5, 'LV locked by other host: %s' % lv_path,
                          'Failed to lock logical volume %s.' % lv_path)
        holder.active[node.name] = mode
        holder.device_mib.setdefault(node.name, holder.size_mib)

    def _cmd_lvconvert(self, node, args):
        view, name = self._target(node, args[-1])
        snapshot = view.lvs[name]
        origin = view.lvs[snapshot.origin]
        self._need_exclusive(node, view, origin)
        if origin.name in node.open:
            raise Refused(5, "Can't merge over open origin volume.")
        origin.content = snapshot.content
        del view.lvs[name]
        self._changed(node)
        merged = '%s/%s' % (self.vg_name, origin.name)
        return ('  Merging of volume %s/%s started.\n'
                '  %s: Merged: 100.00%%\n' % (self.vg_name, name, merged),
                '  WARNING: Failed to connect to lvmpolld. Proceeding with '
                'polling without using lvmpolld.\n')

    # Data.

    def _device(self, node, path):
        """The LV behind a device path, if it is active on ``node``."""
        view = self._views[node.name]
        prefix = '/dev/%s/' % self.vg_name
        if path.startswith(prefix):
            name = path[len(prefix):]
        else:
            match = re.fullmatch(r'/dev/mapper/(.+?)-(.+)-cow', path)
            mangled = self.vg_name.replace('-', '--')
            if not match or match.group(1) != mangled:
                return None
            name = match.group(2).replace('--', '-')
        lv = view.lvs.get(name)
        if lv is None or node.name not in view.holder(lv).active:
            return None
        return lv

    def _cmd_dd(self, node, args):
        operands = dict(arg.split('=', 1) for arg in args)
        target = self._device(node, operands['of'])
        if target is None:
            raise Refused(1, "dd: failed to open '%s': No such file or "
                          "directory" % operands['of'])
        if operands['if'] == '/dev/zero':
            target.content = 'zero'
        elif operands['if'] == '/dev/urandom':
            target.content = 'pattern-%d' % next(self._patterns)
        else:
            source = self._device(node, operands['if'])
            if source is None:
                raise Refused(1, "dd: failed to open '%s': No such file or "
                              "directory" % operands['if'])
            # A sparse copy skips the source's zeros: right only where the
            # target held zeros already.
            sparse = 'sparse' in operands.get('conv', '').split(',')
            target.content = source.content if (
                not sparse or target.content == 'zero') else (
                '%s over %s' % (source.content, target.content))
        return '', '%s+0 records in\n' % operands.get('count', '0')

    def _cmd_fallocate(self, node, args):
        lv = self._device(node, args[-1])
        if lv is None:
            raise Refused(1, 'fallocate: cannot open %s: No such file or '
                          'directory' % args[-1])
        if not self.zeroes_in_device:
            raise Refused(1, 'fallocate: fallocate failed: Operation not '
                          'supported')
        lv.content = 'zero'
        return '', ''

    def _cmd_md5sum(self, node, args):
        """What the LV holds, as a digest, read through ``node``'s device."""
        lv = self._device(node, args[0])
        if lv is None:
            raise Refused(1, 'md5sum: %s: No such file or directory' % args[0])
        digest = hashlib.md5(lv.content.encode()).hexdigest()
        return '%s  %s\n' % (digest, args[0]), ''

    def _cmd_dmsetup(self, node, args):
        """``dmsetup table``: a linear segment per device this node has,
        of its device's size (which only its refresh brings up to date).
        """
        sectors = lvm.MIB // lvm.SECTOR
        view = self._views[node.name]
        lines = ['%s: 0 %d linear 147:0 2048\n' % (
            lvm.device_mapper_name(self.vg_name, lv.name),
            lv.device_mib[node.name] * sectors)
            for lv in sorted(view.lvs.values(), key=lambda lv: lv.name)
            if node.name in lv.device_mib]
        return ''.join(lines) or 'No devices found\n', ''

    def _cmd_blockdev(self, node, args):
        lv = self._device(node, args[-1])
        if args[0] != '--getsize64' or lv is None:
            raise Refused(1, 'blockdev: cannot open %s: No such file or '
                          'directory' % args[-1])
        holder = self._views[node.name].holder(lv)
        return '%d\n' % (holder.device_mib[node.name] * 1024 * 1024), ''
