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

"""Where each attachment's data path is, and the steps that make and
unmake it on the right node.

* A connector from a cluster node gets a ``local`` connection: the LV active
  on that node (shared, so another node can join it for live migration or
  multiattach), its device path.
* Any other host gets iSCSI, with CHAP, through Cinder's target helper on
  the node that served the attach request, the LV active there; where that
  node cannot activate it (a snapshot, or an origin with snapshots, held by
  the other node), on the node that holds it.

Every connection records its node under :data:`NODE_KEY` in the connection
info Cinder keeps with the attachment, so a detach served by either node
undoes the steps on the node that made them, and only once no other
attachment still uses that node.
"""

import contextlib

from cinder import context as cinder_context
from cinder import exception as cinder_exception
from cinder import objects
from cinder.objects import fields
from oslo_log import log as logging

from drbd_clvm_driver import exception
from drbd_clvm_driver import operations

LOG = logging.getLogger(__name__)

#: connection-info key naming the node that serves the data path
NODE_KEY = 'drbd_clvm_node'
#: attachments whose connection exists on some node
_CONNECTED = (fields.VolumeAttachStatus.ATTACHING,
              fields.VolumeAttachStatus.ATTACHED,
              fields.VolumeAttachStatus.ERROR_DETACHING)


def _lv_name(resource):
    if isinstance(resource, objects.Snapshot):
        return operations.snapshot_lv_name(resource.name)
    return resource.name


def _kind(resource):
    return 'snapshot' if isinstance(resource, objects.Snapshot) else 'volume'


def _load(kind, resource_id):
    object_class = objects.Snapshot if kind == 'snapshot' else objects.Volume
    return object_class.get_by_id(cinder_context.get_admin_context(),
                                  resource_id)


def _connected(resource):
    """Attachments with a connection, the one being removed included; a
    snapshot has none of its own.
    """
    return [attachment for attachment in
            getattr(resource, 'volume_attachment', None) or ()
            if attachment.attach_status in _CONNECTED]


def _keeping_active(resource):
    """Attachments whose node must keep the LV active: a snapshot is
    active through its origin, which its volume's attachments use.
    """
    if isinstance(resource, objects.Snapshot):
        return _connected(resource.volume)
    return _connected(resource)


def _info(attachment):
    info = attachment.connection_info or {}
    # Cinder flattens the connection's data into the info it stores.
    return dict(info.get('data') or {}, **info)


def _same_connector(attachment, connector):
    theirs = attachment.connector or {}
    return (theirs.get('host') == connector.get('host') and
            theirs.get('initiator') == connector.get('initiator'))


