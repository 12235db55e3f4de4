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

"""Cinder's own ``LVMVolumeDriver`` timed on the gate's real shared VG.

It runs inside a gate guest beside ours (:mod:`bench.deployed`), its
commands going to root the way Cinder's driver sends them in production:
``sudo cinder-rootwrap`` per command. Cinder's sizes are whole GiB; the
bare command it is compared with makes the same 1 GiB LV. Thick LVs
(``lvm_type = default``) like ours.
"""

import time
from unittest import mock

from cinder.brick.local_dev import lvm as cinder_brick_lvm
from cinder import context
from cinder.volume.drivers import lvm as cinder_lvm

from bench import cluster_timing
from bench import invocations


def measure(bare, vg_name, repeats=5):
    """Create, extend and delete through Cinder's driver against bare
    lvcreate, lvextend and lvremove (run by the command runner ``bare``),
    interleaved.
    """
    ctx = context.get_admin_context()
    conf = invocations.configuration_for(
        'bench-cinder-real', volume_group=vg_name, lvm_type='default',
        lvm_conf_file='None', target_helper='fake', volume_clear='none',
        volume_backend_name='lvm')
    times = {name: ([], []) for name in ('create', 'extend', 'delete')}
    with mock.patch.object(cinder_brick_lvm.LVM,
                           '_supports_pvs_ignoreskippedcluster', None):
        volume_driver = cinder_lvm.LVMVolumeDriver(configuration=conf)
        volume_driver.do_setup(ctx)
        volume_driver.check_for_setup_error()
        for index in range(repeats):
            volume = invocations._volume(ctx, 1)
            plain = 'cinderbare%d-%d' % (int(time.time()), index)
            started = time.monotonic()
            volume_driver.create_volume(volume)
            times['create'][0].append(time.monotonic() - started)
            times['create'][1].append(cluster_timing._timed(
                bare.run, ['lvcreate', '-y', '-an', '-L', '1024m', '-n',
                           plain, vg_name]))
            started = time.monotonic()
            volume_driver.extend_volume(volume, 2)
            times['extend'][0].append(time.monotonic() - started)
            times['extend'][1].append(cluster_timing._timed(
                bare.run, ['lvextend', '-L', '2048m',
                           '%s/%s' % (vg_name, plain)]))
            started = time.monotonic()
            volume_driver.delete_volume(volume)
            times['delete'][0].append(time.monotonic() - started)
            times['delete'][1].append(cluster_timing._timed(
                bare.run, ['lvremove', '-y', '%s/%s' % (vg_name, plain)]))
    return [cluster_timing._summary(name, driver_times, bare_times,
                                    cluster_timing.LVM_TARGET, False)
            for name, (driver_times, bare_times) in times.items()]
