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

"""DRBD resource state as small value objects, and the parsers that make them.

DRBD 8.4 (the in-tree kernel module of current distributions) reports its
state in ``/proc/drbd``; DRBD 9 prints ``drbdsetup status --json``, which 8.4
rejects (exit 20, ``unrecognized option '--json'``).  Both become one
:class:`ResourceState`, which can also carry the data generation (DRBD's
debugfs ``data_gen_id``, or ``drbdsetup get-gi``).  This module says what the
state *is*; whether it is safe to change LVM metadata is decided in
:mod:`drbd_clvm_driver.cluster`.
"""

import dataclasses
import json
import re

from oslo_log import log as logging

from drbd_clvm_driver import exception

LOG = logging.getLogger(__name__)


class ConnectionState:
    """Connection states (``cs:`` in /proc/drbd) the driver names."""

    CONNECTED = 'Connected'
    STANDALONE = 'StandAlone'
    WF_CONNECTION = 'WFConnection'
    #: DRBD 9's name for waiting for the peer
    CONNECTING = 'Connecting'
    SYNC_SOURCE = 'SyncSource'
    PAUSED_SYNC_SOURCE = 'PausedSyncS'
    DISCONNECTING = 'Disconnecting'
    UNCONFIGURED = 'Unconfigured'


class Role:
    PRIMARY = 'Primary'
    SECONDARY = 'Secondary'
    UNKNOWN = 'Unknown'


class DiskState:
    UP_TO_DATE = 'UpToDate'
    INCONSISTENT = 'Inconsistent'
    OUTDATED = 'Outdated'
    #: attached without a peer to say whether it is current (a node that
    #: was fenced and booted alone)
    CONSISTENT = 'Consistent'
    DISKLESS = 'Diskless'
    UNKNOWN = 'DUnknown'


@dataclasses.dataclass(frozen=True)
class ResourceState:
    """One DRBD resource (volume 0) as seen from this node.

    :param out_of_sync_kib: data this node knows differs from the peer; above
        zero while disconnected it means both sides may have diverged.
    :param peer_node_id: DRBD 9's node id of the peer; None for 8.4, which
        has one peer per device, and where DRBD 9 lists no connection.
    :param generation: this node's current data generation UUID
        (:func:`parse_get_gi`), or None where it was not read.
    :param fence_failure: while this node's fence-peer handler cannot fence
        the peer, what failed and the way out
        (:meth:`~drbd_clvm_driver.fence_state.FenceFailure.describe`).
    """

    name: str
    connection: str
    role: str
    peer_role: str
    disk: str
    peer_disk: str
    out_of_sync_kib: int = 0
    peer_node_id: int = None
    generation: str = None
    fence_failure: str = None

    @property
    def is_connected(self):
        return self.connection == ConnectionState.CONNECTED

    @property
    def is_standalone(self):
        return self.connection == ConnectionState.STANDALONE

    @property
    def both_primary(self):
        return self.role == self.peer_role == Role.PRIMARY

    @property
    def both_up_to_date(self):
        return self.disk == self.peer_disk == DiskState.UP_TO_DATE

    @property
    def is_resyncing(self):
        """Connected again and copying what one side missed (SyncSource,
        SyncTarget, or paused): the out-of-sync count is what is left.
        """
        return 'Sync' in self.connection

    @property
    def peer_fenced(self):
        """Disconnected from a peer DRBD knows is Outdated: the fence-peer
        handler had it fenced, so only this node's data counts and the peer
        resyncs from it when it comes back.
        """
        return (not self.is_connected
                and self.peer_disk == DiskState.OUTDATED)

    @property
    def awaits_peer(self):
        """Listening for the peer to come back (not StandAlone, which
        takes it back only when an operator says so).
        """
        return self.connection in (ConnectionState.WF_CONNECTION,
                                   ConnectionState.CONNECTING)

    @property
    def is_sync_source(self):
        return self.connection in (ConnectionState.SYNC_SOURCE,
                                   ConnectionState.PAUSED_SYNC_SOURCE)

    @property
    def peer_not_yet_primary(self):
        """Connected to an UpToDate peer that is still Secondary (it has
        just resynced and not been promoted yet).
        """
        return (self.is_connected and self.peer_role == Role.SECONDARY
                and self.peer_disk == DiskState.UP_TO_DATE)

    @property
    def serves_alone(self):
        """This node is the only one that writes, and may: Primary and
        UpToDate, with its peer fenced (Outdated) and awaited, back and
        catching up from this node, or caught up and not Primary yet. A
        write here reaches every disk that will ever be read again: the
        fenced peer can never be promoted with its stale copy, and a
        connected one receives it.
        """
        return (self.role == Role.PRIMARY
                and self.disk == DiskState.UP_TO_DATE
                and ((self.peer_fenced and self.awaits_peer)
                     or self.is_sync_source or self.peer_not_yet_primary))

    @property
    def may_be_split_brain(self):
        """Disconnected with changes a peer that was not fenced has not
        seen.

        DRBD 8.4 does not print the words "split brain"; it drops to
        StandAlone and keeps the out-of-sync count, as recorded on the lab
        cluster after a create made during a disconnect. Behind a fenced
        (Outdated) peer the same count is just what it will resync, and on
        an Inconsistent disk (new metadata, or a resync cut short) what it
        has still to receive: such a copy has no changes of its own.
        """
        return (not self.is_connected and self.out_of_sync_kib > 0
                and not self.peer_fenced and not self.is_resyncing
                and self.disk != DiskState.INCONSISTENT)

    def describe(self):
        return ('%s cs:%s ro:%s/%s ds:%s/%s oos:%s gi:%s' % (
            self.name, self.connection, self.role, self.peer_role,
            self.disk, self.peer_disk, self.out_of_sync_kib,
            self.generation or 'unread'))


