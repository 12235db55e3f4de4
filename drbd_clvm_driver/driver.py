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

"""The Cinder volume driver: Cinder objects in, :mod:`.routing` calls out.

This module and :mod:`.exports` are the only ones that import Cinder.  The
driver turns volumes and snapshots into LV names and MiB, connectors and
attachments into cluster nodes, maps this project's exceptions onto Cinder's,
builds the layers at ``do_setup`` and starts the peer endpoint the other
node's volume service calls (:mod:`.peer`).
"""

import contextlib
import functools
import math

from cinder import context as cinder_context
from cinder import exception as cinder_exception
from cinder.image import image_utils
from cinder import interface
from cinder import rpc
from cinder.volume import configuration
from cinder.volume import driver
from cinder.volume.drivers import lvm as cinder_lvm
from cinder.volume import volume_utils
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import log as logging
import oslo_messaging
from oslo_utils import importutils
from oslo_utils import timeutils

from drbd_clvm_driver import exception
from drbd_clvm_driver import exports
from drbd_clvm_driver.locking import base as locking_base
from drbd_clvm_driver import lvm
from drbd_clvm_driver import nodes
from drbd_clvm_driver import operations
from drbd_clvm_driver import opts
from drbd_clvm_driver import peer
from drbd_clvm_driver.replication import base as replication_base
from drbd_clvm_driver import runner as runner_module
from drbd_clvm_driver import stack

LOG = logging.getLogger(__name__)

MIB_PER_GIB = 1024


def get_driver_options():
    """This driver's own options, as Cinder asks each driver for them
    (the sample configuration lists the same, :func:`.opts.list_opts`);
    the ones it shares with Cinder (``volume_group``, ``volume_clear``,
    ``target_helper``, ...) are Cinder's to list.
    """
    return list(opts.drbd_clvm_opts)


# Registered where Cinder registers its drivers' options, at import, so a
# backend section (and a test) can set them before any driver exists.
cfg.CONF.register_opts(get_driver_options(),
                       group=configuration.SHARED_CONF_GROUP)

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


def privileged_runner(conf, local):
    """The runner through the driver's privileged daemon, as ``conf`` (a
    backend's configuration) sets it up on the node ``local``.
    """
    return runner_module.PrivsepCommandRunner(
        default_timeout=conf.drbd_clvm_lvm_command_timeout, node=local,
        lvm_shell=conf.drbd_clvm_lvm_shell and locking_base.plugin_class(
            conf.drbd_clvm_lock_manager).lvm_shell)


def peer_call_context():
    """The context a peer call carries: an admin one with the global id of
    the request being served, so that the answering node's log lines name
    the request they serve.
    """
    context = cinder_context.get_admin_context()
    current = oslo_context.get_current()
    if current is not None:
        context.global_request_id = (current.global_request_id or
                                     current.request_id)
    return context


def _warn_of_file_coordination():
    """Cinder's own locks on a per-node file backend protect nothing
    across the backend's nodes, which all serve at once.
    """
    try:
        url = cfg.CONF.coordination.backend_url
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return  # Cinder's coordination is not loaded (a tool, not a service)
    if url and url.startswith('file://'):
        LOG.warning(
            'Cinder coordination backend_url is %s, a lock directory of '
            'this node only, while every node of this backend serves '
            'requests: Cinder\'s own locks do not cross nodes, so a volume '
            'may be deleted while another node clones it or makes a volume '
            'from its snapshot, a snapshot deleted while a volume is made '
            'from it, and two attachments of one volume may race. Set '
            '[coordination] backend_url to a shared tooz backend (etcd) on '
            'every node.', url)


