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

"""Every configuration option of the driver, with its help text.

Options are registered in the backend's own section (``configuration`` in
Cinder) and listed for oslo-config-generator by :func:`list_opts`.

Each name starts with ``drbd_clvm_``: a backend section and Cinder's
``[backend_defaults]`` hold every driver's options, where a bare name such as
``replication`` reads like Cinder's own feature and can collide with another
driver's option.  The names without the prefix still work, as deprecated
names, so existing cinder.conf files keep their meaning.

Where an operator already knows a Cinder option with the same meaning
(``volume_group``, ``volume_clear``, ``volume_clear_size``,
``target_helper``), the driver reads Cinder's own option instead of declaring
a twin.
"""

import copy

from oslo_config import cfg
from oslo_privsep import priv_context

from drbd_clvm_driver import privileged

drbd_clvm_opts = [
    cfg.StrOpt('drbd_clvm_replication',
               deprecated_name='replication',
               default='drbd',
               help='How the nodes share the volume group\'s disk, a plugin '
                    'in the drbd_clvm_driver.replication entry-point '
                    'namespace: "drbd" (a dual-primary DRBD resource, '
                    'drbd_clvm_drbd_resource; two nodes) or "shared_lun" '
                    '(one disk every node sees, drbd_clvm_shared_lun_device: '
                    'an iSCSI or FC LUN, a multipath map). Each plugin '
                    'checks its own kind of disk before every LVM metadata '
                    'change.'),
    cfg.StrOpt('drbd_clvm_drbd_resource',
               deprecated_name='drbd_resource',
               default='r0',
               help='Name of the dual-primary DRBD resource the volume '
                    'group sits on (drbd_clvm_replication = drbd). LVM '
                    'metadata changes are refused unless it is Connected, '
                    'UpToDate/UpToDate and Primary/Primary.'),
    cfg.StrOpt('drbd_clvm_shared_lun_device',
               deprecated_name='shared_lun_device',
               help='Path of the shared disk the volume group sits on '
                    '(drbd_clvm_replication = shared_lun), one that names '
                    'the same disk on every node: /dev/disk/by-id/... or '
                    '/dev/mapper/NAME. LVM metadata changes are refused '
                    'unless it is present, not suspended, and at least one '
                    'of its paths is running.'),
    cfg.StrOpt('drbd_clvm_lock_manager',
               deprecated_name='lock_manager',
               default='lvmlockd',
               help='Cluster LVM lock manager plugin: "lvmlockd" (lvmlockd '
                    'with dlm over corosync, shared VG of lock type dlm), '
                    '"sanlock" (lvmlockd with sanlock: leases on the shared '
                    'disk, a watchdog, no corosync; shared VG of lock type '
                    'sanlock) or "clvmd" (legacy clvmd with locking_type = '
                    '3 and a clustered VG). Plugins are looked up in the '
                    'drbd_clvm_driver.lock_managers entry-point namespace.'),
    cfg.IntOpt('drbd_clvm_lvm_command_timeout',
               deprecated_name='lvm_command_timeout',
               default=120,
               min=1,
               help='Seconds an LVM command may run before it is killed. '
                    'LVM blocks, rather than fails, when corosync or dlm '
                    'is gone, so this bound is what turns a dead cluster '
                    'stack into an error.'),
    cfg.BoolOpt('drbd_clvm_lvm_shell',
                deprecated_name='lvm_shell',
                default=True,
                help='Whether the privileged daemon types LVM changes '
                     '(create, extend, tag, rename, remove; activations '
                     'always run as programs) into one '
                     'long-lived lvm shell, LVM\'s own, driven through the '
                     'lvmdbusd profile LVM ships, instead of starting an LVM '
                     'program for each: a change then skips LVM\'s start-up '
                     '(a third of the time on the gate\'s guests). Each '
                     'change keeps drbd_clvm_lvm_command_timeout; a shell '
                     'that outlives it is killed and the next change starts a '
                     'new one, as does a change of lvm.conf. Where the '
                     'profile is missing, and with drbd_clvm_lock_manager '
                     '= clvmd (not shown on a real cluster), changes run as '
                     'programs.'),
    cfg.IntOpt('drbd_clvm_cluster_check_timeout',
               deprecated_name='cluster_check_timeout',
               default=10,
               min=1,
               help='Seconds each cluster health command (DRBD state, '
                    'corosync quorum, lock manager) may take.'),
    cfg.IntOpt('drbd_clvm_data_copy_timeout',
               deprecated_name='data_copy_timeout',
               default=3600,
               min=1,
               help='Seconds one volume copy or wipe (dd) may take.'),
    cfg.BoolOpt('drbd_clvm_zero_in_device',
                deprecated_opts=[
                    cfg.DeprecatedOpt('drbd_clvm_copy_skips_zeros'),
                    cfg.DeprecatedOpt('copy_skips_zeros')],
                default=True,
                help='Whether volumes are zeroed by their device (fallocate '
                     '--punch-hole: WRITE_ZEROES, which DRBD sends to the '
                     'peer as one request) instead of by writing zeros: a '
                     'clone or a volume from a snapshot zeroes its new '
                     'volume so and then writes only the source\'s blocks '
                     'that are not all zeros, and volume_clear = zero '
                     'wipes a deleted volume so. Where the device cannot '
                     'zero itself the zeros are written anyway. Turn it '
                     'off if your DRBD backing devices claim zeroing they '
                     'do not do (DRBD\'s discard-zeroes-if-aligned over '
                     'devices whose discards do not read back zeros).'),
    cfg.IntOpt('drbd_clvm_snapshot_chunk_kib',
               deprecated_name='snapshot_chunk_kib',
               default=64,
               choices=[4, 8, 16, 32, 64, 128, 256, 512],
               help='Copy-on-write unit of volume snapshots, in KiB '
                    '(lvcreate --chunksize). The kernel reads a snapshot '
                    'in pieces of this size, so larger chunks make a '
                    'volume from a snapshot much faster; but while a '
                    'snapshot exists, the first write into each chunk of '
                    'its volume copies the whole chunk first. Measured on '
                    'the project\'s gate: 64 KiB read a snapshot 10 times '
                    'faster than LVM\'s default of 4 KiB, for first random '
                    'writes 28 % slower. Snapshots are as large as their '
                    'volume, so no chunk size can make one overflow. Clones '
                    'copy through a temporary snapshot of their own, always '
                    'with 512 KiB chunks.'),
    cfg.StrOpt('drbd_clvm_cluster_node_name',
               deprecated_name='cluster_node_name',
               help='This node\'s name in the cluster: the name connectors '
                    'from this host are recognised by; its peer endpoint '
                    'listens at its short name (node1 for '
                    'node1.example.com). Defaults to the host part of the '
                    'volume service\'s host (node1 for node1@drbd).'),
    cfg.ListOpt('drbd_clvm_cluster_peer_nodes',
                deprecated_name='cluster_peer_nodes',
                default=[],
                help='Names of the other nodes whose volume services serve '
                     'this backend, short or FQDN (each is called at its '
                     'short name). Empty: the other members corosync lists '
                     'when the service starts.'),
    cfg.DictOpt('drbd_clvm_cluster_node_aliases',
                deprecated_name='cluster_node_aliases',
                default={},
                help='Other names connectors use for cluster nodes, as '
                     'alias:node pairs (e.g. node1.example.org:node1,'
                     'compute-a:node1). A connector whose host is a '
                     'cluster node, by name, alias or the short form of an '
                     'FQDN, gets a local connection on that node; any '
                     'other host gets iSCSI.'),
    cfg.IntOpt('drbd_clvm_peer_call_timeout',
               deprecated_name='peer_call_timeout',
               default=180,
               min=1,
               help='Seconds a peer node\'s volume service may take to '
                    'answer a node-local step (activate, release, refresh, '
                    'target changes). A whole operation run for this node '
                    'may take this plus drbd_clvm_data_copy_timeout. A '
                    'peer that does not answer in time fails the request '
                    'with a clear error.'),
    cfg.IntOpt('drbd_clvm_peer_probe_timeout',
               deprecated_name='peer_probe_timeout',
               default=15,
               min=1,
               help='Seconds a peer node\'s volume service may take to '
                    'answer that it is there, asked before a best-effort '
                    'step on it: removing a deleted volume\'s target and '
                    'activation on the nodes that may hold them. A peer '
                    'that does not answer is logged and skipped, so a '
                    'delete served while the other node\'s service is '
                    'down does not wait drbd_clvm_peer_call_timeout.'),
    cfg.StrOpt('drbd_clvm_lock_path',
               help='Directory for this node\'s inter-process lock files; '
                    'defaults to [oslo_concurrency] lock_path. Must be '
                    'local to the node, never shared with the peer.'),
]


def privileged_opts():
    """The privileged daemon's oslo.privsep options, with this driver's
    defaults.
    """
    options = copy.deepcopy(priv_context.OPTS)
    for option in options:
        if option.dest == 'thread_pool_size':
            option.default = privileged.THREAD_POOL_SIZE
            option.sample_default = None
            option.help = ('Privileged calls the daemon runs at once. A '
                           'volume copy or wipe holds one for minutes, so '
                           'this is well above the CPU count (oslo.privsep\'s '
                           'own default): the safety gate\'s readings and the '
                           'stats must not wait behind copies.')
    return options


def list_opts():
    """Options for oslo-config-generator, under the backend section name
    the README's example uses, and the privileged daemon's section.
    """
    return [('drbd', drbd_clvm_opts),
            ('drbd_clvm_privileged', privileged_opts())]