_PROC_DEVICE_LINE = re.compile(
    r'^\s*(?P<minor>\d+): cs:(?P<cs>\S+)'
    r'(?: ro:(?P<ro>\S+)/(?P<peer_ro>\S+) ds:(?P<ds>\S+)/(?P<peer_ds>\S+))?')
_PROC_OUT_OF_SYNC = re.compile(r'\boos:(\d+)')
_PROC_VERSION = re.compile(r'^version: (\d+)\.(\d+)')
_GENERATION_UUID = re.compile(r'[0-9A-Fa-f]{16}')


def proc_drbd_version(text):
    """Return ``(major, minor)`` from the first line of /proc/drbd."""
    match = _PROC_VERSION.match(text)
    if not match:
        raise exception.DrbdStateError('Not DRBD status output: %r' %
                                       text.splitlines()[:1])
    return int(match.group(1)), int(match.group(2))


def parse_proc_drbd(text, minor, name):
    """Read the state of device ``minor`` from DRBD 8.4's /proc/drbd.

    :param name: the resource name to give the result (/proc/drbd only
        knows minors).
    :raises DrbdStateError: the minor is absent or its line is malformed.
    """
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _PROC_DEVICE_LINE.match(line)
        if not match or int(match.group('minor')) != minor:
            continue
        if match.group('cs') == ConnectionState.UNCONFIGURED:
            return ResourceState(name, ConnectionState.UNCONFIGURED,
                                 Role.UNKNOWN, Role.UNKNOWN,
                                 DiskState.UNKNOWN, DiskState.UNKNOWN)
        if match.group('ro') is None:
            raise exception.DrbdStateError(
                'Cannot read DRBD device line: %r' % line)
        stats = lines[index + 1] if index + 1 < len(lines) else ''
        out_of_sync = _PROC_OUT_OF_SYNC.search(stats)
        return ResourceState(
            name, match.group('cs'), match.group('ro'),
            match.group('peer_ro'), match.group('ds'),
            match.group('peer_ds'),
            int(out_of_sync.group(1)) if out_of_sync else 0)
    raise exception.DrbdStateError(
        'DRBD minor %d (resource %s) is not in /proc/drbd; is the resource '
        'up?' % (minor, name))


