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

"""``drbd-clvm-health``: what the safety gate sees on this node.

Reads the backend's section of cinder.conf, runs the same checks the driver
runs before every LVM change, and prints them one per line. Exit status 0
when changes would be allowed, 1 when they would be refused, 2 when the
configuration or the volume group is unusable.
"""

import argparse
import socket
import sys

from oslo_config import cfg

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations
from drbd_clvm_driver import opts
from drbd_clvm_driver.replication import base as replication_base
from drbd_clvm_driver import runner as runner_module
from drbd_clvm_driver import stack

SAFE, UNSAFE, BROKEN = 0, 1, 2


def _configuration(config_file, backend):
    """The backend's options, with Cinder's defaults for the options whose
    meaning this project shares with Cinder's LVM driver.
    """
    # Cinder's LVM driver names its objects at import; outside a Cinder
    # service nothing has registered them yet.
    from cinder import objects
    objects.register_all()
    from cinder.volume import driver as cinder_driver
    from cinder.volume.drivers import lvm as cinder_lvm
    conf = cfg.ConfigOpts()
    shared = [option for option in cinder_lvm.volume_opts +
              cinder_driver.volume_opts
              if option.name in ('volume_group', 'volume_clear',
                                 'volume_clear_size')]
    conf.register_opts(opts.drbd_clvm_opts + shared, group=backend)
    conf([], project='cinder', default_config_files=[config_file])
    return conf[backend]


def report(node, out):
    """Print the node's state to ``out``; return the exit status."""
    lines = []
    status = SAFE
    try:
        vg = node.ops.vg.volume_group()
        node.lock_manager.check_volume_group(vg)
        lines.append('volume group %s: %.1f GiB, %.1f GiB free, %d LVs, '
                     'lock type %s' % (vg.name, vg.size_bytes / 1024 ** 3,
                                       vg.free_bytes / 1024 ** 3,
                                       vg.lv_count, vg.lock_type or 'none'))
        if vg.metadata_free_bytes is not None:
            lines.append('metadata area: %d of %d KiB left%s' % (
                vg.metadata_free_bytes // 1024,
                vg.metadata_area_bytes // 1024,
                ' - nearly full: creates will be refused (%s)'
                % lvm.METADATA_AREA_ADVICE
                if operations.metadata_nearly_full(vg.metadata_free_bytes)
                else ''))
        half_made = node.ops.half_made()
        lines.append('half-made LVs: %s' % (', '.join(half_made) or 'none'))
    except exception.DrbdClvmError as error:
        lines.append('volume group: %s' % error)
        status = BROKEN
    verdict = node.gate.verdict()
    for reason in verdict.reasons:
        lines.append('refusing changes: %s' % reason)
    if verdict.reasons and status == SAFE:
        status = UNSAFE
    departed = sorted(node.any_node.departed_nodes())
    if departed:
        lines.append('left the cluster: %s' % ', '.join(departed))
    if status == SAFE and verdict.degraded:
        lines.append('degraded: %s' % verdict.degraded)
        lines.append('verdict: changes allowed, degraded')
    else:
        lines.append('verdict: %s' % ('changes allowed' if status == SAFE
                                      else 'changes refused'))
    out.write('\n'.join(lines) + '\n')
    return status


def main(argv=None, runner=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', default='/etc/cinder/cinder.conf')
    parser.add_argument('--backend', default='drbd',
                        help='cinder.conf section of the backend')
    args = parser.parse_args(argv)
    conf = _configuration(args.config_file, args.backend)
    local = conf.drbd_clvm_cluster_node_name or socket.gethostname()
    if runner is None:
        runner = runner_module.RootCommandRunner(
            default_timeout=conf.drbd_clvm_lvm_command_timeout, node=local)
    try:
        names = stack.node_names(runner, local,
                                 conf.drbd_clvm_cluster_peer_nodes,
                                 conf.drbd_clvm_cluster_node_aliases,
                                 conf.drbd_clvm_cluster_check_timeout)
        node = stack.build(runner, conf.volume_group,
                           replication_base.configured_target(conf),
                           replication=conf.drbd_clvm_replication,
                           lock_manager=conf.drbd_clvm_lock_manager,
                           lvm_timeout=conf.drbd_clvm_lvm_command_timeout,
                           check_timeout=conf.drbd_clvm_cluster_check_timeout,
                           names=names)
    except exception.DrbdClvmError as error:
        out.write('%s\n' % error)
        return BROKEN
    return report(node, out)
