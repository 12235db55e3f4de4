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

"""Volume operations on one node: gate, node lock, LVM, data, in that order.

This is everything the Cinder driver does, without Cinder: names, sizes in
MiB and ids in, exceptions from :mod:`drbd_clvm_driver.exception` out.  The
scenario tests run it on two nodes at once, simulated or real.

Rules every operation keeps:

* the safety gate runs right before each LVM metadata command, under this
  node's per-VG lock, so no worker of this node slips a command in between,
  and confirms right after it that DRBD kept its peer and generation;
* the volume's own node lock is held for the whole operation, so this node
  never deletes a volume it is copying from;
* a failure after the first change undoes what the operation made (a new LV
  is removed, an activation it made is reverted; refusals while the
  cluster heals are retried), so nothing is left half-made; what a crash
  or a fence leaves carries the ``creating`` tags, and its own node
  removes it at start-up;
* an LV in use on this node is active *shared* unless it has snapshots
  (lvmlockd keeps an origin exclusive), so the other node can activate it
  too (live migration, multiattach); an operation that needs it exclusive
  converts this node's activation in place and puts it back after.

Only this node's activation can be changed here.  Where another node holds
the LV, LVM refuses with :class:`~.exception.LockedByOtherNode` and
:mod:`drbd_clvm_driver.routing` runs the operation on that node instead.
"""

import contextlib
import dataclasses
import time
import typing

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import excutils

from drbd_clvm_driver import data
from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm

LOG = logging.getLogger(__name__)

VOLUME_TAG = 'cinder-volume:'
SNAPSHOT_TAG = 'cinder-snapshot:'
#: present while an LV's data is being written; left behind by a crash, a
#: fence, or an undo the cluster refused for longer than UNDO_TIMEOUT
CREATING_TAG = 'cinder-state:creating'
#: beside CREATING_TAG: the node whose operation is writing the LV, so that
#: node's volume service alone removes it when it starts again
CREATOR_TAG = 'cinder-state:creating-on:'
#: seconds a failed operation keeps trying to undo what it made while the
#: cluster refuses changes (a lock manager restarting, a fenced peer
#: rejoining) before it leaves the LV to the start-up clean-up
UNDO_TIMEOUT = 300
UNDO_INTERVAL = 5
#: temporary snapshots a clone reads from
CLONE_SNAPSHOT_PREFIX = '_clone-'
#: their copy-on-write chunk: the kernel reads a snapshot a chunk at a time
#: (LVM's 4 KiB made a 1 GiB clone a quarter million reads), and one that
#: lives for one sequential copy loses little to larger copy-on-writes
CLONE_SNAPSHOT_CHUNK_KIB = 512
#: users' snapshots, by default: on the gate guests, reading a 256 MiB
#: snapshot took 0.5 s against 5.4 s with LVM's 4 KiB, and the first random
#: 4 KiB writes to its volume 28 % longer (512 KiB: 0.2 s, 2.4 times longer)
SNAPSHOT_CHUNK_KIB = 64
#: LVs refreshed by one LVM command at start-up
REFRESH_CHUNK = 100


def snapshot_lv_name(name):
    """LVM reserves names starting with "snapshot"; Cinder's snapshot names
    do start so, and get a leading underscore.
    """
    return '_' + name if name.startswith('snapshot') else name


def _check_fits(name, size_mib, source):
    """A new volume may grow beyond its source, never shrink below it."""
    lvm.validate_size_mib(size_mib)
    if size_mib < source.size_mib:
        raise exception.InvalidInput(
            'Volume %s (%d MiB) would be smaller than its source %s (%d MiB)'
            % (name, size_mib, source.name, source.size_mib))


#: room in the VG's metadata area (bytes) below which the pool offers no
#: free space: about 150 more volumes (each takes about 400 bytes of it),
#: so that the scheduler stops sending creates before LVM refuses them
METADATA_RESERVE_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Capacity:
    total_bytes: int
    free_bytes: int
    volume_count: int
    half_made: tuple
    #: the VG's metadata area and the room left in it (None: not reported)
    metadata_area_bytes: typing.Optional[int] = None
    metadata_free_bytes: typing.Optional[int] = None

    @property
    def metadata_nearly_full(self):
        return metadata_nearly_full(self.metadata_free_bytes)


