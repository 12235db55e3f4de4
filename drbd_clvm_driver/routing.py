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
    """

    def __init__(self, names, ops, peers, step_timeout=180,
                 operation_timeout=3780, probe_timeout=15):
        self.names = names
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
        """Run ``operation`` here, or where the volume is held.

        Peers are asked in turn; one whose service does not answer the
        probe is passed over, so a node that is down does not stop the
        others from serving.

        :raises VolumeBusy: every node was refused: the volume is in use on
            more than one node (live migration, multiattach).
        :raises PeerUnavailable: no node that answered could run it, and at
            least one did not answer: the holder may be among them.
        """
        try:
            return self._run_here(operation, kwargs)
        except exception.LockedByOtherNode as refusal:
            held_here = refusal
        silent = []
        for node in self.names.peers:
            if not self.answers(node):
                silent.append(node)
                continue
            LOG.info('%s: the volume is held by another node (%s); asking '
                     '%s to run it', operation, held_here, node)
            try:
                return self.peers.call(node, 'run',
                                       timeout=self.operation_timeout,
                                       operation=operation, kwargs=kwargs)
            except exception.LockedByOtherNode:
                continue
        if silent:
            raise exception.PeerUnavailable(
                '%s: the volume is held by another node and no node that '
                'answered could run it; the volume service on %s did not '
                'answer, and it may be the one holding the volume. %s '
                '(LVM: %s)' % (operation, ', '.join(silent),
                               peer.CHECK_THE_SERVICE, held_here))
        raise exception.VolumeBusy(
            '%s refused on every node: the volume is in use on more than '
            'one node (live migration or multiattach in progress, or a '
            'snapshot keeps it exclusive). Retry when it is attached on one '
            'node only. (LVM: %s)' % (operation, held_here))

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
        silent = [node for node in self.names.peers
                  if not self.answers(node)]
        for node in self.names.all:
            if node not in silent:
                self.on(node, 'refresh', name=name)
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
        rather than held for the whole step timeout.
        """
        if self.names.is_local(node):
            return True
        try:
            self.peers.call(node, 'answering', timeout=self.probe_timeout)
        except exception.PeerUnavailable as error:
            LOG.warning('Skipping best-effort steps on %s: %s', node, error)
            return False
        return True

    def on(self, node, step, **kwargs):
        """Run a node-local step (one of :attr:`steps`) on ``node``, here
        or by a peer call.
        """
        if self.names.is_local(node):
            return self.steps[step](**kwargs)
        return self.peers.call(node, step, timeout=self.step_timeout,
                               **kwargs)
