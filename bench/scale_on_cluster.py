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

"""The volume service's start-up, its stats refresh and the manageable
volume listing as the VG fills, on a real node through the deployed driver.

Run inside a gate guest by :mod:`bench.deployed`: the driver is the volume
service's own (its backend section of ``cinder.conf``, its privsep daemon),
asked directly rather than through Cinder's manager, with no peer calls
(the other node is not asked anything by these three). For each size the
VG is filled to that many volumes, each active on this node and in use
there (a local attachment), as Cinder's tags and a volume service's
attachments make them; the fill is one LVM shell for all, set-up rather
than what is measured.

- start-up: ``do_setup`` and ``check_for_setup_error`` of a new driver (it
  refreshes the device of every LV active here), then ``ensure_export`` of
  every volume and ``set_initialized``, as a volume service's
  ``init_host`` does;
- stats refresh: ``get_volume_stats(refresh=True)`` after a change (a tag
  added to one volume: every node's refresh then reads the VG again), the
  median of a few; and without one (the PVs' headers show no commit, the
  report read before is kept);
- manageable listing: ``get_manageable_volumes`` over every LV, none of
  them Cinder's (each one is read and judged), the median of a few;
- the VG read alone: ``vgs`` with VG columns only, run as a program, the
  median of a few: what any report of the VG pays LVM before a column.

Each figure's growth per volume is the least-squares slope over the sizes;
where the lab holds fewer volumes than a target names, the figure at the
target's count is that line's, and says so.
"""

import statistics
import subprocess
import time
import uuid

from cinder import context
from cinder import objects
from cinder.volume import configuration
from cinder.volume import driver as cinder_driver

from drbd_clvm_driver import driver as our_driver
from drbd_clvm_driver import exports
from drbd_clvm_driver import operations
from drbd_clvm_driver import peer

#: volumes in the VG at each measurement (past the 1,280 that LVM's
#: default metadata area holds)
SIZES = (100, 300, 1500)
#: refreshes and listings timed at each size
REPEATS = 3
VOLUME_MIB = 4
#: what each volume id starts with (its LV is ``volume-<id>``, as
#: Cinder names it), so that one selection finds them all
ID_PREFIX = '5ca1e000'
PREFIX = 'volume-' + ID_PREFIX
#: the issue's targets: (volumes, at most seconds)
START_UP_TARGET = (300, 60.0)
STATS_TARGET = (3000, 1.0)
MANAGEABLE_TARGET = (3000, 2.0)
#: each figure a target judges: its key in a row, what tables call it,
#: its target
FIGURES = (('start_up_s', 'start-up', START_UP_TARGET),
           ('stats_refresh_s', 'stats refresh', STATS_TARGET),
           ('stats_unchanged_s', 'stats refresh, no commit since',
            STATS_TARGET),
           ('manageable_s', 'manageable listing', MANAGEABLE_TARGET))
#: volumes named in one LVM command of the clean-up
REMOVE_CHUNK = 50
#: seconds an LVM shell may take over one size's fill or the clean-up
LVM_SHELL_TIMEOUT = 1800


#: LVM's archive of the metadata in /etc/lvm at every change, left out of
#: the set-up's thousands of changes (0.4 MiB a copy at 1,250 volumes)
_NO_ARCHIVE = '--config backup/archive=0'


def _lvm_shell(lines):
    """``lines`` (LVM commands without the ``lvm`` word) through one LVM
    shell: one start of LVM for all of them.
    """
    typed = ''.join('%s %s\n' % (line, _NO_ARCHIVE) for line in lines)
    done = subprocess.run(['lvm'], input=typed, capture_output=True,
                          text=True, timeout=LVM_SHELL_TIMEOUT)
    return done.stdout + done.stderr


def _names(vg):
    done = subprocess.run(
        ['lvs', '--noheadings', '-o', 'lv_name', '--select',
         'lv_name=~^%s' % PREFIX, vg], capture_output=True, text=True,
        timeout=600)
    return done.stdout.split()


def fill(vg, count):
    """Up to ``count`` volumes named :data:`PREFIX`, tagged as Cinder tags
    them, each active shared on this node.
    """
    have = len(_names(vg))
    ids = [ID_PREFIX + str(uuid.uuid4())[len(ID_PREFIX):]
           for _ in range(count - have)]
    said = _lvm_shell([
        'lvcreate -y -an -L %dm -n volume-%s --addtag %s%s %s' % (
            VOLUME_MIB, volume_id, operations.VOLUME_TAG, volume_id, vg)
        for volume_id in ids])
    _lvm_shell(['lvchange -asy --select lv_name=~^%s %s' % (PREFIX, vg)])
    made = _names(vg)
    if len(made) != count:
        raise RuntimeError('the VG holds %d of the %d volumes asked for: %s'
                           % (len(made), count, said[-2000:]))
    return made


