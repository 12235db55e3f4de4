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
- every volume is deleted from a node other than the one that made it.

With ``--record``, what the nodes print for the plugins' readings is kept
under ``tests/unit/fixtures/recorded/gate-shared-lun`` (and ``-sanlock``).
"""

import concurrent.futures
import contextlib
import os
import tempfile
import time

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import stack
from tests.cluster import gate
from tests.cluster import guests

NODES = 3
#: volumes each node creates at once
CREATES = 8
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
            _GETS)]
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
        made += phase('a node that loses its path refuses, the others go on',
                      lost_path, cluster, stacks, prefix)
        phase('every volume deleted from another node', delete_elsewhere,
              cluster, stacks, made)


def run(args):
    image = gate.phase('build or reuse the guest image', gate.build_image)
    for lock_manager in args.shared_lun or LOCK_MANAGERS:
        run_lab(args, image, lock_manager)
