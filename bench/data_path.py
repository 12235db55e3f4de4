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

"""What an instance's I/O meets: ``fio`` on a volume and on what lies
under it, on the same blocks.

One volume is made by the driver and attached locally the way the driver
attaches it (``use``: the LV active on this node, its path handed over).
The same extents are then measured four ways, each job run on each in
turn, round after round, so all of them see the same load:

- ``volume``: the volume's own device, as the instance gets it;
- ``drbd``: the DRBD device at the volume's first extent (what the volume
  maps onto; the difference is device-mapper's linear map);
- ``backing``: the DRBD backing disk at the same offset (DRBD's metadata is
  internal, at the disk's end): the disk without replication. Its writes
  reach this node only, so the volume is zeroed through DRBD afterwards,
  before its extents go back to the VG;
- ``snapshot origin``: the volume again with a thick snapshot taken just
  before each job, so that writes are an origin's first (each copies its
  chunk into the snapshot first).

Rows are medians over the rounds. 4 KiB jobs at queue depth 1 give the
time per I/O (1 / IOPS, so a write's fsync is in it); 1 MiB jobs give
MiB/s. The target: the volume within :data:`VOLUME_TARGET` of the DRBD
device on every row.
"""

import json
import statistics

from drbd_clvm_driver import lvm

#: the volume the jobs run on, MiB
VOLUME_MIB = 256
#: seconds each job runs
JOB_SECONDS = 4
#: name, fio options, what is reported (``us``: time per I/O, lower is
#: better; ``mib_s``: throughput, higher is better)
JOBS = (
    ('4k randwrite qd1', ('--rw=randwrite', '--bs=4k'), 'us'),
    ('4k randwrite qd1 fsync', ('--rw=randwrite', '--bs=4k', '--fsync=1'),
     'us'),
    ('4k randread qd1', ('--rw=randread', '--bs=4k'), 'us'),
    ('1M write', ('--rw=write', '--bs=1M'), 'mib_s'),
    ('1M read', ('--rw=read', '--bs=1M'), 'mib_s'),
)
VOLUME = 'volume'
DRBD = 'drbd'
BACKING = 'backing'
SNAPSHOT_ORIGIN = 'snapshot origin'
#: the volume's figure over the DRBD device's, at worst
VOLUME_TARGET = 1.03
FIO_TIMEOUT = 120


def fio_argv(path, offset, size, options, seconds=JOB_SECONDS):
    """One fio job, direct I/O at queue depth 1 on ``size`` bytes of
    ``path`` from ``offset``, its report as JSON.
    """
    return ['fio', '--name=bench', '--filename=%s' % path,
            '--offset=%d' % offset, '--size=%d' % size, '--direct=1',
            '--ioengine=psync', '--iodepth=1', '--time_based',
            '--runtime=%d' % seconds, '--randrepeat=0',
            '--output-format=json'] + list(options)


def job_figure(output, unit):
    """The figure of fio's JSON report ``output``: microseconds per I/O
    (``us``) or MiB/s (``mib_s``) of the job's reads or writes.
    """
    job = json.loads(output)['jobs'][0]
    side = max((job['read'], job['write']), key=lambda io: io['total_ios'])
    if not side['total_ios']:
        raise ValueError('fio did no I/O: %s' % job.get('error'))
    if unit == 'us':
        return 1e6 / side['iops']
    return side['bw_bytes'] / 2 ** 20


def volume_extents(run, lv):
    """(device under the LV, byte offset of its first extent) of the LV
    ``lv`` (VG/LV), which must lie in one segment.
    """
    segments = lvm._report(run(['lvs', '--segments', '--reportformat',
                                'json', '-o', 'seg_pe_ranges', lv]), 'seg')
    if len(segments) != 1:
        raise ValueError('%s has %d segments, the bench needs one'
                         % (lv, len(segments)))
    device, extents = segments[0]['seg_pe_ranges'].split(':')
    first = int(extents.split('-')[0])
    pv = lvm._report(run(['pvs', '--reportformat', 'json', '--units', 'b',
                          '-o', 'pe_start,vg_extent_size', device]), 'pv')[0]
    return device, (lvm._bytes(pv['pe_start']) +
                    first * lvm._bytes(pv['vg_extent_size']))


