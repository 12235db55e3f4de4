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

"""Any node serves any request: each step runs on the node that can do it.

Cinder hands a request to whichever volume service of the cluster takes it.
Metadata changes can run on any node, but lvmlockd lets a node change only
its own activation, and a volume in use on a node is active there.  So:

* an operation is tried on the serving node; where LVM answers that another
  node holds the volume (:class:`~.exception.LockedByOtherNode`), the same
  operation runs on that node, which converts its own activation, and its
  answer is the answer;
* a node-local step (make a volume usable on node X, release it there,
  refresh X's device after an extend) runs on X, here or by a peer call.

Nothing here imports Cinder; :mod:`drbd_clvm_driver.driver` maps connectors
and attachments onto nodes and calls this.
"""

from oslo_log import log as logging

from drbd_clvm_driver import exception
from drbd_clvm_driver import peer

LOG = logging.getLogger(__name__)

#: operations of :class:`~drbd_clvm_driver.operations.VolumeOperations` a
#: node may be asked to run for another
FORWARDABLE = frozenset([
    'extend_volume', 'delete_volume', 'create_snapshot', 'delete_snapshot',
    'revert_to_snapshot', 'clone_volume', 'create_volume_from_snapshot',
    'manage'])
#: the node-local steps of the LVM layer; the driver adds its target steps
LVM_STEPS = ('use', 'release', 'refresh')
#: node-local steps that only undo or update what a node holds: a fenced
#: node holds nothing (no activation, no lock, no target), so they are
#: done for it
ENDED_BY_A_FENCE = frozenset(['release', 'refresh', 'detach_target',
                              'unexport', 'extend_target'])