def parse_status_json(text, name):
    """Read resource ``name`` from DRBD 9's ``drbdsetup status --json``.

    Only the first peer connection is read: the driver is built for exactly
    two nodes.
    """
    try:
        resources = json.loads(text)
    except ValueError as error:
        raise exception.DrbdStateError(
            'drbdsetup status --json is not JSON (%s): %r'
            % (error, text[:200]))
    for resource in resources:
        if resource.get('name') != name:
            continue
        try:
            device = resource['devices'][0]
            connections = resource.get('connections') or []
            if not connections:
                return ResourceState(name, ConnectionState.STANDALONE,
                                     resource['role'], Role.UNKNOWN,
                                     device['disk-state'], DiskState.UNKNOWN)
            peer = connections[0]
            peer_device = peer['peer_devices'][0]
            return ResourceState(
                name, peer['connection-state'], resource['role'],
                peer['peer-role'], device['disk-state'],
                peer_device['peer-disk-state'],
                int(peer_device.get('out-of-sync', 0)),
                peer_node_id=int(peer['peer-node-id']))
        except (KeyError, IndexError, TypeError) as error:
            raise exception.DrbdStateError(
                'drbdsetup status --json lacks %s for resource %s'
                % (error, name))
    raise exception.DrbdStateError(
        'DRBD resource %s is not in drbdsetup status; is it up?' % name)


def parse_get_gi(text):
    """Read this node's current data generation UUID from ``drbdsetup
    get-gi``, one line ``CURRENT:BITMAP:HISTORY1:HISTORY2:flags...``.

    A Primary starts a new current UUID the moment it loses its peer, before
    any write (recorded on the gate cluster right after ``drbdadm
    disconnect``), and keeps it after the reconnect; so a changed current
    UUID means the node was apart at some point, even if it is Connected
    again now.

    :raises DrbdStateError: the output is not such a line; it is quoted.
    """
    line = text.strip()
    fields = line.split(':')
    if len(fields) < 5 or not all(_GENERATION_UUID.fullmatch(uuid)
                                  for uuid in fields[:4]):
        raise exception.DrbdStateError(
            'Cannot read DRBD generation identifiers: %r' % line)
    return fields[0].upper()


def parse_data_gen_id(text):
    """Read the current data generation UUID from DRBD's debugfs file
    ``minors/MINOR/data_gen_id``: one ``0x`` + 16 hex digits line per UUID,
    current first (recorded on the gate cluster beside ``drbdsetup get-gi``,
    whose first field it equals).

    :raises DrbdStateError: the text is not such lines; it is quoted.
    """
    lines = text.split()
    if len(lines) < 4 or not all(
            line[:2] == '0x' and _GENERATION_UUID.fullmatch(line[2:])
            for line in lines):
        raise exception.DrbdStateError(
            'Cannot read DRBD generation identifiers: %r' % text.strip())
    return lines[0][2:].upper()


PROC_DRBD = ('cat', '/proc/drbd')


