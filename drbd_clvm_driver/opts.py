"""Every configuration option of the driver, with its help text.

Options are registered in the backend's own section (``configuration`` in
Cinder) and listed for oslo-config-generator by :func:`list_opts`.  Where an
operator already knows a Cinder option with the same meaning
(``volume_group``, ``volume_clear``, ``volume_clear_size``,
``target_helper``), the driver reads Cinder's own option instead of declaring
a twin.
"""

from oslo_config import cfg

drbd_clvm_opts = [
    cfg.StrOpt('drbd_resource',
               default='r0',
               help='Name of the dual-primary DRBD resource the volume '
                    'group sits on. LVM metadata changes are refused unless '
                    'it is Connected, UpToDate/UpToDate and Primary/Primary.'),
    cfg.StrOpt('lock_manager',
               default='lvmlockd',
               help='Cluster LVM lock manager plugin: "lvmlockd" (lvmlockd '
                    'with dlm, shared VG of lock type dlm) or "clvmd" '
                    '(legacy clvmd with locking_type = 3 and a clustered '
                    'VG). Plugins are looked up in the '
                    'drbd_clvm_driver.lock_managers entry-point namespace.'),
    cfg.IntOpt('lvm_command_timeout',
               default=120,
               min=1,
               help='Seconds an LVM command may run before it is killed. '
                    'LVM blocks, rather than fails, when corosync or dlm '
                    'is gone, so this bound is what turns a dead cluster '
                    'stack into an error.'),
    cfg.IntOpt('cluster_check_timeout',
               default=10,
               min=1,
               help='Seconds each cluster health command (DRBD state, '
                    'corosync quorum, lock manager) may take.'),
    cfg.IntOpt('data_copy_timeout',
               default=3600,
               min=1,
               help='Seconds one volume copy or wipe (dd) may take.'),
    cfg.StrOpt('drbd_clvm_lock_path',
               help='Directory for this node\'s inter-process lock files; '
                    'defaults to [oslo_concurrency] lock_path. Must be '
                    'local to the node, never shared with the peer.'),
]


def list_opts():
    """Options for oslo-config-generator, under the backend section name
    the README's example uses.
    """
    return [('drbd', drbd_clvm_opts)]