class AnyNode:
    """Operations and node-local steps for the node serving a request.

    :param names: a :class:`~drbd_clvm_driver.nodes.NodeNames`.
    :param ops: this node's
        :class:`~drbd_clvm_driver.operations.VolumeOperations`.
    :param peers: :class:`~drbd_clvm_driver.peer.MessagingPeers` or
        :class:`~drbd_clvm_driver.peer.InProcessPeers`.
    :param step_timeout: seconds a peer may take for a node-local step.
    :param operation_timeout: seconds a peer may take for a whole
        operation (it may copy or wipe data).
    :param probe_timeout: seconds a peer may take to say it is there.
    :param departed: returns the peers that have left the cluster
        (:meth:`~drbd_clvm_driver.cluster.SafetyGate.departed`); by
        default none is known to have.
    """

    def __init__(self, names, ops, peers, step_timeout=180,
                 operation_timeout=3780, probe_timeout=15,
                 departed=frozenset):
        self.names = names
        self.departed = departed
        self.ops = ops
        self.peers = peers
        self.step_timeout = step_timeout
        self.operation_timeout = operation_timeout
        self.probe_timeout = probe_timeout
        #: step name -> callable taking keyword arguments, run on this node
        self.steps = {step: getattr(self.ops, step) for step in LVM_STEPS}

    def handlers(self):
        """What this node answers to its peers' calls."""
        return dict(self.steps, run=self._run_here,
                    answering=lambda: self.names.local)

    def _run_here(self, operation, kwargs):
        if operation not in FORWARDABLE:
            raise exception.InvalidInput('%s cannot be run for a peer'
                                         % operation)
        return getattr(self.ops, operation)(**kwargs)

    # Operations.

    def run(self, operation, **kwargs):
        """Run ``operation`` here, or where the volume is held
        (:meth:`on_holder`).

        :raises VolumeBusy: every node was refused: the volume is in use on
            more than one node (live migration, multiattach).
        :raises PeerUnavailable: no node that answered could run it, and at
            least one did not answer: the holder may be among them.
        """
        try:
            return self._run_here(operation, kwargs)
        except exception.LockedByOtherNode as refusal:
            held_here = refusal
        LOG.info('%s: the volume is held by another node (%s); asking the '
                 'other nodes to run it', operation, held_here)
        return self.on_holder(
            'run', self.operation_timeout, operation, held_here,
            'the volume is in use on more than one node (live migration or '
            'multiattach in progress, or a snapshot keeps it exclusive). '
            'Retry when it is attached on one node only.',
            operation=operation, kwargs=kwargs)

    def on_holder(self, step, timeout, what, refusal, busy, **kwargs):
        """Run ``step`` on the peer that holds the volume: each peer in
        turn, passing over one that has left the cluster or does not
        answer the probe (so one node that is down does not stop the
        others from serving) and one that is refused too.

        :param what: the request, for the operator.
        :param refusal: what this node was told, for the operator.
        :param busy: why every node that answered was refused.
        :raises VolumeBusy: every node that answered was refused.
        :raises PeerUnavailable: no node that answered could run it, and at
            least one did not answer: the holder may be among them.
        """
        silent = []
        for node in self.names.peers:
            if not self.answers(node):
                silent.append(node)
                continue
            try:
                return self.peers.call(node, step, timeout=timeout, **kwargs)
            except exception.LockedByOtherNode:
                continue
        if silent:
            raise exception.PeerUnavailable(
                '%s: the volume is held by another node and no node that '
                'answered could run it; the volume service on %s did not '
                'answer, and it may be the one holding the volume. %s '
                '(LVM: %s)' % (what, ', '.join(silent),
                               peer.CHECK_THE_SERVICE, refusal))
        raise exception.VolumeBusy('%s refused on every node: %s (LVM: %s)'
                                   % (what, busy, refusal))

    def extend_volume(self, name, current_mib, new_mib):
        """Extend where possible, then refresh the device on every node
        that has the LV active (the step is a no-op elsewhere).  A node
        whose service does not answer is passed over with a warning: the
        LV has grown, and that node refreshes its device when its service
        starts again.
        """
        if not self.run('extend_volume', name=name, current_mib=current_mib,
                        new_mib=new_mib):
            return
        silent = []
        for node in self.names.all:
            try:
                self.on(node, 'refresh', name=name)
            except exception.PeerUnavailable:
                silent.append(node)
        if silent:
            LOG.warning('%s grew to %d MiB; the volume service on %s did not '
                        'answer, so a device of it there keeps the old size '
                        'until that service starts again (it refreshes its '
                        'active volumes then) or "lvchange --refresh" is run '
                        'there', name, new_mib, ', '.join(silent))

    # Node-local steps.

    def answers(self, node):
        """Whether ``node``'s volume service answers within the probe
        timeout: a best-effort step is skipped on a node that does not,
        rather than held for the whole step timeout, and at once on a node
        that has left the cluster.
        """
        if self.names.is_local(node):
            return True
        if node in self.departed_nodes():
            LOG.warning('Skipping %s: it has left the cluster (fenced); '
                        'what it held ended with it', node)
            return False
        try:
            self.peers.call(node, 'answering', timeout=self.probe_timeout)
        except exception.PeerUnavailable as error:
            LOG.warning('Skipping best-effort steps on %s: %s', node, error)
            return False
        return True

    def departed_nodes(self):
        """The peers that have left the cluster; none where that cannot
        be read now (they are then asked, and may not answer).
        """
        try:
            return self.departed()
        except exception.DrbdClvmError as error:
            LOG.warning('Cannot tell which nodes have left the cluster: %s',
                        error)
            return frozenset()

    def on(self, node, step, **kwargs):
        """Run a node-local step (one of :attr:`steps`) on ``node``, here
        or by a peer call. A step that undoes what ``node`` held is
        skipped where ``node`` has left the cluster: its fence ended it.
        Where it has not (yet), such a step fails within the probe timeout
        if ``node`` does not answer: a dead node's RPC server would hold it
        for the whole step timeout.

        :raises PeerUnavailable: ``node`` does not answer, or has left the
            cluster and the step needs it.
        """
        if self.names.is_local(node):
            return self.steps[step](**kwargs)
        if node in self.departed_nodes():
            if step in ENDED_BY_A_FENCE:
                LOG.warning('Skipping %s on %s: it has left the cluster '
                            '(fenced), and what it held ended with it',
                            step, node)
                return None
            raise exception.PeerUnavailable(
                '%s on %s: that node has left the cluster (fenced); attach '
                'through another node' % (step, node))
        if step in ENDED_BY_A_FENCE:
            self._probe(node, step)
        return self.peers.call(node, step, timeout=self.step_timeout,
                               **kwargs)

    def _probe(self, node, step):
        """Raise :class:`~.exception.PeerUnavailable` unless ``node``
        answers within the probe timeout.
        """
        try:
            self.peers.call(node, 'answering', timeout=self.probe_timeout)
        except exception.PeerUnavailable:
            raise exception.PeerUnavailable(
                '%s on %s: the volume service on %s did not answer within '
                '%s s, and %s has not left the cluster as far as this node '
                'can tell yet, so what it holds may still be in use. Retry '
                'once its service answers again or the cluster has seen it '
                'gone (corosync within seconds, sanlock once its lease has '
                'failed: 8 I/O timeouts, 80 s by default). %s' % (
                    step, node, node, self.probe_timeout, node,
                    peer.CHECK_THE_SERVICE))