def summary(name, unit, figures):
    """One row: each device's median figure, and the volume's over the
    DRBD device's as a ratio where higher is better for the volume.
    """
    medians = {device: statistics.median(values)
               for device, values in figures.items()}
    volume, drbd = medians[VOLUME], medians[DRBD]
    ratio = drbd / volume if unit == 'us' else volume / drbd
    return {'job': name, 'unit': unit,
            'medians': {device: round(value, 1)
                        for device, value in medians.items()},
            'spread': {device: [round(min(values), 1),
                                round(max(values), 1)]
                       for device, values in figures.items()},
            'volume_over_drbd': round(ratio, 3),
            'target': round(1 / VOLUME_TARGET, 3),
            'met': ratio >= 1 / VOLUME_TARGET,
            'rounds': len(figures[VOLUME])}


def measure(ops, run, backing_device, prefix, rounds):
    """Every job on every device, ``rounds`` times, interleaved: the rows,
    and what the guest printed, to keep as recordings: fio's first report
    of each job on the volume, by job; LVM's reports of the volume's
    extents, by program.

    :param ops: the driver's operations (it makes, attaches and snapshots
        the volume).
    :param run: runs an argv as root and returns its standard output.
    :param backing_device: DRBD's backing disk on this node.
    """
    name, snapshot = prefix + 'fio', prefix + 'fio-snap'
    reports = {}
    size = VOLUME_MIB * 2 ** 20
    lv_path = ops.vg.lv_path(name)
    ops.create_volume(name, VOLUME_MIB, name)
    try:
        ops.use(name)
        try:
            def recorded(argv):
                reports[argv[0]] = output = run(argv)
                return output

            drbd_device, offset = volume_extents(
                recorded, '%s/%s' % (ops.vg.vg_name, name))
            places = {VOLUME: (lv_path, 0), DRBD: (drbd_device, offset),
                      BACKING: (backing_device, offset)}
            figures = {job: {device: [] for device in
                             list(places) + [SNAPSHOT_ORIGIN]}
                       for job, _, _ in JOBS}
            for _ in range(rounds):
                for job, options, unit in JOBS:
                    for device, (path, start) in places.items():
                        output = run(fio_argv(path, start, size, options))
                        figures[job][device].append(job_figure(output, unit))
                        if device == VOLUME:
                            reports.setdefault(job, output)
                    ops.create_snapshot(snapshot, name, snapshot)
                    try:
                        figures[job][SNAPSHOT_ORIGIN].append(job_figure(
                            run(fio_argv(lv_path, 0, size, options)), unit))
                    finally:
                        ops.delete_snapshot(snapshot, name)
        finally:
            # the backing disk's writes reached this node only: the same
            # blocks zeroed through DRBD make both nodes' copies equal
            run(['dd', 'if=/dev/zero', 'of=%s' % lv_path,
                 'bs=1M', 'count=%d' % VOLUME_MIB, 'oflag=direct'])
            ops.release(name)
    finally:
        ops.delete_volume(name)
    return ([summary(job, unit, figures[job]) for job, _, unit in JOBS],
            reports)


def format_rows(rows):
    lines = ['Data path: fio, direct I/O, queue depth 1, median of %d '
             'rounds (4k rows: us per I/O, lower is better; 1M rows: '
             'MiB/s)' % rows[0]['rounds'],
             '%-24s %9s %9s %9s %9s %8s %s' % (
                 'job', VOLUME, DRBD, BACKING, 'snap.orig', 'vol/drbd',
                 'target')]
    for row in rows:
        medians = row['medians']
        lines.append('%-24s %9.1f %9.1f %9.1f %9.1f %8.3f %s >= %.3f' % (
            row['job'], medians[VOLUME], medians[DRBD], medians[BACKING],
            medians[SNAPSHOT_ORIGIN], row['volume_over_drbd'],
            'met' if row['met'] else 'MISSED', row['target']))
    return '\n'.join(lines)
