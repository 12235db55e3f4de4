"""The Cinder volume driver: Cinder objects in, :mod:`.operations` calls out.

This module is the only one that imports Cinder.  It turns volumes and
snapshots into LV names and MiB, maps this project's exceptions onto
Cinder's, builds the layers at ``do_setup`` and hands exports to Cinder's own
target helpers (``target_helper = lioadm`` or ``tgtadm``, CHAP included).
"""

import functools
import math
import socket

from cinder import exception as cinder_exception
from cinder import interface
from cinder import utils as cinder_utils
from cinder.volume import driver
from cinder.volume.drivers import lvm as cinder_lvm
from cinder.volume import volume_utils
from oslo_log import log as logging
from oslo_utils import importutils

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver import operations
from drbd_clvm_driver import opts
from drbd_clvm_driver import runner as runner_module
from drbd_clvm_driver import stack

LOG = logging.getLogger(__name__)

MIB_PER_GIB = 1024

#: Cinder's option of the same meaning, reused rather than declared twice
_CINDER_VOLUME_GROUP_OPTS = [option for option in cinder_lvm.volume_opts
                             if option.name == 'volume_group']


def _translated(method):
    """Raise Cinder's exceptions for this project's, keeping the message."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exception.InvalidInput as error:
            raise cinder_exception.InvalidInput(reason=str(error))
        except (exception.LockedByOtherNode, exception.VolumeBusy) as error:
            LOG.warning('%s: %s', method.__name__, error)
            raise cinder_exception.VolumeIsBusy(message=str(error))
        except exception.DrbdClvmError as error:
            raise cinder_exception.VolumeBackendAPIException(data=str(error))
    return wrapper


def _mib(size_gib):
    """Cinder sizes are whole GiB; LVM is given MiB."""
    return lvm.validate_size_mib(size_gib) * MIB_PER_GIB


@interface.volumedriver
class DrbdClvmVolumeDriver(driver.VolumeDriver):
    """Volumes as LVs of a clustered VG on dual-primary DRBD.

    Both nodes run this driver for the same backend at once (Cinder's
    active-active), each with its own lock files; lvmlockd or clvmd
    serializes their metadata changes, and the safety gate refuses changes
    while DRBD or the cluster is degraded.

    :param runner: the command runner; tests and the cluster gate pass
        theirs, production builds a root-helper runner in ``do_setup``.
    """

    VERSION = '1.0.0'
    CI_WIKI_NAME = 'drbd-clvm-driver'
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, runner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(opts.drbd_clvm_opts)
        self.configuration.append_config_values(_CINDER_VOLUME_GROUP_OPTS)
        self.backend_name = (self.configuration.safe_get(
            'volume_backend_name') or 'DRBD_CLVM')
        self.target_driver = importutils.import_object(
            self.target_mapping[self.configuration.target_helper],
            configuration=self.configuration, executor=self._execute)
        self.protocol = (self.target_driver.storage_protocol or
                         self.target_driver.protocol)
        self.hostname = socket.gethostname()
        self.runner = runner
        self.ops = None
        self.gate = None
        self.lock_manager = None

    # Set-up.

    def do_setup(self, context):
        conf = self.configuration
        if self.runner is None:
            self.runner = runner_module.RootCommandRunner(
                root_helper=cinder_utils.get_root_helper(),
                default_timeout=conf.lvm_command_timeout, node=self.hostname)
        node = stack.build(
            self.runner, conf.volume_group, conf.drbd_resource,
            lock_manager=conf.lock_manager,
            lock_path=conf.drbd_clvm_lock_path,
            volume_clear=conf.volume_clear,
            volume_clear_size=conf.volume_clear_size,
            lvm_timeout=conf.lvm_command_timeout,
            check_timeout=conf.cluster_check_timeout,
            data_timeout=conf.data_copy_timeout)
        self.lock_manager, self.gate, self.ops = (node.lock_manager,
                                                  node.gate, node.ops)

    @_translated
    def check_for_setup_error(self):
        """The VG exists, is of the lock manager's kind, the daemon runs.

        A degraded DRBD or lost quorum does not stop the service: it starts,
        reports the backend down and refuses changes until the cluster heals.
        """
        vg = self.ops.vg.volume_group()
        self.lock_manager.check_setup(vg)
        reasons = self.gate.reasons()
        if reasons:
            LOG.warning('Cluster is not safe at start-up, LVM changes will be '
                        'refused until it is: %s', '; '.join(reasons))
        half_made = self.ops.half_made()
        if half_made:
            LOG.warning('LVs left half-made by an interrupted operation '
                        '(tag %s) in %s: %s. They are not Cinder volumes; '
                        'remove them with lvremove after checking.',
                        operations.CREATING_TAG, vg.name,
                        ', '.join(half_made))

    # Volumes.

    @_translated
    def create_volume(self, volume):
        self.ops.create_volume(volume.name, _mib(volume.size), volume.id)

    @_translated
    def delete_volume(self, volume):
        self.ops.delete_volume(volume.name)

    @_translated
    def extend_volume(self, volume, new_size):
        self.ops.extend_volume(volume.name, _mib(volume.size), _mib(new_size))

    @_translated
    def create_cloned_volume(self, volume, src_vref):
        self.ops.clone_volume(volume.name, _mib(volume.size), volume.id,
                              src_vref.name)

    @_translated
    def create_volume_from_snapshot(self, volume, snapshot):
        self.ops.create_volume_from_snapshot(
            volume.name, _mib(volume.size), volume.id, snapshot.name,
            snapshot.volume_name)

    # Snapshots.

    @_translated
    def create_snapshot(self, snapshot):
        self.ops.create_snapshot(snapshot.name, snapshot.volume_name,
                                 snapshot.id)

    @_translated
    def delete_snapshot(self, snapshot):
        self.ops.delete_snapshot(snapshot.name, snapshot.volume_name)

    @_translated
    def revert_to_snapshot(self, context, volume, snapshot):
        self.ops.revert_to_snapshot(volume.name, snapshot.name, snapshot.id)

    # Manage and unmanage.

    @staticmethod
    def _source_name(existing_ref):
        name = existing_ref.get('source-name')
        if not name:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason='give the LV name as source-name')
        return name

    def _existing_lv(self, existing_ref):
        name = self._source_name(existing_ref)
        try:
            return self.ops.vg.logical_volume(name)
        except (exception.LogicalVolumeNotFound,
                exception.InvalidInput) as error:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=str(error))

    @_translated
    def manage_existing(self, volume, existing_ref):
        lv = self._existing_lv(existing_ref)
        self.ops.manage(lv.name, volume.name, volume.id)

    @_translated
    def manage_existing_get_size(self, volume, existing_ref):
        lv = self._existing_lv(existing_ref)
        if lv.size_mib % MIB_PER_GIB:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason='LV %s is %d MiB, not a whole number of GiB; extend '
                       'it to %d GiB with lvextend first' % (
                           lv.name, lv.size_mib,
                           math.ceil(lv.size_mib / MIB_PER_GIB)))
        return lv.size_mib // MIB_PER_GIB

    @_translated
    def unmanage(self, volume):
        self.ops.unmanage(volume.name, volume.id)

    @_translated
    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset,
                               sort_keys, sort_dirs):
        cinder_ids = {volume.id for volume in cinder_volumes}
        entries = []
        for lv in self.ops.vg.logical_volumes():
            if lv.is_snapshot:
                continue
            owner = lv.tag_value(operations.VOLUME_TAG)
            reason = None
            if owner:
                reason = 'already managed by Cinder'
            elif lv.is_active:
                reason = 'volume is active (in use)'
            entries.append({
                'reference': {'source-name': lv.name},
                'size': int(math.ceil(lv.size_mib / MIB_PER_GIB)),
                'safe_to_manage': reason is None,
                'reason_not_safe': reason,
                'cinder_id': owner if owner in cinder_ids else None,
                'extra_info': None})
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    # Export.

    def _path(self, volume):
        return self.ops.vg.lv_path(volume.name)

    @_translated
    def create_export(self, context, volume, connector):
        self.ops.activate_for_export(volume.name)
        export = self.target_driver.create_export(context, volume,
                                                  self._path(volume))
        return {'provider_location': export['location'],
                'provider_auth': export['auth']}

    @_translated
    def ensure_export(self, context, volume):
        try:
            self.ops.activate_for_export(volume.name)
        except exception.LockedByOtherNode:
            LOG.info('Volume %s is exported by the other node', volume.name)
            return None
        return self.target_driver.ensure_export(context, volume,
                                                self._path(volume))

    @_translated
    def remove_export(self, context, volume):
        self.target_driver.remove_export(context, volume)
        self.ops.deactivate(volume.name)

    def initialize_connection(self, volume, connector):
        if connector.get('host') == self.hostname:
            # The instance runs on this node: no target in between.
            return {'driver_volume_type': 'local',
                    'data': {'device_path': self._path(volume)}}
        return self.target_driver.initialize_connection(volume, connector)

    def validate_connector(self, connector):
        return self.target_driver.validate_connector(connector)

    def terminate_connection(self, volume, connector, **kwargs):
        if connector and connector.get('host') == self.hostname:
            return
        self.target_driver.terminate_connection(volume, connector, **kwargs)

    # Stats.

    def _update_volume_stats(self):
        reasons = self.gate.reasons()
        pool = {'pool_name': self.backend_name,
                'total_capacity_gb': 0, 'free_capacity_gb': 0,
                'provisioned_capacity_gb': 0, 'total_volumes': 0,
                'reserved_percentage':
                    self.configuration.reserved_percentage,
                'QoS_support': False, 'thin_provisioning_support': False,
                'thick_provisioning_support': True, 'multiattach': True}
        try:
            capacity = self.ops.capacity()
        except exception.DrbdClvmError as error:
            reasons.append(str(error))
        else:
            gib = float(1024 ** 3)
            pool.update(
                total_capacity_gb=round(capacity.total_bytes / gib, 2),
                free_capacity_gb=round(capacity.free_bytes / gib, 2),
                provisioned_capacity_gb=round(
                    (capacity.total_bytes - capacity.free_bytes) / gib, 2),
                total_volumes=capacity.volume_count)
        state = 'down' if reasons else 'up'
        if reasons:
            LOG.warning('Backend %s reported down: %s', self.backend_name,
                        '; '.join(reasons))
        pool['backend_state'] = state
        self._stats = {
            'volume_backend_name': self.backend_name,
            'vendor_name': 'Open Source',
            'driver_version': self.VERSION,
            'storage_protocol': self.protocol,
            'backend_state': state,
            'backend_state_reason': '; '.join(reasons) or None,
            'pools': [pool]}
