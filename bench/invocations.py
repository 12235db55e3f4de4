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
from drbd_clvm_driver import peer
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


def _operations(ctx, volume_driver, wiping_driver, measure):
    """Every operation but start-up, once, each through ``measure``."""
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


class Issued(dict):
    """``{operation: [argv, ...]}``, and in :attr:`calls` the root calls
    each took where they were counted (ours; Cinder's are one per command).
    """

    def __init__(self):
        super().__init__()
        self.calls = {}


def run_script(make_driver, recorded, calls=None):
    """Run every operation and return what each issued (:class:`Issued`).

    Start-up is measured on a fresh driver.  The other operations run
    twice and the second run is measured: the first fills what a running
    service has cached (Cinder's LVM version, our DRBD minor), which would
    otherwise be charged to whichever operation happens to come first.

    :param make_driver: ``make_driver(volume_clear)`` -> a driver, not set
        up yet.
    :param recorded: returns the list of every command issued so far.
    :param calls: returns how many root calls were made so far.
    """
    ctx = context.get_admin_context()
    result = Issued()

    def measure(operation, call, *args):
        start, calls_before = len(recorded()), calls and calls()
        call(*args)
        result[operation] = [tuple(argv) for argv in recorded()[start:]]
        if calls:
            result.calls[operation] = calls() - calls_before

    def start_up(volume_driver):
        volume_driver.do_setup(ctx)
        volume_driver.check_for_setup_error()

    volume_driver = make_driver('none')
    measure(START_UP, start_up, volume_driver)
    wiping_driver = make_driver('zero')
    start_up(wiping_driver)
    _operations(ctx, volume_driver, wiping_driver,
                lambda operation, call, *args: call(*args))
    _operations(ctx, volume_driver, wiping_driver, measure)
    return result


def measure_ours(lock_path):
    """Our driver on node 1 of a fresh simulated cluster."""
    cluster = sim.SimulatedCluster(vg_name=VG_NAME, vg_size_mib=VG_SIZE_MIB)
    node = cluster.nodes[0]
    counter = commands.CallCounter(node.runner)

    def make_driver(volume_clear):
        conf = configuration_for(
            'bench-ours-%s' % volume_clear, volume_group=VG_NAME,
            drbd_clvm_drbd_resource=cluster.drbd_resource,
            drbd_clvm_lock_manager='lvmlockd',
            target_helper='fake', volume_clear=volume_clear,
            volume_clear_size=0, volume_backend_name='drbd',
            drbd_clvm_lock_path=lock_path)
        return our_driver.DrbdClvmVolumeDriver(
            configuration=conf, runner=counter, host='node1@drbd',
            peers=peer.InProcessPeers({}))

    def recorded():
        return [argv for name, argv in cluster.commands if name == node.name]

    return run_script(make_driver, recorded, lambda: counter.calls)


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


def _lvm_commands(summary):
    return [command for command in summary['commands']
            if commands.kind(command.split()) == commands.LVM]


#: programs whose first argument says what the command does
_ACTION_IN_FIRST_ARGUMENT = ('lvchange',)


def _beyond(ours, theirs):
    """Ours' LVM programs in excess of Cinder's; for ``lvchange`` also
    what each of ours did (``-aey``, ``-an``, ``--deltag`` are different
    work).
    """
    programs = [commands.program(command.split()) for command in ours]
    extra = (collections.Counter(programs) -
             collections.Counter(commands.program(command.split())
                                 for command in theirs))
    if not extra:
        return 'nothing (same programs)'
    words = []
    for name, count in sorted(extra.items()):
        word = '%s x%d more' % (name, count)
        if name in _ACTION_IN_FIRST_ARGUMENT:
            word += ' (ours runs %s %s)' % (name, ', '.join(
                command.split()[1] for command in ours
                if command.split()[0] == name))
        words.append(word)
    return ', '.join(words)


def _target(operation, ours, theirs):
    """``(met, text)`` for the issue's targets on one operation; a miss
    names the LVM commands ours issues beyond Cinder's.
    """
    our_lvm, their_lvm = _lvm_commands(ours), _lvm_commands(theirs)
    limit = operation in AT_MOST_TWO
    problems = []
    if limit and len(our_lvm) > 2:
        problems.append('%d LVM invocations, target at most 2'
                        % len(our_lvm))
    if len(our_lvm) == len(their_lvm) == 1:
        # One command is the floor: "fewer" cannot be met by anyone.
        floor = 'equal to Cinder\'s single command, the floor'
        if not problems:
            return True, 'met (%s%s)' % ('<=2; ' if limit else '', floor)
    elif len(our_lvm) >= len(their_lvm):
        problems.append('%d LVM invocations, not fewer than Cinder\'s %d'
                        % (len(our_lvm), len(their_lvm)))
    if not problems:
        return True, 'met (%s< Cinder)' % ('<=2 and ' if limit else '')
    return False, 'MISSED: %s; beyond Cinder: %s' % (
        '; '.join(problems), _beyond(our_lvm, their_lvm))


def compare(ours, theirs):
    """One row per operation, in :data:`OPERATIONS` order."""
    rows = []
    for operation in OPERATIONS:
        our_summary = commands.summary(
            ours[operation], getattr(ours, 'calls', {}).get(operation))
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
    header = ('%-27s %4s %4s %6s %5s %5s | %4s %4s %5s %5s | %5s | %s'
              % ('operation', 'LVM', 'data', 'health', 'procs', 'calls',
                 'LVM', 'data', 'procs', 'calls', 'ratio', 'target'))
    lines = ['Cost per operation: ours (drbd-clvm, simulator; left) vs '
             'Cinder LVMVolumeDriver (thick, in-memory VG; right)', header,
             '-' * len(header)]
    for row in rows:
        ours, theirs = row['ours'], row['cinder']
        ratio = ('%.2f' % row['lvm_ratio'] if row['lvm_ratio'] is not None
                 else '-')
        lines.append('%-27s %4d %4d %6d %5d %5d | %4d %4d %5d %5d | %5s | %s'
                     % (row['operation'], ours['counts'][commands.LVM],
                        ours['counts'][commands.DATA],
                        ours['counts'][commands.HEALTH], ours['processes'],
                        ours['calls'], theirs['counts'][commands.LVM],
                        theirs['counts'][commands.DATA],
                        theirs['processes'], theirs['calls'], ratio,
                        'met' if row['target_met'] else 'MISSED'))
    lines += ['LVM: LVM invocations (ratio: ours / Cinder\'s); health: the '
              'safety gate\'s readings, which Cinder does not take; procs: '
              'programs started as root (the privileged daemon answers '
              'health readings itself); calls: root calls (ours: to the '
              'privsep daemon; Cinder\'s: sudo cinder-rootwrap, one per '
              'command)', '',
              'Commands issued (gate(n): n health readings in a row)']
    for row in rows:
        lines.append(row['operation'])
        lines.append('  ours:   %s' % _programs(row['ours']))
        lines.append('  Cinder: %s' % _programs(row['cinder']))
    lines += ['', 'Targets: at most 2 LVM invocations for create, delete '
              '(volume_clear none), extend; fewer than Cinder\'s for all']
    for row in rows:
        lines.append('  %-27s %s' % (row['operation'], row['target']))
    missed = [row['operation'] for row in rows if not row['target_met']]
    lines.append('TARGETS MISSED: %s' % ', '.join(missed) if missed
                 else 'All LVM-invocation targets met.')
    return '\n'.join(lines)
