"""Cinder's own ``LVMVolumeDriver`` timed on the gate's real shared VG.

Its commands go into the first guest through that node's agent, the same
way ours do, so the two drivers' ratios over bare LVM compare like for
like. Cinder's sizes are whole GiB; the bare command it is compared with
makes the same 1 GiB LV. Thick LVs (``lvm_type = default``) like ours.
"""

import contextlib
import time
from unittest import mock

from cinder.brick.local_dev import lvm as cinder_brick_lvm
from cinder import context
from cinder.volume.drivers import lvm as cinder_lvm
from oslo_concurrency import processutils

from bench import cluster_timing
from bench import invocations


def _executor(runner):
    """A processutils-style execute that runs in the guest (the guest's
    agent already runs as root, so the root helper is dropped).
    """
    def execute(*cmd, **kwargs):
        argv = [str(arg) for arg in cmd]
        result = runner.run(argv, timeout=120, check=False)
        check = kwargs.get('check_exit_code', True)
        allowed = [0] if check is True else (
            [] if check is False else list(
                check if isinstance(check, (list, tuple)) else [check]))
        if allowed and result.exit_code not in allowed:
            raise processutils.ProcessExecutionError(
                exit_code=result.exit_code, stdout=result.stdout,
                stderr=result.stderr, cmd=' '.join(argv))
        return result.stdout, result.stderr
    return execute


def measure(cluster, repeats=5):
    """Create, extend and delete through Cinder's driver against bare
    lvcreate, lvextend and lvremove, interleaved.
    """
    runner = cluster.nodes[0].runner
    vg_name = cluster.vg_name
    execute = _executor(runner)
    ctx = context.get_admin_context()
    conf = invocations.configuration_for(
        'bench-cinder-real', volume_group=vg_name, lvm_type='default',
        lvm_conf_file='None', target_helper='fake', volume_clear='none',
        volume_backend_name='lvm')
    times = {name: ([], []) for name in ('create', 'extend', 'delete')}
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(processutils, 'execute',
                                              execute))
        stack.enter_context(mock.patch.object(
            cinder_brick_lvm.LVM, '_supports_pvs_ignoreskippedcluster',
            None))
        volume_driver = cinder_lvm.LVMVolumeDriver(configuration=conf,
                                                   execute=execute)
        volume_driver.do_setup(ctx)
        volume_driver.check_for_setup_error()
        for index in range(repeats):
            volume = invocations._volume(ctx, 1)
            bare = 'cinderbare%d-%d' % (int(time.time()), index)
            started = time.monotonic()
            volume_driver.create_volume(volume)
            times['create'][0].append(time.monotonic() - started)
            times['create'][1].append(cluster_timing._timed(
                runner.run, ['lvcreate', '-y', '-an', '-L', '1g', '-n', bare,
                             vg_name]))
            started = time.monotonic()
            volume_driver.extend_volume(volume, 2)
            times['extend'][0].append(time.monotonic() - started)
            times['extend'][1].append(cluster_timing._timed(
                runner.run, ['lvextend', '-L', '2g',
                             '%s/%s' % (vg_name, bare)]))
            started = time.monotonic()
            volume_driver.delete_volume(volume)
            times['delete'][0].append(time.monotonic() - started)
            times['delete'][1].append(cluster_timing._timed(
                runner.run, ['lvremove', '-y', '%s/%s' % (vg_name, bare)]))
    return [cluster_timing._summary(name, driver_times, bare_times,
                                    cluster_timing.LVM_TARGET, False)
            for name, (driver_times, bare_times) in times.items()]


def format_rows(rows):
    return '\n'.join(
        "Cinder's LVMVolumeDriver %-8s %.3f s over bare %.3f s: ratio %.2f"
        % (row['operation'], row['driver_median_s'], row['bare_median_s'],
           row['ratio']) for row in rows)