@interface.volumedriver
class DrbdClvmVolumeDriver(driver.VolumeDriver):
    """Volumes as LVs of a clustered VG on dual-primary DRBD.

    Both nodes run this driver for the same backend at once (Cinder's
    active-active), each with its own lock files; lvmlockd or clvmd
    serializes their metadata changes, and the safety gate refuses changes
    while DRBD or the cluster is degraded.

    :param runner: the command runner; tests and the cluster gate pass
        theirs, production builds a root-helper runner in ``do_setup``.
    :param peers: how to reach the other nodes; by default ``do_setup``
        starts this node's peer endpoint on Cinder's message bus.
    """

    VERSION = '1.0.0'
    CI_WIKI_NAME = 'drbd-clvm-driver'
    SUPPORTS_ACTIVE_ACTIVE = True

    # Cinder asks the class (its driver listing); the base class would
    # answer with Cinder's generic volume options.
    get_driver_options = staticmethod(get_driver_options)

    def __init__(self, *args, runner=None, peers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(get_driver_options())
        self.configuration.append_config_values(_CINDER_VOLUME_GROUP_OPTS)
        self.backend_name = (self.configuration.safe_get(
            'volume_backend_name') or 'DRBD_CLVM')
        self.target_driver = importutils.import_object(
            self.target_mapping[self.configuration.target_helper],
            configuration=self.configuration, executor=self._execute)
        self.protocol = (self.target_driver.storage_protocol or
                         self.target_driver.protocol)
        self.runner = runner
        self.peers = peers
        self.ops = None
        self.gate = None
        self.lock_manager = None
        self.any_node = None
        self.exports = None
        self.peer_server = None
        #: when the stats first saw the cluster serve degraded
        self._degraded_since = None

    # Set-up.

    def _node_name(self):
        name = self.configuration.drbd_clvm_cluster_node_name or (
            self.host and volume_utils.extract_host(self.host, 'host'))
        if not name:
            raise exception.InvalidInput(
                'Set drbd_clvm_cluster_node_name: this volume service has no '
                'host to take its node name from')
        return name

    def _peer_client(self):
        """Calls to the other nodes on this backend's topic."""
        return peer.MessagingPeers(
            rpc.get_client(oslo_messaging.Target(
                topic=peer.topic(self.backend_name))),
            peer_call_context,
            self.configuration.drbd_clvm_peer_call_timeout,
            probe_timeout=self.configuration.drbd_clvm_peer_probe_timeout,
            # read when a call is watched, once the stack below is built
            departed=lambda node: node in self.any_node.departed_nodes())

    def _start_peer_endpoint(self, local):
        """Serve the other nodes' calls on this backend's topic."""
        topic = peer.topic(self.backend_name)
        server = nodes.address(local)
        endpoint = peer.Endpoint(local, self.any_node.handlers())
        self.peer_server = rpc.get_server(
            oslo_messaging.Target(topic=topic, server=server),
            [peer.MessagingEndpoint(endpoint)])
        self.peer_server.start()
        LOG.info('Peer endpoint of %s listening on topic %s as %s', local,
                 topic, server)

    def do_setup(self, context):
        conf = self.configuration
        local = self._node_name()
        if self.runner is None:
            self.runner = privileged_runner(conf, local)
        node = stack.build(
            self.runner, conf.volume_group,
            replication_base.configured_target(conf),
            replication=conf.drbd_clvm_replication,
            lock_manager=conf.drbd_clvm_lock_manager,
            lock_path=conf.drbd_clvm_lock_path,
            volume_clear=conf.volume_clear,
            volume_clear_size=conf.volume_clear_size,
            lvm_timeout=conf.drbd_clvm_lvm_command_timeout,
            check_timeout=conf.drbd_clvm_cluster_check_timeout,
            data_timeout=conf.drbd_clvm_data_copy_timeout,
            zero_in_device=conf.drbd_clvm_zero_in_device,
            snapshot_chunk_kib=conf.drbd_clvm_snapshot_chunk_kib,
            names=stack.node_names(self.runner, local,
                                   conf.drbd_clvm_cluster_peer_nodes,
                                   conf.drbd_clvm_cluster_node_aliases,
                                   conf.drbd_clvm_cluster_check_timeout),
            peers=self.peers or self._peer_client(),
            peer_timeout=conf.drbd_clvm_peer_call_timeout,
            peer_probe_timeout=conf.drbd_clvm_peer_probe_timeout)
        self.lock_manager, self.gate, self.ops = (node.lock_manager,
                                                  node.gate, node.ops)
        self.any_node = node.any_node
        self.exports = exports.Exports(self.any_node, self.target_driver,
                                       self.ops.vg.lv_path)
        self.any_node.steps.update(self.exports.steps())
        if self.peers is None:
            self._start_peer_endpoint(local)
            self.peers = self.any_node.peers

    @_translated
    def check_for_setup_error(self):
        """The VG exists, is of the lock manager's kind, the daemon runs.

        A degraded DRBD or lost quorum does not stop the service: it starts,
        reports the backend down and refuses changes until the cluster heals.
        """
        vg = self.ops.vg.volume_group()
        self.lock_manager.check_setup(vg)
        _warn_of_file_coordination()
        reasons = self.gate.reasons()
        if reasons:
            LOG.warning('Cluster is not safe at start-up, LVM changes will be '
                        'refused until it is: %s', '; '.join(reasons))
        else:
            # Nothing of this service runs yet: what its own operations
            # left half-made (the node was fenced mid-copy) goes now.
            self.ops.remove_half_made()
        half_made = self.ops.half_made()
        if half_made:
            LOG.warning('LVs left half-made by an interrupted operation '
                        '(tag %s) in %s: %s. They are not Cinder volumes; '
                        'remove them with lvremove after checking.',
                        operations.CREATING_TAG, vg.name,
                        ', '.join(half_made))
        # Last: the listing it reads serves the ensure_export calls next.
        refreshed = self.ops.refresh_active()
        if refreshed:
            LOG.info('Refreshed %d devices here that another node grew '
                     'while this service was down: %s', len(refreshed),
                     ', '.join(refreshed))

    def set_initialized(self):
        """Cinder's start-up is over (every in-use volume ensured): from now
        on each use of a volume reads its LV again.
        """
        super().set_initialized()
        self.ops.started()

    # Volumes.

    @_translated
    def create_volume(self, volume):
        self.ops.create_volume(volume.name, _mib(volume.size), volume.id)

    @_translated
    def delete_volume(self, volume):
        self.any_node.run('delete_volume', name=volume.name)

    @_translated
    def extend_volume(self, volume, new_size):
        self.any_node.extend_volume(volume.name, _mib(volume.size),
                                    _mib(new_size))
        self.exports.extend_targets(volume)

    @_translated
    def create_cloned_volume(self, volume, src_vref):
        self.any_node.run('clone_volume', name=volume.name,
                          size_mib=_mib(volume.size), volume_id=volume.id,
                          source_name=src_vref.name)

    @_translated
    def create_volume_from_snapshot(self, volume, snapshot):
        self.any_node.run(
            'create_volume_from_snapshot', name=volume.name,
            size_mib=_mib(volume.size), volume_id=volume.id,
            snapshot_name=snapshot.name, origin_name=snapshot.volume_name)

    # Snapshots.

    @_translated
    def create_snapshot(self, snapshot):
        self.any_node.run('create_snapshot', snapshot_name=snapshot.name,
                          volume_name=snapshot.volume_name,
                          snapshot_id=snapshot.id)

    @_translated
    def delete_snapshot(self, snapshot):
        self.any_node.run('delete_snapshot', snapshot_name=snapshot.name,
                          volume_name=snapshot.volume_name)

    @_translated
    def revert_to_snapshot(self, context, volume, snapshot):
        self.any_node.run('revert_to_snapshot', volume_name=volume.name,
                          snapshot_name=snapshot.name,
                          snapshot_id=snapshot.id)

    def update_migrated_volume(self, ctxt, volume, new_volume,
                               original_volume_status):
        """Keep the migrated LV under its own name: Cinder then reaches it
        through ``_name_id``, and no rename races an attachment.
        """
        return {'_name_id': new_volume._name_id or new_volume.id,
                'provider_location': new_volume.provider_location}

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

    @staticmethod
    def _whole_gib(lv, existing_ref):
        if lv.size_mib % MIB_PER_GIB:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_not_whole_gib(lv))
        return lv.size_mib // MIB_PER_GIB

    @_translated
    def manage_existing(self, volume, existing_ref):
        lv = self._existing_lv(existing_ref)
        if lv.is_snapshot:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason='%s is a snapshot; manage it as a snapshot' % lv.name)
        self.any_node.run('manage', existing_name=lv.name,
                          new_name=volume.name, owner_id=volume.id)

    @_translated
    def manage_existing_get_size(self, volume, existing_ref):
        return self._whole_gib(self._existing_lv(existing_ref), existing_ref)

    @_translated
    def unmanage(self, volume):
        self.ops.unmanage(volume.name, volume.id)

    @_translated
    def manage_existing_snapshot(self, snapshot, existing_ref):
        lv = self._existing_lv(existing_ref)
        if lv.origin != snapshot.volume_name:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason='%s is not a snapshot of volume %s' % (
                    lv.name, snapshot.volume_id))
        self.any_node.run(
            'manage', existing_name=lv.name,
            new_name=operations.snapshot_lv_name(snapshot.name),
            owner_id=snapshot.id, tag=operations.SNAPSHOT_TAG)

    @_translated
    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        lv = self._existing_lv(existing_ref)
        return int(math.ceil(lv.size_mib / MIB_PER_GIB))

    @_translated
    def unmanage_snapshot(self, snapshot):
        self.ops.unmanage(operations.snapshot_lv_name(snapshot.name),
                          snapshot.id, tag=operations.SNAPSHOT_TAG)

    @_translated
    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset,
                               sort_keys, sort_dirs):
        cinder_ids = {volume.id for volume in cinder_volumes}
        entries = []
        for lv in self.ops.vg.logical_volumes():
            if lv.is_snapshot:
                continue
            owner = lv.tag_value(operations.VOLUME_TAG)
            entries.append(_manageable(
                lv, owner, cinder_ids, _why_not_manageable(lv, owner)))
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    @_translated
    def get_manageable_snapshots(self, cinder_snapshots, marker, limit,
                                 offset, sort_keys, sort_dirs):
        cinder_ids = {snapshot.id for snapshot in cinder_snapshots}
        entries = []
        for lv in self.ops.vg.logical_volumes():
            if not lv.is_snapshot or lv.name.startswith(
                    operations.CLONE_SNAPSHOT_PREFIX):
                continue
            owner = lv.tag_value(operations.SNAPSHOT_TAG)
            entry = _manageable(lv, owner, cinder_ids,
                                owner and 'already managed by Cinder')
            entry['source_reference'] = {'source-name': lv.origin}
            entries.append(entry)
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    # Attachments: see exports.py for where each step runs.

    @_translated
    def create_export(self, context, volume, connector):
        return self.exports.create(context, volume, connector)

    @_translated
    def ensure_export(self, context, volume):
        self.exports.ensure(context, volume)

    @_translated
    def remove_export(self, context, volume):
        self.exports.remove(context, volume)

    @_translated
    def initialize_connection(self, volume, connector):
        return self.exports.connection(volume, connector)

    def validate_connector(self, connector):
        if self.exports.node_of(connector):
            return True
        return self.target_driver.validate_connector(connector)

    @_translated
    def terminate_connection(self, volume, connector, **kwargs):
        return self.exports.terminate(volume, connector, **kwargs)

    @_translated
    def create_export_snapshot(self, context, snapshot, connector):
        return self.exports.create(context, snapshot, connector)

    @_translated
    def remove_export_snapshot(self, context, snapshot):
        self.exports.remove(context, snapshot)

    @_translated
    def initialize_connection_snapshot(self, snapshot, connector, **kwargs):
        return self.exports.connection(snapshot, connector)

    @_translated
    def terminate_connection_snapshot(self, snapshot, connector, **kwargs):
        return self.exports.terminate(snapshot, connector, **kwargs)

    # Image transfer: straight to and from this node's device.

    @contextlib.contextmanager
    def _on_this_node(self, volume):
        with self.exports.used_here(volume):
            yield self._path(volume)

    @_translated
    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        with self._on_this_node(volume) as path:
            volume_utils.upload_volume(context, image_service, image_meta,
                                       path, volume)

    @_translated
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        with self._on_this_node(volume) as path:
            image_utils.fetch_to_raw(
                context, image_service, image_id, path,
                self.configuration.volume_dd_blocksize, size=volume.size,
                disable_sparse=disable_sparse)

    def _path(self, volume):
        return self.ops.vg.lv_path(volume.name)

    # Stats.

    def _update_volume_stats(self):
        verdict = self.gate.verdict()
        reasons = list(verdict.reasons)
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
            if capacity.metadata_nearly_full:
                LOG.warning(
                    'Backend %s offers no free space: the metadata area of '
                    'VG %s has %d of its %d bytes left, and LVM refuses '
                    'every create once it is full (%s)', self.backend_name,
                    self.ops.vg.vg_name, capacity.metadata_free_bytes,
                    capacity.metadata_area_bytes, lvm.METADATA_AREA_ADVICE)
            if capacity.metadata_free_bytes is not None:
                pool['metadata_area_free_bytes'] = (
                    capacity.metadata_free_bytes)
            pool.update(
                total_capacity_gb=round(capacity.total_bytes / gib, 2),
                # Nothing can be created while changes are refused, nor
                # once the metadata has no room for another volume.
                free_capacity_gb=0 if (
                    reasons or capacity.metadata_nearly_full) else round(
                    capacity.free_bytes / gib, 2),
                provisioned_capacity_gb=round(
                    (capacity.total_bytes - capacity.free_bytes) / gib, 2),
                total_volumes=capacity.volume_count)
        state = 'down' if reasons else 'up'
        if reasons:
            LOG.warning('Backend %s reported down: %s', self.backend_name,
                        '; '.join(reasons))
        pool['backend_state'] = state
        pool.update(self._degraded(verdict))
        self._stats = {
            'volume_backend_name': self.backend_name,
            'vendor_name': 'Open Source',
            'driver_version': self.VERSION,
            'storage_protocol': self.protocol,
            'backend_state': state,
            'backend_state_reason': '; '.join(reasons) or None,
            'pools': [pool]}

    def _degraded(self, verdict):
        """The pool's ``cluster_degraded`` capabilities: whether it serves
        with a node gone or resyncing, and why, since when (as this service
        first saw it) and which nodes have left.
        """
        if verdict.degraded is None:
            self._degraded_since = None
            return {'cluster_degraded': False,
                    'cluster_degraded_reason': None}
        if self._degraded_since is None:
            self._degraded_since = timeutils.utcnow().isoformat()
        departed = sorted(self.any_node.departed_nodes())
        reason = '%s (since %s%s)' % (
            verdict.degraded, self._degraded_since,
            '; left the cluster: %s' % ', '.join(departed) if departed
            else '')
        LOG.warning('Backend %s serves degraded: %s', self.backend_name,
                    reason)
        return {'cluster_degraded': True, 'cluster_degraded_reason': reason}


def _not_whole_gib(lv):
    return ('LV %s is %d MiB, not a whole number of GiB; extend it to %d '
            'GiB with lvextend first' % (lv.name, lv.size_mib,
                                         math.ceil(lv.size_mib /
                                                   MIB_PER_GIB)))


def _why_not_manageable(lv, owner):
    if owner:
        return 'already managed by Cinder'
    if lv.name.startswith(operations.CLONE_SNAPSHOT_PREFIX) or (
            operations.CREATING_TAG in lv.tags):
        return 'left half-made by an interrupted operation'
    if lv.is_active:
        return 'volume is active (in use)'
    if lv.size_mib % MIB_PER_GIB:
        return _not_whole_gib(lv)
    return None


def _manageable(lv, owner, cinder_ids, reason):
    return {'reference': {'source-name': lv.name},
            'size': int(math.ceil(lv.size_mib / MIB_PER_GIB)),
            'safe_to_manage': not reason,
            'reason_not_safe': reason or None,
            'cinder_id': owner if owner in cinder_ids else None,
            'extra_info': None}