def metadata_nearly_full(free_bytes):
    """Whether ``free_bytes`` of room in the VG's metadata area (None: not
    reported) is under :data:`METADATA_RESERVE_BYTES`.
    """
    return free_bytes is not None and free_bytes < METADATA_RESERVE_BYTES


class NodeLocks:
    """This node's inter-process locks (oslo.concurrency, file based).

    :param lock_path: directory for the lock files, local to this node.
    :param vg_name: part of every lock name, so two backends never share.
    """

    def __init__(self, lock_path, vg_name):
        self.lock_path = lock_path
        self.prefix = 'drbd-clvm-%s-' % vg_name
        # Own semaphores: two simulated nodes in one process stay apart.
        self._semaphores = lockutils.Semaphores()

    def _lock(self, name):
        return lockutils.lock(name, lock_file_prefix=self.prefix,
                              external=True, lock_path=self.lock_path,
                              semaphores=self._semaphores)

    def metadata(self):
        """Held around one gate check and the metadata command after it."""
        return self._lock('vg-metadata')

    @contextlib.contextmanager
    def volumes(self, *names):
        """Hold the locks of several LVs, taken in one order to avoid
        deadlock between two operations that share them.
        """
        with contextlib.ExitStack() as stack:
            for name in sorted(set(names)):
                stack.enter_context(self._lock('lv-' + name))
            yield