def remove_all(vg):
    """Every volume :func:`fill` made, deactivated then removed 50 at a
    time, each step in an LVM shell of its own: typed after an activation
    change into the same shell, LVM commits a removal under the VG's shared
    lock (lvmlockd: ``version on non-ex lock``, refused by the gate's last
    console check), as the driver's own shell learned
    (:func:`drbd_clvm_driver.privileged.lvm_shell.takes_exclusive_lock`).
    """
    names = ['%s/%s' % (vg, name) for name in _names(vg)]
    chunks = [' '.join(names[start:start + REMOVE_CHUNK])
              for start in range(0, len(names), REMOVE_CHUNK)]
    _lvm_shell(['lvchange -an %s' % chunk for chunk in chunks])
    _lvm_shell(['lvremove -y %s' % chunk for chunk in chunks])
    left = _names(vg)
    if left:
        raise RuntimeError('%d volumes were left in %s' % (len(left), vg))


def commit_a_change(vg, name, number):
    """One commit of the VG's metadata (a tag on LV ``name``), as any
    node's change makes one.
    """
    _lvm_shell(['lvchange --addtag bench-change-%d %s/%s'
                % (number, vg, name)])


def read_vg(vg):
    """The VG's own fields alone, as a program: LVM's floor for a report."""
    subprocess.run(['vgs', '-o', 'vg_name,vg_size,vg_free', vg], check=True,
                   capture_output=True, timeout=600)


def _in_use_here(ctx, name, node):
    """The Cinder volume behind LV ``name``, attached (local) on ``node``."""
    volume_id = name[len('volume-'):]
    attachment = objects.VolumeAttachment(
        ctx, id=str(uuid.uuid4()), volume_id=volume_id,
        attach_status='attached', connector={'host': node},
        connection_info={'driver_volume_type': 'local',
                         exports.NODE_KEY: node})
    return objects.Volume(
        ctx, id=volume_id, _name_id=None, size=1, status='in-use',
        volume_attachment=objects.VolumeAttachmentList(
            objects=[attachment]))


def _driver(backend, node):
    conf = configuration.Configuration(cinder_driver.volume_opts,
                                       config_group=backend)
    return our_driver.DrbdClvmVolumeDriver(
        configuration=conf, host='%s@%s' % (node, backend),
        peers=peer.InProcessPeers({}))


def _timed(call, *args):
    started = time.monotonic()
    call(*args)
    return time.monotonic() - started


def measure_size(ctx, vg, backend, node, count):
    names = fill(vg, count)
    volumes = [_in_use_here(ctx, name, node) for name in names]
    started = time.monotonic()
    volume_driver = _driver(backend, node)
    volume_driver.do_setup(ctx)
    volume_driver.check_for_setup_error()
    for volume in volumes:
        volume_driver.ensure_export(ctx, volume)
    volume_driver.set_initialized()
    start_up = time.monotonic() - started

    def refresh_after_a_change(number):
        commit_a_change(vg, names[0], number)
        return _timed(volume_driver.get_volume_stats, True)

    stats = [refresh_after_a_change(number) for number in range(REPEATS)]
    unchanged = [_timed(volume_driver.get_volume_stats, True)
                 for _ in range(REPEATS)]
    listed = []

    def listing():
        listed[:] = volume_driver.get_manageable_volumes(
            [], None, count + 100, 0, ['size'], ['desc'])

    manageable = [_timed(listing) for _ in range(REPEATS)]
    vg_read = [_timed(read_vg, vg) for _ in range(REPEATS)]
    reported = volume_driver.get_volume_stats()['pools'][0]['total_volumes']
    vg_report = volume_driver.ops.vg.volume_group()
    return {'volumes': count, 'start_up_s': start_up,
            'metadata_area_bytes': vg_report.metadata_area_bytes,
            'metadata_free_bytes': vg_report.metadata_free_bytes,
            'stats_refresh_s': statistics.median(stats),
            'stats_unchanged_s': statistics.median(unchanged),
            'manageable_s': statistics.median(manageable),
            'vg_read_s': statistics.median(vg_read),
            'listed': len([entry for entry in listed
                           if entry['reference']['source-name'].startswith(
                               PREFIX)]),
            'reported_volumes': reported}


def slope(rows, key):
    """Seconds per volume of ``key`` over the rows (least squares), and the
    line's figure at zero volumes.
    """
    xs = [row['volumes'] for row in rows]
    ys = [row[key] for row in rows]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    per = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) /
           sum((x - mean_x) ** 2 for x in xs))
    return per, mean_y - per * mean_x


def verdicts(rows):
    """Each target: the figure at its volume count (measured where the lab
    held that many, else the fitted line's), the growth per volume, met.
    """
    out = []
    for key, what, (volumes, bound) in FIGURES:
        if not all(key in row for row in rows):
            continue  # measured since a later commit
        per, base = slope(rows, key)
        measured = [row[key] for row in rows if row['volumes'] == volumes]
        at_target = measured[0] if measured else base + per * volumes
        out.append({'figure': key, 'what': what, 'volumes': volumes,
                    'target_s': bound,
                    'seconds': round(at_target, 3),
                    'projected': not measured,
                    'ms_per_volume': round(per * 1000, 3),
                    'met': at_target <= bound})
    return out


def measure(vg, backend, node, sizes=SIZES):
    ctx = context.get_admin_context()
    try:
        rows = [measure_size(ctx, vg, backend, node, count)
                for count in sizes]
    finally:
        remove_all(vg)
    return {'rows': rows, 'targets': verdicts(rows)}