class DrbdResource:
    """Reads the live state of one DRBD resource through a command runner.

    What to read depends on the DRBD version, read from /proc/drbd on first
    use, and for 8.4 on the resource's minor, from ``drbdadm sh-minor``
    once (it cannot change while the resource is up). After that the state
    is a list of :meth:`readings` the safety gate takes together with its
    other checks, and :meth:`state_from` reads their results.

    :param runner: a :class:`~drbd_clvm_driver.commands.CommandRunner`.
    :param name: the DRBD resource name, as in ``drbdadm status NAME``.
    :param timeout: seconds each command may take.
    """

    def __init__(self, runner, name, timeout=10):
        self.runner = runner
        self.name = name
        self.timeout = timeout
        self._major = None
        self._minor = None
        #: whether DRBD 8.4's generation is read from debugfs (False once
        #: the file was missing: debugfs not mounted)
        self._debugfs = True

    def state(self):
        """This node's view of the resource, without its generation."""
        return self._read(with_generation=False)

    def state_with_generation(self):
        """:meth:`state` with :attr:`ResourceState.generation` read too."""
        return self._read(with_generation=True)

    def readings(self, with_generation):
        """The commands whose results :meth:`state_from` reads.

        DRBD 8.4: ``/proc/drbd`` and, for the generation, its debugfs file
        ``data_gen_id`` (``drbdsetup get-gi MINOR`` where debugfs is not
        mounted). DRBD 9: ``drbdsetup status --json``; its generation is
        per peer, so it is read after, by :meth:`state_from`.
        """
        if self._major is None:
            self._discover()
        if self._major >= 9:
            return [('drbdsetup', 'status', '--json', self.name)]
        if not with_generation:
            return [PROC_DRBD]
        return [PROC_DRBD, self._generation_reading()]

    def state_from(self, results, with_generation):
        """The :class:`ResourceState` the results of :meth:`readings` give.

        :param results: a :class:`~drbd_clvm_driver.commands.Readings`;
            they may have been taken by another process (the privileged
            daemon), so this one learns DRBD's version first if it has not.
        """
        if self._major is None:
            self._discover()
        if self._major >= 9:
            return self._state_9(results, with_generation)
        text = results.output(PROC_DRBD).stdout
        if proc_drbd_version(text)[0] >= 9:
            self._major = None  # the module was replaced: look again
            raise exception.DrbdStateError(
                'DRBD was upgraded to %s while the service ran; reading it '
                'again' % text.split()[1])
        state = parse_proc_drbd(text, self._minor, self.name)
        if not with_generation:
            return state
        reading = self._generation_reading()
        if reading[0] != 'cat':
            result = results.output(reading)
        else:
            result = results.output(reading, check=False)
            if result.exit_code == 0:
                return dataclasses.replace(
                    state, generation=parse_data_gen_id(result.stdout))
            if 'No such file' not in result.stderr:
                # There but unreadable: DRBD answers ENODEV without a
                # local disk, where get-gi has nothing to say either.
                raise exception.CommandFailed(
                    reading, result.exit_code, result.stdout, result.stderr,
                    self.runner.node)
            LOG.warning('DRBD debugfs is not mounted (%s); reading data '
                        'generations with drbdsetup get-gi, a process per '
                        'check', result.stderr.strip())
            self._debugfs = False
            result = self.runner.run(self._generation_reading(),
                                     timeout=self.timeout)
        return dataclasses.replace(state,
                                   generation=parse_get_gi(result.stdout))

    def _read(self, with_generation):
        readings = self.readings(with_generation)
        return self.state_from(self.runner.read(readings, self.timeout),
                               with_generation)

    def _state_9(self, results, with_generation):
        status = results.output(('drbdsetup', 'status', '--json', self.name))
        state = parse_status_json(status.stdout, self.name)
        if not with_generation or state.peer_node_id is None:
            return state  # no peer whose generation could be read
        output = self.runner.run(
            ['drbdsetup', 'get-gi', self.name, str(state.peer_node_id), '0'],
            timeout=self.timeout).stdout
        return dataclasses.replace(state, generation=parse_get_gi(output))

    def _generation_reading(self):
        if self._debugfs:
            return ('cat', '/sys/kernel/debug/drbd/minors/%d/data_gen_id'
                    % self._minor)
        return ('drbdsetup', 'get-gi', str(self._minor))

    def _discover(self):
        proc_text = self.runner.run(PROC_DRBD, timeout=self.timeout).stdout
        major = proc_drbd_version(proc_text)[0]
        if major < 9:
            output = self.runner.run(['drbdadm', 'sh-minor', self.name],
                                     timeout=self.timeout).stdout.strip()
            if not output.isdigit():
                raise exception.DrbdStateError(
                    'drbdadm sh-minor %s printed %r, not a minor number'
                    % (self.name, output))
            self._minor = int(output)
        self._major = major
