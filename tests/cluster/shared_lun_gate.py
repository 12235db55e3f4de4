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

"""``tools/cluster/gate --shared-lun``: three nodes on one shared disk.

Three guests see one raw disk as a SCSI disk (qemu ``share-rw``: what a SAN
LUN is to its hosts) and hold the VG on it, no DRBD; once with lvmlockd over
dlm (corosync on one network), once with lvmlockd over sanlock (leases on
the disk itself, wdmd on qemu's watchdog device, no corosync). The driver's
layers run for each node as the driver builds them, with ``replication =
shared_lun`` and the lab's lock manager:

- creates from all three nodes at once leave the same ``lvs`` on each;
- a node whose path to the LUN goes offline refuses its changes (and
  changes nothing) while the other two go on; back online, it changes
  again;
- every volume is deleted from a node other than the one that made it;
- with sanlock, a node that loses the disk while it holds an LV loses its
  lease and is reset by its watchdog; another node then takes the LV, with
  what the lost node wrote, and the others change the VG meanwhile;
- last, node3 dies for good while it uses one volume and holds another:
  node1 and node2 serve every kind of change, and evacuate both, skipping
  node3 at once once the cluster has seen it go (corosync; sanlock: its
  lease failed), within a bound.

With ``--with-scenarios``, the scenario suite (tests/scenario) then runs
on the lab too, its node A the first node and its node B the last.

With ``--record``, what the nodes print for the plugins' readings is kept
under ``tests/unit/fixtures/recorded/gate-shared-lun`` (and ``-sanlock``),
and what tells node1 that node3 has gone under ``...-node-dead``.
"""

import concurrent.futures
import contextlib
import json
import logging
import os
import tempfile
import threading
import time

from drbd_clvm_driver import exception
from drbd_clvm_driver.locking import sanlock
from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes as node_names
from drbd_clvm_driver import peer
from drbd_clvm_driver import routing
from drbd_clvm_driver import stack
from tests.cluster import gate
from tests.cluster import guests
from tests.scenario import base

NODES = 3
#: seconds after losing the disk by which another node must hold the lost
#: node's LV: sanlock's 8 x 10 s I/O timeouts to lose the lease, wdmd's 60 s
#: watchdog fire timeout, and the emulated guests' slack
LEASE_TAKEOVER_BOUND = 300
#: seconds from node3's death by which node1 and node2 must have served
#: every request of :func:`node_dead_for_good`: with dlm, corosync's token
#: and node3's fence, then dlm's recovery; with sanlock, node3's exclusive
#: LV is free once its lease is dead: 140 s of sanlock's timeouts after the
#: last renewal seen, read every 20 s (155 s measured)
NODE_DEAD_BOUND = {'lvmlockd': 120, 'sanlock': 240}
#: seconds a step skipped on a departed node may take: reading who has
#: left is one program in an emulated guest (6.7 s once on a loaded CI
#: host), and a step that probed the dead node would take the 15 s probe
SKIPPED_AT_ONCE = 10
#: seconds between two tries of a refused request, and two readings of
#: who has left
RETRY_INTERVAL = 2
#: seconds after node3's death at which node1's reading of it is recorded
#: once while it has not yet been seen gone
SILENT_RECORDED_AFTER = 45
#: volumes each node creates at once
CREATES = 8
#: creates each node makes one after another, for the throughput
THROUGHPUT_CREATES = 6
#: seconds the lab stays idle while the disk I/O the lock manager makes on
#: its own is counted
IDLE_SECONDS = 30
SIZE_MIB = 4
LOCK_MANAGERS = ('lvmlockd', 'sanlock')
RECORDING_NAME = 'gate-shared-lun'
_SLAVES = 'ls /sys/class/block/%s/slaves'
_GETS = ['sanlock', 'client', 'gets']


def recording_name(lock_manager):
    """The fixture directory of one lab's recording."""
    if lock_manager == 'lvmlockd':
        return RECORDING_NAME
    return '%s-%s' % (RECORDING_NAME, lock_manager)