class VolumeOperations:
    """Creates, copies, snapshots and deletes LVs safely on one node.

    :param vg: a :class:`~drbd_clvm_driver.lvm.ClusteredVG`.
    :param gate: a :class:`~drbd_clvm_driver.cluster.SafetyGate`.
    :param locks: a :class:`NodeLocks`.
    :param volume_clear: ``'zero'`` or ``'none'``.
    :param volume_clear_size: MiB to wipe, 0 for all.
    :param data_timeout: seconds one dd may take.
    :param zero_in_device: whether copies and wipes let the device zero
        (:func:`~drbd_clvm_driver.data.copy`, :func:`~.data.wipe`).
    :param snapshot_chunk_kib: the copy-on-write unit of users' snapshots
        (:data:`~drbd_clvm_driver.lvm.SNAPSHOT_CHUNKS_KIB`).
    """

    def __init__(self, vg, gate, locks, volume_clear='zero',
                 volume_clear_size=0, data_timeout=3600,
                 zero_in_device=True,
                 snapshot_chunk_kib=SNAPSHOT_CHUNK_KIB):
        self.vg = vg
        self.gate = gate
        self.locks = locks
        self.volume_clear = volume_clear
        self.volume_clear_size = volume_clear_size
        self.data_timeout = data_timeout
        self.zero_in_device = zero_in_device
        self.snapshot_chunk_kib = snapshot_chunk_kib
        #: LVs active here by the start-up's one listing, which :meth:`use`
        #: trusts until the service serves or an LVM change is made
        self._active_at_start_up = frozenset()

    @property
    def runner(self):
        return self.vg.runner

    def _change(self, method, *args, **kwargs):
        """One LVM metadata command, behind the gate and the node lock, and
        confirmed after: DRBD must not have lost its peer meanwhile.
        """
        # an activation may end one the start-up listed
        self._active_at_start_up = frozenset()
        with self.locks.metadata(), self.gate.guarding(
                self._change_text(method, args, kwargs)):
            return method(*args, **kwargs)

    @staticmethod
    def _change_text(method, args, kwargs):
        """``create('volume-1', 1024, tags=[...])``, for the operator."""
        words = [repr(arg) for arg in args]
        words += ['%s=%r' % item for item in kwargs.items()]
        # Any callable; a test's stand-in for the VG may have no name.
        name = getattr(method, '__name__', repr(method))
        return '%s(%s)' % (name, ', '.join(words))

    def _undo(self, description, method, *args):
        """Rollback: log, never hide the original error. Refusals that may
        pass (the cluster healing) are retried for :data:`UNDO_TIMEOUT`.
        """
        deadline = time.monotonic() + UNDO_TIMEOUT
        while True:
            try:
                self._change(method, *args)
                LOG.info('Undid %s', description)
                return
            except exception.DrbdClvmError as error:
                if not error.retriable or time.monotonic() >= deadline:
                    LOG.error('Could not undo %s: %s; LVs it left '
                              'half-made go when the volume service of %s '
                              'starts again, anything else needs an '
                              'operator', description, error,
                              self.runner.node or 'this node')
                    return
                LOG.warning('Could not undo %s yet (%s); trying again in '
                            '%d s', description, error, UNDO_INTERVAL)
                time.sleep(UNDO_INTERVAL)

    def _make(self, method, name, *args, **kwargs):
        """``_change`` of the command that makes LV ``name``, tagged as
        being made. If the command ran but could not be confirmed, the LV
        is removed again (once the cluster lets it), not left half-made.
        """
        try:
            return self._change(method, name, *args, **kwargs)
        except exception.ClusterChangedDuringChange:
            with excutils.save_and_reraise_exception():
                self._undo('unconfirmed %s' % name, self._remove_if_present,
                           name)

    def _remove_if_present(self, name):
        """Remove LV ``name``; one DRBD's recovery discarded is gone."""
        if self.vg.find(name) is not None:
            self.vg.remove(name)

    def _creating_tags(self):
        return [CREATING_TAG] + (
            [CREATOR_TAG + self.runner.node] if self.runner.node else [])

    # Volumes.

    def create_volume(self, name, size_mib, volume_id):
        """One ``lvcreate``; the LV stays inactive until exported."""
        LOG.info('Creating volume %s (%d MiB) in %s', name, size_mib,
                 self.vg.vg_name)
        with self.locks.volumes(name):
            self._change(self.vg.create, name, size_mib,
                         tags=[VOLUME_TAG + volume_id])

    def extend_volume(self, name, current_mib, new_mib):
        """Grow an LV; returns True when it is active shared (in use on one
        or more nodes), so every node that has it active must refresh its
        device (this one already has).
        """
        lvm.validate_size_mib(new_mib)
        if new_mib <= current_mib:
            raise exception.InvalidInput(
                'Cannot extend %s from %d MiB to %d MiB: the new size must '
                'be larger' % (name, current_mib, new_mib))
        LOG.info('Extending %s from %d to %d MiB', name, current_mib, new_mib)
        with self.locks.volumes(name):
            try:
                self._change(self.vg.extend, name, new_mib)
                return False
            except exception.SharedLockConflict:
                LOG.info('%s is active shared; extending under a shared '
                         'lock', name)
                self._change(self.vg.extend, name, new_mib, shared=True)
            self._refresh(name)
            return True

    def delete_volume(self, name):
        """Wipe (per ``volume_clear``) and remove; a missing LV is gone
        already and not an error.
        """
        with self.locks.volumes(name):
            self._delete(name)

    def _delete(self, name):
        if self.volume_clear != 'zero' and self._change(self.vg.remove_plain,
                                                        name):
            LOG.info('Deleted %s from %s', name, self.vg.vg_name)
            return
        # A snapshot, an origin, a volume to wipe first, or none at all.
        volumes = self.vg.logical_volumes()
        target = next((lv for lv in volumes if lv.name == name), None)
        if target is None:
            LOG.warning('Volume %s is not in %s; nothing to delete', name,
                        self.vg.vg_name)
            return
        dependants = [lv.name for lv in volumes if lv.origin == name]
        if dependants:
            raise exception.VolumeBusy(
                'Volume %s has snapshots (%s); delete them first' % (
                    name, ', '.join(dependants)))
        if target.open:
            raise exception.VolumeBusy('Volume %s is open on this node'
                                       % name)
        if target.origin or self.volume_clear == 'zero':
            # Removing a snapshot changes its origin's device: it runs where
            # the origin is held, exclusively (another node holding it
            # refuses, and the removal runs there).  A wipe needs the LV
            # active here.
            with self._exclusive_here(target.origin or name,
                                      target.active_locally,
                                      restore=bool(target.origin)):
                if self.volume_clear == 'zero':
                    self._wipe(target)
                self._change(self.vg.remove, name)
        else:
            self._change(self.vg.remove, name)
        LOG.info('Deleted %s from %s', name, self.vg.vg_name)

    def _wipe(self, lv):
        """Zero an active LV (a snapshot's copy-on-write area)."""
        size = lv.size_mib
        if self.volume_clear_size:
            size = min(size, self.volume_clear_size)
        path = self._cow_path(lv.name) if lv.is_snapshot else \
            self.vg.lv_path(lv.name)
        LOG.info('Wiping %d MiB of %s', size, path)
        data.wipe(self.runner, path, size, self.data_timeout,
                  in_device=self.zero_in_device)

    def _cow_path(self, name):
        return '/dev/mapper/%s-cow' % lvm.device_mapper_name(self.vg.vg_name,
                                                             name)

    # Snapshots.

    def create_snapshot(self, snapshot_name, volume_name, snapshot_id):
        """A snapshot as large as its origin, so it can never overflow.

        The origin keeps its activation: the gate cluster showed that
        ``lvcreate -s`` of an inactive origin leaves both inactive.
        """
        lv_name = snapshot_lv_name(snapshot_name)
        with self.locks.volumes(volume_name):
            origin = self.vg.logical_volume(volume_name)
            if origin.active_locally:
                # In use here, perhaps shared: LVM snapshots only an
                # exclusive origin, and keeps it exclusive while it has one.
                self._change(self.vg.activate, volume_name,
                             lvm.Activation.EXCLUSIVE)
            self._change(self.vg.create_snapshot, lv_name, volume_name,
                         origin.size_mib, self.snapshot_chunk_kib,
                         tags=[SNAPSHOT_TAG + snapshot_id])
        return lv_name

    def delete_snapshot(self, snapshot_name, volume_name):
        """Remove a snapshot, holding its origin's lock too: removing a
        snapshot changes the origin's device.
        """
        lv_name = snapshot_lv_name(snapshot_name)
        with self.locks.volumes(lv_name, volume_name):
            self._delete(lv_name)

    def revert_to_snapshot(self, volume_name, snapshot_name, snapshot_id):
        """Merge the snapshot into its volume, then take it again so the
        Cinder snapshot still exists.
        """
        lv_name = snapshot_lv_name(snapshot_name)
        with self.locks.volumes(volume_name):
            origin = self.vg.logical_volume(volume_name)
            if origin.open:
                raise exception.VolumeBusy('Volume %s is in use; detach it '
                                           'before reverting' % volume_name)
            with self._exclusive_here(volume_name, origin.active_locally):
                self._change(self.vg.merge_snapshot, lv_name)
                self._change(self.vg.create_snapshot, lv_name, volume_name,
                             origin.size_mib, self.snapshot_chunk_kib,
                             tags=[SNAPSHOT_TAG + snapshot_id])

    # Volumes with data from another LV.

    def create_volume_from_snapshot(self, name, size_mib, volume_id,
                                    snapshot_name, origin_name):
        source_name = snapshot_lv_name(snapshot_name)
        with self.locks.volumes(name, origin_name):
            source = self.vg.logical_volume(source_name)
            _check_fits(name, size_mib, source)
            # A snapshot is active exactly when its origin is.
            with self._exclusive_here(origin_name, source.active_locally):
                self._copy_into_new(name, size_mib, volume_id, source)

    def clone_volume(self, name, size_mib, volume_id, source_name):
        """Copy through a temporary snapshot, so a source in use on this
        node is copied as of one instant.
        """
        temporary = CLONE_SNAPSHOT_PREFIX + name
        with self.locks.volumes(name, source_name):
            origin = self.vg.logical_volume(source_name)
            _check_fits(name, size_mib, origin)
            # Reading the snapshot needs its origin active here.
            with self._exclusive_here(source_name, origin.active_locally):
                self._make(self.vg.create_snapshot, temporary, source_name,
                           origin.size_mib, CLONE_SNAPSHOT_CHUNK_KIB,
                           tags=self._creating_tags())
                try:
                    self._copy_into_new(name, size_mib, volume_id,
                                        self.vg.logical_volume(temporary))
                finally:
                    self._undo('temporary snapshot %s' % temporary,
                               self.vg.remove, temporary)

    @contextlib.contextmanager
    def _exclusive_here(self, name, active_here, restore=True):
        """Hold ``name`` active exclusively on this node for the block.

        An activation here (perhaps shared, for an attachment) is converted
        in place and settled back after; an inactive LV is activated and,
        unless the block removes it (``restore=False``), deactivated again.
        :class:`~.exception.LockedByOtherNode` when another node holds it.
        """
        self._change(self.vg.activate, name, lvm.Activation.EXCLUSIVE)
        try:
            yield
        finally:
            if active_here:
                self._settle(name)
            elif restore:
                self._undo('activation of %s' % name, self.vg.activate,
                           name, lvm.Activation.INACTIVE)

    def _settle(self, name):
        """An LV in use here goes back to shared once it has no snapshots
        (lvmlockd keeps an origin exclusive); a removed one is left be.
        """
        lv = self.vg.find(name)
        if lv is not None and lv.active_locally and not lv.is_origin:
            self._undo('shared activation of %s' % name, self.vg.activate,
                       name, lvm.Activation.SHARED)

    def _copy_into_new(self, name, size_mib, volume_id, source):
        """Make LV ``name`` and fill it from the active LV ``source``; on
        any failure the new LV is removed again.
        """
        self._make(self.vg.create, name, size_mib,
                   tags=[VOLUME_TAG + volume_id] + self._creating_tags(),
                   activation=lvm.Activation.EXCLUSIVE)
        try:
            data.copy(self.runner, self.vg.lv_path(source.name),
                      self.vg.lv_path(name), source.size_mib,
                      self.data_timeout, target_mib=size_mib,
                      in_device=self.zero_in_device)
            self._change(self.vg.activate, name, lvm.Activation.INACTIVE)
            self._change(self.vg.change_tags, name,
                         delete=self._creating_tags())
        except Exception:
            with excutils.save_and_reraise_exception():
                self._undo('half-made volume %s' % name, self.vg.remove,
                           name)

    # Export.

    def use(self, name):
        """Make the LV (a volume, or a snapshot through its origin) usable
        on this node: shared, so another node can join (live migration,
        multiattach), or exclusive where LVM allows nothing else (an origin
        with snapshots, a snapshot).  A no-op where it is active here.
        Returns whether it activated it.
        """
        with self.locks.volumes(name):
            if name in self._active_at_start_up:
                return False
            lv = self.vg.logical_volume(name)
            if lv.active_locally:
                return False
            exclusive = lv.is_origin or lv.is_snapshot
            self._change(self.vg.activate, lv.origin or name,
                         lvm.Activation.EXCLUSIVE if exclusive
                         else lvm.Activation.SHARED)
            return True

    def release(self, name):
        """Deactivate the LV on this node if it is active here; a missing
        LV (a create that failed) has nothing to release.  A snapshot's
        activation is its origin's, which is left alone while open here.
        """
        with self.locks.volumes(name):
            lv = self.vg.find(name)
            if lv is None or not lv.active_locally:
                return
            holder = lv.origin or name
            if lv.origin and self.vg.logical_volume(holder).open:
                LOG.info('Origin %s of %s is open here; it stays active',
                         holder, name)
                return
            self._change(self.vg.activate, holder, lvm.Activation.INACTIVE)

    def refresh(self, name):
        """Reload this node's device after another node grew the LV."""
        with self.locks.volumes(name):
            self._refresh(name)

    def refresh_active(self):
        """Reload the device of every LV active on this node whose size
        the LVM metadata no longer has.

        Another node may have grown one while this node's service was down
        (it could not be asked then).  Run at service start: one LV listing,
        one reading of the kernel's device sizes, and one ``lvchange
        --refresh`` for each :data:`REFRESH_CHUNK` LVs behind (each
        refresh reloads its device, about 0.2 s on the gate's guests: a
        start-up that refreshed hundreds of volumes in use took a minute).
        What the listing shows active here, :meth:`use` takes as such
        until :meth:`started` or the next LVM change. An LV that cannot be
        refreshed is logged and the service still starts.

        :returns: the names refreshed.
        """
        listing = self.vg.logical_volumes()
        self._active_at_start_up = frozenset(
            lv.name for lv in listing if lv.active_locally)
        # A snapshot's device follows its origin's refresh.
        active = [lv for lv in listing
                  if lv.active_locally and not lv.is_snapshot]
        try:
            sizes = self.vg.device_sizes(lv.name for lv in active)
        except exception.DrbdClvmError as error:
            LOG.warning('Could not read the device sizes here (%s); '
                        'refreshing every active volume', error)
            sizes = {}
        names = [lv.name for lv in active
                 if sizes.get(lv.name) != lv.size_bytes]
        refreshed = []
        for start in range(0, len(names), REFRESH_CHUNK):
            chunk = names[start:start + REFRESH_CHUNK]
            try:
                with self.locks.volumes(*chunk):
                    self.vg.refresh(*chunk)
            except exception.DrbdClvmError:
                # LVM goes on past an LV it cannot refresh; find which.
                refreshed += self._refresh_each(chunk)
            else:
                refreshed += chunk
        return refreshed

    def _refresh_each(self, names):
        refreshed = []
        for name in names:
            try:
                with self.locks.volumes(name):
                    self.vg.refresh(name)
            except exception.DrbdClvmError as error:
                LOG.error('Could not refresh the device of %s: %s', name,
                          error)
            else:
                refreshed.append(name)
        return refreshed

    def started(self):
        """The service serves: :meth:`use` reads each LV again."""
        self._active_at_start_up = frozenset()

    def _refresh(self, name):
        lv = self.vg.find(name)
        if lv is not None and lv.active_locally:
            self.vg.refresh(name)

    # Manage and unmanage.

    def manage(self, existing_name, new_name, owner_id, tag=VOLUME_TAG):
        """Take over an LV: rename it to Cinder's name and tag it with its
        volume's (or, with ``tag=SNAPSHOT_TAG``, its snapshot's) id.
        """
        with self.locks.volumes(existing_name, new_name):
            lv = self.vg.logical_volume(existing_name)
            owner = lv.tag_value(tag)
            if owner and owner != owner_id:
                raise exception.InvalidInput(
                    'LV %s already belongs to Cinder\'s %s' % (
                        existing_name, tag + owner))
            if existing_name != new_name:
                self._change(self.vg.rename, existing_name, new_name)
            if owner != owner_id:
                self._change(self.vg.change_tags, new_name,
                             add=[tag + owner_id])

    def unmanage(self, name, owner_id, tag=VOLUME_TAG):
        """Leave the LV in place, without Cinder's tag."""
        with self.locks.volumes(name):
            self._change(self.vg.change_tags, name,
                         delete=[tag + owner_id])

    # Reading.

    def capacity(self):
        """The VG's size and what is in it: one LVM command whatever the
        number of volumes (two for an empty VG).
        """
        vg, tags = self.vg.volume_group_and_tags()
        cinder_volumes = [name for name, lv_tags in tags.items()
                          if lvm.tag_value(lv_tags, VOLUME_TAG) is not None]
        return Capacity(vg.size_bytes, vg.free_bytes, len(cinder_volumes),
                        _half_made(tags), vg.metadata_area_bytes,
                        vg.metadata_free_bytes)

    def half_made(self):
        """Names of LVs an interrupted operation left behind (one lvs)."""
        return _half_made({lv.name: lv.tags
                           for lv in self.vg.logical_volumes()})

    def remove_half_made(self):
        """Remove the LVs this node's own interrupted operations left.

        Only safe while none of this node's operations runs, i.e. when its
        volume service starts: a fenced or crashed node's copy ends there.
        Another node's half-made LVs may still be being written: kept.

        One that cannot be removed is logged and left (it stays listed as
        half-made); the service still starts.

        :returns: the names removed.
        """
        mine = [lv for lv in self.vg.logical_volumes()
                if CREATING_TAG in lv.tags and self.runner.node and
                lv.tag_value(CREATOR_TAG) == self.runner.node]
        removed = []
        for lv in mine:
            LOG.warning('Removing %s, left half-made by an operation of this '
                        'node that did not finish', lv.name)
            try:
                with self.locks.volumes(lv.name):
                    # A snapshot's activation is its origin's, which may be
                    # in use: lvremove takes the active snapshot alone.
                    if lv.active_locally and not lv.is_snapshot:
                        self._change(self.vg.activate, lv.name,
                                     lvm.Activation.INACTIVE)
                    self._change(self.vg.remove, lv.name)
            except exception.DrbdClvmError as error:
                LOG.error('Could not remove half-made %s: %s', lv.name, error)
            else:
                removed.append(lv.name)
        return removed


def _half_made(tags):
    """Names of the LVs whose tags (``{LV name: tags}``) say half-made."""
    return tuple(name for name, lv_tags in tags.items()
                 if CREATING_TAG in lv_tags)
