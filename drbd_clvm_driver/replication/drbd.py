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

"""Dual-primary DRBD: the two nodes' disks kept equal by DRBD.

A metadata change is safe while DRBD is Connected, UpToDate/UpToDate and
Primary/Primary: the write then reaches both disks before it completes. It
is safe too while this node serves alone: its peer fenced (DRBD marked the
peer's disk Outdated, so it can never be promoted with its stale copy) or
resyncing from this node. While the peer's state is unknown (the link lost,
the fence not yet confirmed) DRBD holds I/O and the gate refuses.
After the change the data generation tells whether the link dropped (and
maybe came back) while it ran, since a Primary starts a new generation the
moment it loses its peer. DRBD 8.4 is read from ``/proc/drbd``, DRBD 9 from
``drbdsetup status --json`` (:mod:`drbd_clvm_driver.drbd`).
"""

import dataclasses

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver import fence_state
from drbd_clvm_driver.replication import base


#: what this node's fence-peer handler leaves while it cannot fence
_FENCE_FAILING = ('cat', fence_state.FAILING_FILE)
#: own disk states that may predate the peer's last changes
_NOT_KNOWN_CURRENT = (drbd.DiskState.OUTDATED, drbd.DiskState.CONSISTENT)


class DrbdReplication(base.Replication):
    """The dual-primary DRBD resource ``drbd_clvm_drbd_resource`` names."""

    name = 'drbd'
    target_option = 'drbd_clvm_drbd_resource'
    # DRBD's fencing of a lost peer runs through the cluster stack.
    needs_quorum = True

    def __init__(self, runner, target, timeout=10):
        super().__init__(runner, target, timeout)
        self.resource = drbd.DrbdResource(runner, target, timeout)

    @property
    def label(self):
        return 'DRBD %s' % self.target

    def readings(self, with_generation):
        return self.resource.readings(with_generation) + [_FENCE_FAILING]

    def confirm_readings(self):
        # After a change only the generation matters, not the fence.
        return [argv for argv in self.readings(with_generation=True)
                if argv != _FENCE_FAILING]

    def state_from(self, results, with_generation):
        state = self.resource.state_from(results, with_generation)
        if (state.is_connected or state.peer_fenced
                or _FENCE_FAILING not in results):
            return state  # a record left from an earlier failure
        record = results.output(_FENCE_FAILING, check=False)
        if record.exit_code:
            return state
        try:
            failure = fence_state.FenceFailure.from_text(record.stdout)
        except ValueError as error:
            failure = 'unreadable (%s): %s' % (fence_state.FAILING_FILE,
                                               error)
        else:
            failure = failure.describe()
        return dataclasses.replace(state, fence_failure=failure)

    def state_from_plain(self, plain):
        return drbd.ResourceState(**plain)

    def reasons(self, state):
        """Every reason a change is unsafe; none while this node serves
        alone (:attr:`~drbd_clvm_driver.drbd.ResourceState.serves_alone`).
        """
        if state.serves_alone:
            return []
        reasons = []
        if state.may_be_split_brain:
            reasons.append(
                'DRBD %s is %s with %s KiB out of sync: the nodes may have '
                'diverged (split-brain); resolve it before any change' % (
                    state.name, state.connection, state.out_of_sync_kib))
        elif state.is_resyncing:
            reasons.append('DRBD %s is %s, %s KiB left to resync' % (
                state.name, state.connection, state.out_of_sync_kib))
        elif state.peer_fenced and not state.awaits_peer:
            reasons.append(
                'DRBD %s is %s: the peer was fenced (Outdated) but this node '
                'no longer listens for it; run "drbdadm connect %s" so it '
                'can rejoin and resync' % (state.name, state.connection,
                                           state.name))
        elif not state.is_connected and state.fence_failure:
            reasons.append('DRBD %s is %s, not Connected: %s' % (
                state.name, state.connection, state.fence_failure))
        elif not state.is_connected and not state.peer_fenced:
            reasons.append(
                'DRBD %s is %s, not Connected: the peer is not confirmed '
                'fenced (disk %s); DRBD holds I/O until its fence succeeds'
                % (state.name, state.connection, state.peer_disk))
        if state.disk in _NOT_KNOWN_CURRENT:
            reasons.append(
                'DRBD %s: this node\'s copy is %s: the peer may have made '
                'changes while this node was away. Changes wait until the '
                'peer is back and this node has resynced from it; never '
                'promote this copy by force' % (state.name, state.disk))
        elif state.disk == drbd.DiskState.INCONSISTENT:
            reasons.append(
                'DRBD %s: this node\'s copy is Inconsistent (a new disk, or '
                'a resync that has not finished): changes wait until it has '
                'synced from the peer' % state.name)
        elif not state.both_up_to_date:
            reasons.append('DRBD %s disks are %s/%s, not UpToDate/UpToDate'
                           % (state.name, state.disk, state.peer_disk))
        if not state.both_primary:
            reasons.append('DRBD %s roles are %s/%s, not Primary/Primary'
                           % (state.name, state.role, state.peer_role))
        return reasons

    def degraded(self, state):
        if not state.serves_alone:
            return None
        if state.is_sync_source:
            return ('%s is %s: the peer rejoined and copies %s KiB from '
                    'this node' % (self.label, state.connection,
                                   state.out_of_sync_kib))
        if state.peer_not_yet_primary:
            return ('%s is Connected with the peer UpToDate but still '
                    'Secondary: it has caught up and is not Primary yet'
                    % self.label)
        return ('%s is %s with the peer fenced (Outdated): this node '
                'serves alone until the peer rejoins' % (
                    self.label, state.connection))

    def peers_fenced(self, state):
        if state.is_connected or state.is_resyncing:
            return False
        # StandAlone says nothing of where the peer is now.
        return True if state.peer_fenced and state.awaits_peer else None

    def confirmed(self, checked, results):
        """Still Connected, UpToDate and Primary on both sides is not
        enough: the link may have dropped and come back; the generation
        must be the one the check saw.
        """
        try:
            now = self.state_from(results, with_generation=True)
        except exception.DrbdClvmError as error:
            return 'unreadable: %s' % error
        if not self.reasons(now) and now.generation == checked.generation:
            return None
        return now.describe()