def _recording(kernel_name, lock_manager):
    state = ['cat', '/sys/class/block/%s/device/state' % kernel_name]
    lock_readings = ([['corosync-quorumtool', '-s']]
                     if lock_manager == 'lvmlockd' else
                     [['sanlock', 'client', 'gets'],
                      ['sanlock', 'client', 'status']])
    # sanlock on node3: the VG's lockspace left, joining, joined again
    lockspace = [] if lock_manager == 'lvmlockd' else [
        (2, argv) for argv in (
            ['vgchange', '--lock-stop', guests.VG_NAME], _GETS,
            ['vgchange', '--lock-start', guests.VG_NAME], _GETS,
            ['bash', '-c', 'source /opt/drbd-clvm/drbd_clvm && '
             'DRBD_CLVM_VG=%s DRBD_CLVM_LOCK_MANAGER=sanlock drbd_clvm_wait '
             '180 joined _drbd_clvm_vg_lockspace_started' % guests.VG_NAME],
            _GETS)] + [(0, ['pidof', 'sanlock']), (0, ['pidof', 'wdmd'])]
    return ([(index, argv) for index in range(NODES) for argv in [
        ['readlink', '-f', guests.SHARED_LUN_DEVICE],
        (_SLAVES % kernel_name).split(),
        ['cat', '/sys/class/block/%s/dev' % kernel_name],
        state] + lock_readings + [
        ['lvmlockctl', '--info'],
        ['vgs', '--reportformat', 'json', '--units', 'b', '-o',
         lvm._VG_FIELDS, guests.VG_NAME]]]
        + [(2, ['sh', '-c', 'echo offline > /sys/class/block/%s/device/'
                            'state' % kernel_name]),
           (2, state),
           (2, ['sh', '-c', 'echo running > /sys/class/block/%s/device/'
                            'state' % kernel_name]),
           (2, state)] + lockspace)


def _kernel_name(node):
    return os.path.basename(node.run(
        'readlink', '-f', guests.SHARED_LUN_DEVICE).stdout.strip())


def _lab(lock_manager):
    """The lab, as the recordings' INDEX.md name it."""
    return ('three gate guests on one shared SCSI disk (Debian 12, LVM '
            '2.03.16, lvmlockd with %s, no DRBD)' % (
                'dlm, corosync 3.1.7' if lock_manager == 'lvmlockd'
                else 'sanlock 3.8.5, wdmd on an i6300esb watchdog'))


def build_stacks(cluster, lock_dir, lock_manager):
    """The driver's layers for each node, over its agent, each with its own
    lock files, as the driver builds them for ``replication =
    shared_lun``; each checks the VG is of ``lock_manager``'s kind. They
    reach each other through one :class:`~drbd_clvm_driver.peer.
    InProcessPeers`, where a node whose endpoint is removed times out as a
    dead node's RPC server does.
    """
    every_name = [node.name for node in cluster.nodes]
    endpoints = {}
    peers = peer.InProcessPeers(endpoints, down_times_out=True)
    stacks = [stack.build(node.runner, guests.VG_NAME,
                          guests.SHARED_LUN_DEVICE, replication='shared_lun',
                          lock_manager=lock_manager,
                          lock_path=os.path.join(lock_dir, node.name),
                          volume_clear='none', peers=peers,
                          names=node_names.NodeNames(node.name, every_name))
              for node in cluster.nodes]
    for node, node_stack in zip(cluster.nodes, stacks):
        endpoints[node.name] = peer.Endpoint(
            node.name, node_stack.any_node.handlers())
        node_stack.lock_manager.check_setup(node_stack.ops.vg.volume_group())
        reasons = node_stack.gate.reasons()
        if reasons:
            raise guests.GuestError('the gate refuses on a healthy lab: %s'
                                    % reasons)
    return stacks


def _names(node):
    return sorted((lv.name, lv.size_mib) for lv in lvm.ClusteredVG(
        node.runner, guests.VG_NAME).logical_volumes())


