"""Dual-primary DRBD: the two nodes' disks kept equal by DRBD.

A metadata change is safe while DRBD is Connected, UpToDate/UpToDate and
Primary/Primary: the write then reaches both disks before it completes.
After the change the data generation tells whether the link dropped (and
maybe came back) while it ran, since a Primary starts a new generation the
moment it loses its peer. DRBD 8.4 is read from ``/proc/drbd``, DRBD 9 from
``drbdsetup status --json`` (:mod:`drbd_clvm_driver.drbd`).
"""

from drbd_clvm_driver import drbd
from drbd_clvm_driver import exception
from drbd_clvm_driver.replication import base


class DrbdReplication(base.Replication):
    """A dual-primary DRBD resource named by ``drbd_resource``."""

    name = 'drbd'
    target_option = 'drbd_resource'
    # DRBD's fencing of a lost peer runs through the cluster stack.
    needs_quorum = True

    def __init__(self, runner, target, timeout=10):
        super().__init__(runner, target, timeout)
        self.resource = drbd.DrbdResource(runner, target, timeout)

    @property
    def label(self):
        return 'DRBD %s' % self.target

    def readings(self, with_generation):
        return self.resource.readings(with_generation)

    def state_from(self, results, with_generation):
        return self.resource.state_from(results, with_generation)

    def state_from_plain(self, plain):
        return drbd.ResourceState(**plain)

    def reasons(self, state):
        reasons = []
        if state.may_be_split_brain:
            reasons.append(
                'DRBD %s is %s with %s KiB out of sync: the nodes may have '
                'diverged (split-brain); resolve it before any change' % (
                    state.name, state.connection, state.out_of_sync_kib))
        elif state.is_resyncing:
            reasons.append('DRBD %s is %s, %s KiB left to resync' % (
                state.name, state.connection, state.out_of_sync_kib))
        elif state.peer_fenced:
            reasons.append(
                'DRBD %s is %s: the peer was fenced (Outdated); changes are '
                'accepted again once it has rejoined and resynced' % (
                    state.name, state.connection))
        elif not state.is_connected:
            reasons.append('DRBD %s is %s, not Connected' % (
                state.name, state.connection))
        if not state.both_up_to_date:
            reasons.append('DRBD %s disks are %s/%s, not UpToDate/UpToDate'
                           % (state.name, state.disk, state.peer_disk))
        if not state.both_primary:
            reasons.append('DRBD %s roles are %s/%s, not Primary/Primary'
                           % (state.name, state.role, state.peer_role))
        return reasons

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
