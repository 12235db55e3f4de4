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
  what the lost node wrote, and the others change the VG meanwhile.

With ``--with-scenarios``, the scenario suite (tests/scenario) then runs
on the lab too, its node A the first node and its node B the last.

With ``--record``, what the nodes print for the plugins' readings is kept
under ``tests/unit/fixtures/recorded/gate-shared-lun`` (and ``-sanlock``).
"""

import concurrent.futures
import contextlib
import json
import os
import tempfile
import time

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import stack
from tests.cluster import gate
from tests.cluster import guests
from tests.scenario import base

NODES = 3
#: seconds after losing the disk by which another node must hold the lost
#: node's LV: sanlock's 8 x 10 s I/O timeouts to lose the lease, wdmd's 60 s
#: watchdog fire timeout, and the emulated guests' slack
LEASE_TAKEOVER_BOUND = 300
#: volumes each node creates at once
CREATES = 8
#: creates each node makes one after another, for the throughput
THROUGHPUT_CREATES = 6
#: seconds the lab stays idle while the disk I/O the lock manager makes on
#: its own is counted
IDLE_SECONDS = 60
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


def build_stacks(cluster, lock_dir, lock_manager):
    """The driver's layers for each node, over its agent, each with its own
    lock files, as the driver builds them for ``replication =
    shared_lun``; each checks the VG is of ``lock_manager``'s kind.
    """
    stacks = [stack.build(node.runner, guests.VG_NAME,
                          guests.SHARED_LUN_DEVICE, replication='shared_lun',
                          lock_manager=lock_manager,
                          lock_path=os.path.join(lock_dir, node.name),
                          volume_clear='none')
              for node in cluster.nodes]
    for node_stack in stacks:
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
        kept = args.record is not None and name in (args.record or [name])
        directory = os.path.join(gate.RECORDED if kept else scratch, name)
        phase('record real outputs into %s' % directory, cluster.record,
              directory, _recording(_kernel_name(cluster.nodes[0]),
                                    lock_manager),
              'three gate guests on one shared SCSI disk (Debian 12, LVM '
              '2.03.16, lvmlockd with %s, no DRBD)' % (
                  'dlm, corosync 3.1.7' if lock_manager == 'lvmlockd'
                  else 'sanlock 3.8.5, wdmd on an i6300esb watchdog'))
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
    result.update(guests.provenance())
    with open(os.path.join(guests.ROOT, 'results', 'shared-lun-%s-latest.json'
                           % lock_manager), 'w') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write('\n')


def run(args):
    image = gate.phase('build or reuse the guest image', gate.build_image)
    for lock_manager in args.shared_lun or LOCK_MANAGERS:
        run_lab(args, image, lock_manager)
