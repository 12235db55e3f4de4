"""Commands per operation: our driver on the simulated cluster against
Cinder's ``LVMVolumeDriver`` on an in-memory VG of the same name and size.

Both drivers go through the same script (:func:`run_script`) of Cinder
driver calls; only the commands each issues are recorded.  Cinder's LVM
layer starts some commands through ``processutils.execute`` directly
rather than through the executor it is given, so that function is replaced
too while Cinder's driver runs.
"""

import collections
import contextlib
import os
import tempfile
from unittest import mock
import uuid

from cinder.brick.local_dev import lvm as cinder_brick_lvm
from cinder import context
from cinder import objects
from cinder.volume import configuration
from cinder.volume import driver as cinder_driver
from cinder.volume.drivers import lvm as cinder_lvm
from oslo_concurrency import processutils
from oslo_config import cfg

from bench import commands
from bench import fake_lvm
from drbd_clvm_driver import driver as our_driver
from drbd_clvm_driver import opts
from tests.sim import cluster as sim

VG_NAME = 'vgc'
#: room for every volume and snapshot of the script
VG_SIZE_MIB = 16 * 1024

CREATE = 'create'
DELETE = 'delete (volume_clear none)'
DELETE_ZERO = 'delete (volume_clear zero)'
EXTEND = 'extend'
SNAPSHOT = 'snapshot'
FROM_SNAPSHOT = 'volume from snapshot'
CLONE = 'clone'
STATS = 'stats refresh'
START_UP = 'start-up'
OPERATIONS = (CREATE, DELETE, DELETE_ZERO, EXTEND, SNAPSHOT, FROM_SNAPSHOT,
              CLONE, STATS, START_UP)
#: the issue's hard limit on LVM invocations
AT_MOST_TWO = (CREATE, DELETE, EXTEND)

_OPTIONS = (cinder_driver.volume_opts + cinder_lvm.volume_opts +
            opts.drbd_clvm_opts)


def configuration_for(group, **values):
    """A backend section of its own, so two drivers never share a value."""
    conf = configuration.Configuration(_OPTIONS, config_group=group)
    for name, value in values.items():
        cfg.CONF.set_override(name, value, group=group)
    return conf


def _volume(ctx, size):
    # Not attached: the target helpers look, and must not ask a database.
    return objects.Volume(ctx, id=str(uuid.uuid4()), _name_id=None,
                          size=size,
                          volume_attachment=objects.VolumeAttachmentList())


def run_script(make_driver, recorded):
    """Run every operation once and return ``{operation: [argv, ...]}``.

    :param make_driver: ``make_driver(volume_clear)`` -> a driver, not set
        up yet.
    :param recorded: returns the list of every command issued so far.
    """
    objects.register_all()
    ctx = context.get_admin_context()
    result = {}

    def measure(operation, call, *args):
        start = len(recorded())
        call(*args)
        result[operation] = [tuple(argv) for argv in recorded()[start:]]

    def start_up(volume_driver):
        volume_driver.do_setup(ctx)
        volume_driver.check_for_setup_error()

    volume_driver = make_driver('none')
    measure(START_UP, start_up, volume_driver)
    wiping_driver = make_driver('zero')
    start_up(wiping_driver)

    origin = _volume(ctx, 1)
    measure(CREATE, volume_driver.create_volume, origin)
    measure(EXTEND, volume_driver.extend_volume, origin, 2)
    origin.size = 2
    snapshot = objects.Snapshot(ctx, id=str(uuid.uuid4()),
                                volume_id=origin.id, volume_size=2,
                                volume=origin)
    measure(SNAPSHOT, volume_driver.create_snapshot, snapshot)
    copy = _volume(ctx, 2)
    measure(FROM_SNAPSHOT, volume_driver.create_volume_from_snapshot, copy,
            snapshot)
    clone = _volume(ctx, 2)
    measure(CLONE, volume_driver.create_cloned_volume, clone, origin)
    measure(STATS, volume_driver.get_volume_stats, True)
    measure(DELETE, volume_driver.delete_volume, copy)
    measure(DELETE_ZERO, wiping_driver.delete_volume, clone)
    return result


def measure_ours(lock_path):
    """Our driver on node 1 of a fresh simulated cluster."""
    cluster = sim.SimulatedCluster(vg_name=VG_NAME, vg_size_mib=VG_SIZE_MIB)
    node = cluster.nodes[0]

    def make_driver(volume_clear):
        conf = configuration_for(
            'bench-ours-%s' % volume_clear, volume_group=VG_NAME,
            drbd_resource=cluster.drbd_resource, lock_manager='lvmlockd',
            target_helper='fake', volume_clear=volume_clear,
            volume_clear_size=0, volume_backend_name='drbd',
            drbd_clvm_lock_path=lock_path)
        return our_driver.DrbdClvmVolumeDriver(configuration=conf,
                                               runner=node.runner)

    def recorded():
        return [argv for name, argv in cluster.commands if name == node.name]

    return run_script(make_driver, recorded)