class Exports:
    """The attach and detach steps of one node.

    :param any_node: this node's :class:`~drbd_clvm_driver.routing.AnyNode`.
    :param target_driver: Cinder's target helper (lioadm, tgtadm, fake).
    :param lv_path: maps an LV name to its device path.
    """

    def __init__(self, any_node, target_driver, lv_path):
        self.any_node = any_node
        self.target_driver = target_driver
        self.lv_path = lv_path

    @property
    def names(self):
        return self.any_node.names

    @property
    def ops(self):
        return self.any_node.ops

    def steps(self):
        """The node-local steps a peer may ask of this node."""
        return {'detach_target': self._detach_target_here,
                'extend_target': self._extend_target_here,
                'export': self._export_step,
                'connect': self._connect_step,
                'unexport': self._unexport_step}

    def node_of(self, connector):
        """The cluster node a connector comes from; None for other hosts."""
        return self.names.node_of((connector or {}).get('host'))

    def _node_serving(self, attachment):
        """The node an attachment's connection is on, as this node names it
        (the node that made it may spell it otherwise).
        """
        serving = _info(attachment).get(NODE_KEY)
        if serving:
            return self.names.node_of(serving) or serving
        return self.node_of(attachment.connector)

    @staticmethod
    def _is_local(attachment):
        return _info(attachment).get('driver_volume_type') == 'local'

    # Attaching.

    def create(self, context, resource, connector):
        """Make the LV usable where the connection will be: on the
        connector's node (local), or here behind a target (iSCSI).
        """
        name = _lv_name(resource)
        node = self.node_of(connector)
        if node:
            LOG.info('%s: local connection on %s', name, node)
            self.any_node.on(node, 'use', name=name)
            return None
        try:
            return self._export_here(context, resource)
        except exception.LockedByOtherNode as refusal:
            return self._on_holder('export', refusal, kind=_kind(resource),
                                   resource_id=resource.id)

    def _export_here(self, context, resource):
        name = _lv_name(resource)
        self.ops.use(name)
        export = self.target_driver.create_export(context, resource,
                                                  self.lv_path(name))
        return {'provider_location': export['location'],
                'provider_auth': export['auth']}

    def _export_step(self, kind, resource_id):
        return self._export_here(cinder_context.get_admin_context(),
                                 _load(kind, resource_id))

    def _on_holder(self, step, refusal, **kwargs):
        """Run an export step on the peer that holds the LV."""
        return self.any_node.on_holder(
            step, self.any_node.step_timeout,
            '%s of %s %s' % (step, kwargs['kind'], kwargs['resource_id']),
            refusal, 'it is held where it cannot be shared', **kwargs)

    def connection(self, resource, connector):
        name = _lv_name(resource)
        node = self.node_of(connector)
        if node:
            return {'driver_volume_type': 'local',
                    'data': {'device_path': self.lv_path(name),
                             NODE_KEY: node}}
        try:
            return self._connect_here(resource, connector)
        except exception.LockedByOtherNode as refusal:
            return self._on_holder('connect', refusal, kind=_kind(resource),
                                   resource_id=resource.id,
                                   connector=connector)

    def _connect_here(self, resource, connector):
        """The target's connection, where the export is: this node has
        the LV active.
        """
        name = _lv_name(resource)
        if not self.ops.vg.logical_volume(name).active_locally:
            raise exception.LockedByOtherNode(
                '%s is not exported from %s' % (name, self.names.local))
        info = self.target_driver.initialize_connection(resource, connector)
        info['data'][NODE_KEY] = self.names.local
        return info

    def _connect_step(self, kind, resource_id, connector):
        return self._connect_here(_load(kind, resource_id), connector)

    def ensure(self, context, volume):
        """At start-up: restore what this node's attachments need here.

        A refusal (cluster degraded, volume held elsewhere) is logged and
        leaves the volume as it is: its instance keeps its device.
        """
        mine = [attachment for attachment in _connected(volume)
                if self._node_serving(attachment) == self.names.local]
        if not mine:
            return
        try:
            self.ops.use(volume.name)
        except exception.DrbdClvmError as error:
            LOG.warning('Could not make %s usable on %s at start-up: %s',
                        volume.name, self.names.local, error)
            return
        if not all(self._is_local(attachment) for attachment in mine):
            self.target_driver.ensure_export(context, volume,
                                             self.lv_path(volume.name))

    # Detaching.

    def terminate(self, resource, connector, force=False):
        """Undo one connection on its node, unless another attachment
        still uses that node; True while other attachments remain (so
        Cinder keeps the export).
        """
        connected = _connected(resource)
        this = next((attachment for attachment in connected
                     if connector and _same_connector(attachment, connector)),
                    None)
        others = [attachment for attachment in connected
                  if attachment is not this]
        if not connector:
            # A forced detach without a connector cannot say which one it
            # is; remove_export cleans up what no attachment uses once the
            # last goes.
            return len(connected) > 1
        node = (this and self._node_serving(this)) or self.node_of(
            connector) or self.names.local
        on_node = [attachment for attachment in others
                   if self._node_serving(attachment) == node]
        if not self.node_of(connector) and not any(
                _same_connector(attachment, connector)
                for attachment in on_node):
            self.any_node.on(
                node, 'detach_target', kind=_kind(resource),
                resource_id=resource.id, connector=connector,
                last=all(self._is_local(attachment)
                         for attachment in on_node))
        if not on_node and not (isinstance(resource, objects.Snapshot) and
                                node in self._nodes_of(
                                    _keeping_active(resource))):
            self.any_node.on(node, 'release', name=_lv_name(resource))
        return bool(others)

    def _nodes_of(self, attachments):
        return {self._node_serving(attachment) for attachment in attachments}

    def remove(self, context, resource):
        """Remove the target and release the LV on every node that no
        connected attachment uses.  A node that does not answer (a short
        probe first, so a stopped service costs the probe, not a whole step
        timeout) is logged and left: its activation ends with it, and a
        later change that meets it is refused, never silently wrong.
        """
        keep = self._nodes_of(_keeping_active(resource))
        for node in self.names.all:
            if node in keep or not self.any_node.answers(node):
                continue
            try:
                if self.names.is_local(node):
                    self._unexport_here(context, resource)
                else:
                    self.any_node.on(node, 'unexport', kind=_kind(resource),
                                     resource_id=resource.id)
            except exception.PeerUnavailable as error:
                LOG.warning('Could not remove the export of %s on %s: %s',
                            resource.id, node, error)

    def _unexport_here(self, context, resource):
        try:
            self.target_driver.remove_export(context, resource)
        except cinder_exception.CinderException as error:
            # Most nodes never exported it: local connections have no
            # target, and an iSCSI one lives on the node that served it.
            LOG.debug('No target of %s removed on %s: %s', resource.id,
                      self.names.local, error)
        self.ops.release(_lv_name(resource))

    def _unexport_step(self, kind, resource_id):
        self._unexport_here(cinder_context.get_admin_context(),
                            _load(kind, resource_id))

    def _detach_target_here(self, kind, resource_id, connector, last):
        resource = _load(kind, resource_id)
        self.target_driver.terminate_connection(resource, connector)
        if last:
            self.target_driver.remove_export(
                cinder_context.get_admin_context(), resource)

    # Resizing.

    def extend_targets(self, volume):
        """Tell each node's target that the LV grew."""
        nodes = self._nodes_of(attachment for attachment in _connected(volume)
                               if not self._is_local(attachment))
        for node in sorted(nodes):
            self.any_node.on(node, 'extend_target', kind='volume',
                             resource_id=volume.id)

    def _extend_target_here(self, kind, resource_id):
        self.target_driver.extend_target(_load(kind, resource_id))

    # Image transfer.

    @contextlib.contextmanager
    def used_here(self, volume):
        """The volume usable on this node for the block; released after
        only if this call activated it and no attachment uses this node.
        """
        activated = self.ops.use(volume.name)
        try:
            yield
        finally:
            if activated and self.names.local not in self._nodes_of(
                    _connected(volume)):
                self.ops.release(volume.name)