def concurrent_creates(cluster, stacks, prefix):
    """Every node creates :data:`CREATES` volumes at once; each node's
    ``lvs`` must then list all of them, the same on every node.
    """
    wanted = ['%s-%s-%d' % (prefix, node.name, index)
              for node in cluster.nodes for index in range(CREATES)]

    def create(node_stack, name):
        node_stack.ops.create_volume(name, SIZE_MIB, name)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(NODES * CREATES) as pool:
        for done in [pool.submit(create, stacks[index // CREATES], name)
                     for index, name in enumerate(wanted)]:
            done.result()
    seconds = time.monotonic() - started
    seen = {node.name: _names(node) for node in cluster.nodes}
    first = seen[cluster.nodes[0].name]
    if any(listing != first for listing in seen.values()):
        raise guests.GuestError('the nodes list different LVs: %s' % seen)
    missing = set(wanted) - {name for name, _ in first}
    if missing:
        raise guests.GuestError('created but not listed: %s'
                                % sorted(missing))
    gate.log('%d creates from %d nodes at once in %.1f s; every node lists '
             'the same %d LVs' % (len(wanted), NODES, seconds, len(first)))
    return wanted


def _disk_io(cluster):
    """Per node: I/Os and KiB read and written on the shared disk so far
    (the kernel's ``stat`` of the disk: reads, sectors read, writes,
    sectors written).
    """
    counts = []
    for node in cluster.nodes:
        fields = node.run('cat', '/sys/class/block/%s/stat'
                          % _kernel_name(node)).stdout.split()
        counts.append((int(fields[0]), int(fields[2]) / 2,
                       int(fields[4]), int(fields[6]) / 2))
    return counts


def _io_between(before, after, per):
    """Each node's reads, KiB read, writes, KiB written between two
    :func:`_disk_io`, divided by ``per``, and their sum over the nodes.
    """
    nodes = [[round((late - early) / per, 2)
              for early, late in zip(first, last)]
             for first, last in zip(before, after)]
    total = [round(sum(values), 2) for values in zip(*nodes)]
    return {'per_node': nodes, 'all_nodes': total,
            'columns': ['reads', 'KiB read', 'writes', 'KiB written']}


def idle_io(cluster):
    """The shared disk's I/O per second while no one changes anything:
    what the lock manager does on its own (sanlock renews its leases on
    the disk; dlm talks over the network).
    """
    before = _disk_io(cluster)
    time.sleep(IDLE_SECONDS)
    io = _io_between(before, _disk_io(cluster), IDLE_SECONDS)
    gate.log('idle: per node and second %s (%s)' % (
        io['per_node'], ', '.join(io['columns'])))
    return io


def throughput(cluster, stacks, prefix):
    """Creates per second from one node, then two, then three at once,
    each node making :data:`THROUGHPUT_CREATES` one after another: how
    metadata-change throughput grows with the nodes on one VG, and the
    shared disk's I/O per create with all three.
    """
    rates, made = {}, []
    per_create = None

    def creates(node_stack, names):
        for name in names:
            node_stack.ops.create_volume(name, SIZE_MIB, name)

    for count in range(1, NODES + 1):
        names = [['%s-t%d-%d-%d' % (prefix, count, index, number)
                  for number in range(THROUGHPUT_CREATES)]
                 for index in range(count)]
        before = _disk_io(cluster)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            for done in [pool.submit(creates, stacks[index], names[index])
                         for index in range(count)]:
                done.result()
        rates[count] = round(count * THROUGHPUT_CREATES
                             / (time.monotonic() - started), 2)
        per_create = _io_between(before, _disk_io(cluster),
                                 count * THROUGHPUT_CREATES)
        made += [name for node_names in names for name in node_names]
    gate.log('creates per second from 1, 2, 3 nodes at once: %s (%d per '
             'node, one after another); per create, all nodes: %s (%s)' % (
                 ', '.join('%.2f' % rates[count] for count in sorted(rates)),
                 THROUGHPUT_CREATES, per_create['all_nodes'],
                 ', '.join(per_create['columns'])))
    return made, rates, per_create


def lost_path(cluster, stacks, prefix):
    """The last node's path to the LUN goes offline: its create is refused
    and changes nothing; the first node's create goes on; back online, the
    last node creates again.
    """
    node, node_stack = cluster.nodes[-1], stacks[-1]
    state_file = '/sys/class/block/%s/device/state' % _kernel_name(node)
    before = _names(cluster.nodes[0])
    node.runner.run(['sh', '-c', 'echo offline > %s' % state_file])
    try:
        try:
            node_stack.ops.create_volume(prefix + '-refused', SIZE_MIB, 'x')
        except exception.ClusterUnsafe as error:
            gate.log('%s refused: %s' % (node.name, error))
            if 'no path to the shared LUN' not in str(error):
                raise guests.GuestError('refused for another reason: %s'
                                        % error)
        else:
            raise guests.GuestError('%s created a volume with its path to '
                                    'the LUN offline' % node.name)
        if _names(cluster.nodes[0]) != before:
            raise guests.GuestError('the refused create changed the VG')
        stacks[0].ops.create_volume(prefix + '-meanwhile', SIZE_MIB, 'y')
    finally:
        node.runner.run(['sh', '-c', 'echo running > %s' % state_file])
    node_stack.ops.create_volume(prefix + '-after', SIZE_MIB, 'z')
    return [prefix + '-meanwhile', prefix + '-after']


def lease_lost(cluster, stacks, prefix):
    """node3 holds an LV (active exclusively, data written) and loses the
    disk: once its lease has run out its watchdog resets it (the guest
    exits: -no-reboot), node1 activates the LV with node3's data, and node2
    creates a volume meanwhile. node3 is powered on again, as a reset
    would, and rejoins.

    :returns: the volumes made, and the seconds from the loss to the reset
        and to node1 holding the LV.
    """
    node1, node2, node3 = cluster.nodes
    held, meanwhile = prefix + '-held', prefix + '-meanwhile-lease'
    path = '/dev/%s/%s' % (guests.VG_NAME, held)
    stacks[2].ops.create_volume(held, SIZE_MIB, held)
    node3.runner.run(['lvchange', '-aey', '%s/%s' % (guests.VG_NAME, held)])
    written = base.write_pattern(node3, path)
    state_file = '/sys/class/block/%s/device/state' % _kernel_name(node3)
    node3.runner.run(['sh', '-c', 'echo offline > %s' % state_file])
    lost = time.monotonic()
    stacks[1].ops.create_volume(meanwhile, SIZE_MIB, meanwhile)
    gate.log('node2 created %s %.0f s after node3 lost the disk'
             % (meanwhile, time.monotonic() - lost))
    lab = cluster.fence_device.guests[node3.name]
    reset = taken = None
    while taken is None or reset is None:
        now = time.monotonic() - lost
        if now > LEASE_TAKEOVER_BOUND:
            raise guests.GuestError(
                'after %d s: node3 reset %s, node1 holds %s: %s' % (
                    now, 'at %.0f s' % reset if reset else 'never', held,
                    'at %.0f s' % taken if taken else 'never'))
        if reset is None and not lab.running:
            reset = now
            gate.log('node3\'s watchdog reset it %.0f s after it lost '
                     'the disk' % reset)
        if taken is None and node1.run(
                'lvchange', '-aey', '%s/%s' % (guests.VG_NAME, held),
                timeout=60).exit_code == 0:
            taken = now
            gate.log('node1 holds %s %.0f s after node3 lost the disk'
                     % (held, taken))
        time.sleep(2)
    if base.digest(node1, path) != written:
        raise guests.GuestError('node1 reads other data in %s than node3 '
                                'wrote' % held)
    node1.runner.run(['lvchange', '-an', '%s/%s' % (guests.VG_NAME, held)])
    # the reset a watchdog makes: the guest's power comes back
    cluster.fence_device.power('watchdog', 'reboot', node3.name)
    guests.wait_ready([node3])
    if _names(node3) != _names(node1):
        raise guests.GuestError('node3 rejoined with other LVs than node1')
    return [held, meanwhile], reset, taken


def delete_elsewhere(cluster, stacks, names):
    """Each volume deleted by the node after the one that made it; the
    VG is then empty on every node.
    """
    def delete(index, name):
        stacks[(index + 1) % NODES].ops.delete_volume(name)

    with concurrent.futures.ThreadPoolExecutor(NODES * CREATES) as pool:
        for done in [pool.submit(delete, index // CREATES, name)
                     for index, name in enumerate(names)]:
            done.result()
    left = {node.name: _names(node) for node in cluster.nodes}
    if any(left.values()):
        raise guests.GuestError('LVs left after the deletes: %s' % left)


class _Warnings(logging.Handler):
    """The warnings a logger gives while this is entered."""

    def __init__(self, logger_name):
        super().__init__(logging.WARNING)
        self.lines = []
        self._logger = logging.getLogger(logger_name)

    def __enter__(self):
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        self._logger.removeHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())


class _Served:
    """Requests tried until accepted after a node's death: what each
    answered, when, and how long it took.

    :param since: when the node died (``time.monotonic()``).
    :param bound: seconds after it by which every request must be accepted.
    """

    def __init__(self, since, bound):
        self.since = since
        self.bound = bound
        #: label -> (seconds after the death it was answered, seconds
        #: it took)
        self.accepted = {}
        #: label -> refusals
        self.refused = {}
        self._lock = threading.Lock()

    def until_accepted(self, steps):
        """Each ``(label, request)`` in turn, tried again every
        :data:`RETRY_INTERVAL` while refused.
        """
        for label, request in steps:
            while True:
                started = time.monotonic()
                try:
                    request()
                except exception.DrbdClvmError as error:
                    self._refusal(label, error, started)
                    time.sleep(RETRY_INTERVAL)
                    continue
                now = time.monotonic()
                with self._lock:
                    self.accepted[label] = (now - self.since, now - started)
                gate.log('%s: accepted %.1f s after the death (took %.1f s)'
                         % ((label,) + self.accepted[label]))
                break

    def _refusal(self, label, error, started):
        now = time.monotonic()
        with self._lock:
            self.refused[label] = self.refused.get(label, 0) + 1
            first = self.refused[label] == 1
        if first:
            gate.log('%s: refused %.1f s after the death (took %.1f s): '
                     '%s: %s' % (label, now - self.since, now - started,
                                 type(error).__name__, error))
        if now - self.since > self.bound:
            raise guests.GuestError(
                '%s still refused %.0f s after the death (bound %d s): %s'
                % (label, now - self.since, self.bound, error))


def departure_readings(lock_manager):
    """What tells node1 that node3 has gone, as ``(node index, argv)``:
    sanlock's reading of the hosts' leases, or corosync's quorum and
    membership.
    """
    if lock_manager == 'sanlock':
        return [(0, list(sanlock.Sanlock(None, guests.VG_NAME).host_status()))]
    return [(0, ['corosync-quorumtool', option]) for option in ('-s', '-l')]


def _watch_departure(any_node, dead, served, record):
    """Seconds after the death until ``any_node`` counts ``dead`` as
    departed; ``record`` is called with ``'silent'`` once while it does not
    yet after :data:`SILENT_RECORDED_AFTER` s, with ``'departed'`` when it
    does.
    """
    silent_recorded = False
    while dead not in any_node.departed_nodes():
        after = time.monotonic() - served.since
        if after > served.bound:
            raise guests.GuestError('%s not seen gone %.0f s after its death'
                                    % (dead, after))
        if not silent_recorded and after >= SILENT_RECORDED_AFTER:
            record('silent')
            silent_recorded = True
        time.sleep(RETRY_INTERVAL)
    departed = time.monotonic() - served.since
    gate.log('%s read as departed %.1f s after its death' % (dead, departed))
    record('departed')
    return departed


def _in_use_on(stacks, dead, prefix):
    """On ``dead`` (node3): a volume an instance there uses (attached:
    active shared), and one it exports (an origin with a snapshot: held
    exclusively), as Cinder's services on node1 make them; a volume of
    node1's for the changes after its death. Their names, in that order.
    """
    used, held, held_snapshot, source = ['%s-%s' % (prefix, label) for label
                                         in ('used', 'held', 'held-snap',
                                             'source')]
    stacks[2].ops.create_volume(used, SIZE_MIB, used)
    stacks[2].ops.create_volume(held, SIZE_MIB, held)
    stacks[2].ops.create_snapshot(held_snapshot, held, held_snapshot)
    stacks[0].ops.create_volume(source, SIZE_MIB, source)
    for name in (used, held):
        stacks[0].any_node.on(dead, 'use', name=name)
    return used, held, source


def _changes(stacks, prefix, source):
    """A create, an extend, a snapshot, a clone and deletes, served by
    node1 and node2 in turn: ``(label, request)`` each; and the clone's
    name.
    """
    any1, any2 = stacks[0].any_node, stacks[1].any_node
    new, snapshot, clone = ['%s-%s' % (prefix, label)
                            for label in ('new', 'snap', 'clone')]
    return [
        ('create on node1',
         lambda: any1.ops.create_volume(new, SIZE_MIB, new)),
        ('extend on node2',
         lambda: any2.extend_volume(source, SIZE_MIB, 2 * SIZE_MIB)),
        ('snapshot on node1',
         lambda: any1.run('create_snapshot', snapshot_name=snapshot,
                          volume_name=source, snapshot_id=snapshot)),
        ('clone on node2',
         lambda: any2.run('clone_volume', name=clone, size_mib=2 * SIZE_MIB,
                          volume_id=clone, source_name=source)),
        ('snapshot deleted on node1',
         lambda: any1.run('delete_snapshot', snapshot_name=snapshot,
                          volume_name=source)),
        ('delete on node2', lambda: any2.run('delete_volume', name=new)),
    ], clone


def _evacuation(stacks, dead, name):
    """As Nova evacuates an instance: ``name`` attached on node1, then the
    dead node's attachment removed, served by node2.
    """
    return [('%s attached on node1' % name,
             lambda: stacks[0].any_node.on(stacks[0].any_node.names.local,
                                           'use', name=name)),
            ('%s: %s\'s attachment released through node2' % (name, dead),
             lambda: stacks[1].any_node.on(dead, 'release', name=name))]


def node_dead_for_good(cluster, stacks, prefix, lock_manager, record):
    """node3 dies for good - its qemu killed and kept off (a fence powers
    nothing on), its peer endpoint gone, so that a call to it times out as
    one to a dead RPC server does - while it uses one volume and holds
    another (:func:`_in_use_on`). node1 and node2 serve :func:`_changes`
    and evacuate both volumes (:func:`_evacuation`), each request tried
    again until accepted within :data:`NODE_DEAD_BOUND`; node3's releases
    must be skipped at once (no peer call) once node3 has left, and the
    driver must say so. Then node1 and node2 list every LV that should be
    there, and node1 reads what node3 wrote.

    :param record: called with a moment (``alive``, ``silent``,
        ``departed``) to keep node1's :func:`departure_readings` then.
    :returns: the figures for the lab's result.
    """
    node1, node2, node3 = cluster.nodes
    dead = node3.name
    used, held, source = _in_use_on(stacks, dead, prefix)
    used_path = '/dev/%s/%s' % (guests.VG_NAME, used)
    written = base.write_pattern(node3, used_path)
    before = {name for name, _ in _names(node1)}
    record('alive')
    device = cluster.fence_device
    device.dead.add(dead)
    stacks[0].any_node.peers.endpoints.pop(dead)
    device.kill(dead)
    served = _Served(time.monotonic(), NODE_DEAD_BOUND[lock_manager])
    changes, clone = _changes(stacks, prefix, source)
    with _Warnings(routing.__name__) as warnings, \
            concurrent.futures.ThreadPoolExecutor(4) as pool:
        watched = pool.submit(_watch_departure, stacks[0].any_node, dead,
                              served, record)
        for done in [pool.submit(served.until_accepted, steps) for steps in
                     (changes, _evacuation(stacks, dead, used),
                      _evacuation(stacks, dead, held))]:
            done.result()
        departed = watched.result()
    releases = {label: served.accepted[label] for label in served.accepted
                if label.endswith('released through node2')}
    skips = [line for line in warnings.lines
             if line.startswith('Skipping release on %s' % dead)]
    gate.log('the driver said: %s' % (skips[:1] or 'nothing'))
    if len(skips) < len(releases) or any(
            taken > SKIPPED_AT_ONCE for _, taken in releases.values()):
        raise guests.GuestError(
            '%s\'s releases were not skipped at once as having left the '
            'cluster: %s; the driver said %s' % (dead, releases,
                                                 warnings.lines))
    if base.digest(node1, used_path) != written:
        raise guests.GuestError('node1 reads other data in %s than %s wrote'
                                % (used, dead))
    wanted = before | {clone}
    listed = {node.name: {name for name, _ in _names(node)}
              for node in (node1, node2)}
    lost = wanted - listed[node1.name]
    if lost or any(names != wanted for names in listed.values()):
        raise guests.GuestError('after %s\'s death %s lost, listed: %s'
                                % (dead, sorted(lost), listed))
    return _figures(served, changes, departed, releases, (used, held), lost)


def _figures(served, changes, departed, releases, evacuated, lost):
    """What the lab's result keeps of :func:`node_dead_for_good`, logged.
    node3 counts as gone from whichever saw it first: the watch, or a
    release skipped between two of its readings.
    """
    changed = [served.accepted[label][0] for label, _ in changes]
    figures = {
        'first_change_accepted_s': round(min(changed), 1),
        'every_change_accepted_s': round(max(changed), 1),
        'departed_s': round(min([departed] + [
            after for after, _ in releases.values()]), 1),
        'evacuated_s': [round(served.accepted['%s attached on node1'
                                              % name][0], 1)
                        for name in evacuated],
        'answers': len(served.accepted),
        'refusals': sum(served.refused.values()), 'lvs_lost': len(lost)}
    gate.log('node3 dead for good: first change accepted %(first_change_'
             'accepted_s).1f s after, every one by %(every_change_accepted_'
             's).1f s; node3 gone by %(departed_s).1f s; its volumes '
             'attached on node1 after %(evacuated_s)s s; %(answers)d '
             'answers, %(refusals)d refusals, %(lvs_lost)d LVs lost'
             % figures)
    return figures


def run_lab(args, image, lock_manager):
    """Boot the three nodes on ``lock_manager``, record, then the three
    checks above.
    """
    phase = gate.phase
    with contextlib.ExitStack() as stack_of_exits:
        cluster = phase(
            'boot %d guests on one shared LUN, %s' % (NODES, lock_manager),
            stack_of_exits.enter_context,
            guests.booted(image, log=gate.log, logs_dir=args.logs,
                          shared_lun_nodes=NODES, lock_manager=lock_manager))
        scratch = stack_of_exits.enter_context(tempfile.TemporaryDirectory())
        name = recording_name(lock_manager)
        # Recording only writes fixtures (nothing checks them here): only
        # where --record asks (sanlock's stops and starts a lockspace).
        if args.record is not None and name in (args.record or [name]):
            directory = os.path.join(gate.RECORDED, name)
            phase('record real outputs into %s' % directory, cluster.record,
                  directory, _recording(_kernel_name(cluster.nodes[0]),
                                        lock_manager), _lab(lock_manager))
        stacks = phase('the driver\'s layers on every node',
                       build_stacks, cluster, scratch, lock_manager)
        prefix = 'lun%d' % int(time.time())
        made = phase('creates from every node at once',
                     concurrent_creates, cluster, stacks, prefix)
        idle = phase('the shared disk\'s I/O while idle', idle_io, cluster)
        throughput_made, rates, per_create = phase(
            'creates per second from one, two, three nodes', throughput,
            cluster, stacks, prefix)
        made += throughput_made
        result = {'lock_manager': lock_manager, 'nodes': NODES,
                  'creates_per_second': rates, 'idle_io_per_second': idle,
                  'io_per_create': per_create}
        made += phase('a node that loses its path refuses, the others go on',
                      lost_path, cluster, stacks, prefix)
        if lock_manager == 'sanlock':
            lease_made, reset, taken = phase(
                'node3 loses the disk holding an LV: watchdog, takeover',
                lease_lost, cluster, stacks, prefix)
            made += lease_made
            result.update(watchdog_reset_s=round(reset),
                          lv_taken_over_s=round(taken))
        phase('every volume deleted from another node', delete_elsewhere,
              cluster, stacks, made)
        if args.with_scenarios:
            phase('scenario tests on %s and %s' % (
                cluster.nodes[0].name, cluster.nodes[-1].name),
                gate.run_scenarios, cluster, args.concurrent_creates,
                args.scenarios)
        dead_name = name + '-node-dead'
        dead_kept = args.record is not None and dead_name in (
            args.record or [dead_name])
        dead_dir = os.path.join(gate.RECORDED if dead_kept else scratch,
                                dead_name)

        def record(moment):
            cluster.record(os.path.join(dead_dir, moment),
                           departure_readings(lock_manager),
                           _lab(lock_manager))

        result['node_dead_for_good'] = phase(
            'node3 dead for good: node1 and node2 serve, evacuate its '
            'volumes', node_dead_for_good, cluster, stacks, prefix + 'd',
            lock_manager, record)
    result.update(guests.provenance())
    results = os.path.join(guests.ROOT, 'results')
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, 'shared-lun-%s-latest.json'
                           % lock_manager), 'w') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write('\n')


def run(args):
    image = gate.phase('build or reuse the guest image', gate.build_image)
    for lock_manager in args.shared_lun or LOCK_MANAGERS:
        run_lab(args, image, lock_manager)