def measure_cinder():
    """Cinder's own LVM driver, thick LVs like ours, on a fake VG."""
    vg = fake_lvm.FakeVG(VG_NAME, VG_SIZE_MIB)
    issued = []

    def execute(*cmd, **kwargs):
        issued.append(tuple(str(arg) for arg in cmd))
        return vg.execute(*cmd, **kwargs)

    def make_driver(volume_clear):
        conf = configuration_for(
            'bench-cinder-%s' % volume_clear, volume_group=VG_NAME,
            lvm_type='default', lvm_conf_file='None', target_helper='fake',
            volume_clear=volume_clear, volume_clear_size=0,
            volume_backend_name='lvm')
        return cinder_lvm.LVMVolumeDriver(configuration=conf,
                                          execute=execute)

    real_exists = os.path.exists

    def exists(path):
        # _clear_volume looks for the device node before wiping it.
        return path.startswith('/dev/mapper/') or real_exists(path)

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(processutils, 'execute',
                                              execute))
        stack.enter_context(mock.patch.object(os.path, 'exists', exists))
        # A class-wide cache; a freshly started service has it empty.
        stack.enter_context(mock.patch.object(
            cinder_brick_lvm.LVM, '_supports_pvs_ignoreskippedcluster',
            None))
        return run_script(make_driver, lambda: issued)


def _lvm_programs(summary):
    return [name for name in summary['programs']
            if commands.kind([name]) == commands.LVM]


def _target(operation, ours, theirs):
    """``(met, text)`` for the issue's targets on one operation; a miss
    names the LVM commands ours issues beyond Cinder's.
    """
    our_lvm, their_lvm = _lvm_programs(ours), _lvm_programs(theirs)
    problems = []
    if operation in AT_MOST_TWO and len(our_lvm) > 2:
        problems.append('%d LVM invocations, target at most 2'
                        % len(our_lvm))
    if len(our_lvm) >= len(their_lvm):
        problems.append('%d LVM invocations, not fewer than Cinder\'s %d'
                        % (len(our_lvm), len(their_lvm)))
    if not problems:
        limit = '<=2 and ' if operation in AT_MOST_TWO else ''
        return True, 'met (%s< Cinder)' % limit
    extra = collections.Counter(our_lvm) - collections.Counter(their_lvm)
    return False, 'MISSED: %s; ours issues beyond Cinder: %s' % (
        '; '.join(problems),
        ', '.join('%s x%d' % item for item in sorted(extra.items()))
        or 'nothing (same commands)')


def compare(ours, theirs):
    """One row per operation, in :data:`OPERATIONS` order."""
    rows = []
    for operation in OPERATIONS:
        our_summary = commands.summary(ours[operation])
        their_summary = commands.summary(theirs[operation])
        our_lvm = our_summary['counts'][commands.LVM]
        their_lvm = their_summary['counts'][commands.LVM]
        met, text = _target(operation, our_summary, their_summary)
        rows.append({
            'operation': operation,
            'ours': our_summary,
            'cinder': their_summary,
            'lvm_ratio': round(our_lvm / their_lvm, 2) if their_lvm else None,
            'target_met': met,
            'target': text})
    return rows


def measure():
    with tempfile.TemporaryDirectory(prefix='bench-locks-') as lock_path:
        ours = measure_ours(lock_path)
    return compare(ours, measure_cinder())


def _programs(summary):
    """Program names in order, each run of gate checks folded to one."""
    words = []
    for name in summary['programs']:
        if commands.kind([name]) == commands.HEALTH:
            if words and words[-1].startswith('gate('):
                words[-1] = 'gate(%d)' % (int(words[-1][5:-1]) + 1)
                continue
            name = 'gate(1)'
        words.append(name)
    return ' '.join(words)


def format_table(rows):
    header = ('%-27s %5s %6s %4s | %6s %4s | %5s | %s'
              % ('operation', 'LVM', 'health', 'data', 'Cinder', 'data',
                 'ratio', 'target'))
    lines = ['LVM invocations per operation: ours (drbd-clvm, simulator) '
             'vs Cinder LVMVolumeDriver (thick)', header,
             '-' * len(header)]
    for row in rows:
        ours, theirs = row['ours']['counts'], row['cinder']['counts']
        ratio = ('%.2f' % row['lvm_ratio'] if row['lvm_ratio'] is not None
                 else '-')
        lines.append('%-27s %5d %6d %4d | %6d %4d | %5s | %s' % (
            row['operation'], ours[commands.LVM], ours[commands.HEALTH],
            ours[commands.DATA], theirs[commands.LVM],
            theirs[commands.DATA], ratio, row['target']))
    lines += ['', 'Commands issued (gate(n): n cluster-health commands '
              'of the safety gate)']
    for row in rows:
        lines.append('%s' % row['operation'])
        lines.append('  ours:   %s' % _programs(row['ours']))
        lines.append('  Cinder: %s' % _programs(row['cinder']))
    missed = [row for row in rows if not row['target_met']]
    lines.append('')
    if missed:
        lines.append('TARGETS MISSED: %s' % ', '.join(
            row['operation'] for row in missed))
    else:
        lines.append('All LVM-invocation targets met.')
    return '\n'.join(lines)
