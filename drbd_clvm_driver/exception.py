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

"""Every error the driver's layers raise.

None of these import Cinder: the driver module maps them onto Cinder's
exceptions at the boundary.  Each message says what happened and, where there
is one, what the operator can do about it.

All of them live here, and this module imports nothing of the project: an
error raised on the peer node is rebuilt by its class name
(:func:`from_peer`), and one the privileged daemon raises by its module and
class name (oslo.privsep).
"""


class DrbdClvmError(Exception):
    """Base of every error raised below the Cinder-facing driver."""

    #: whether trying the same operation again later can succeed
    retriable = False


class InvalidInput(DrbdClvmError):
    """A size, name or request that is wrong before any command runs."""


class CommandFailed(DrbdClvmError):
    """An external command exited with a status it was not expected to."""

    def __init__(self, argv, exit_code, stdout, stderr, node=None):
        self.argv = list(argv)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        where = ' on %s' % node if node else ''
        super().__init__('%s failed%s with exit code %s: %s' % (
            ' '.join(self.argv), where, exit_code,
            (stderr or stdout).strip() or '(no output)'))


class CommandTimeout(DrbdClvmError):
    """An external command did not finish within its time bound.

    LVM hangs rather than fails when the cluster stack is gone, so a timeout
    usually means corosync, dlm or the lock manager stopped answering.
    """

    retriable = True

    def __init__(self, argv, timeout, node=None):
        self.argv = list(argv)
        self.timeout = timeout
        where = ' on %s' % node if node else ''
        super().__init__(
            '%s did not finish within %s s%s; it was killed. Check that '
            'corosync, dlm_controld and the LVM lock manager are running.' %
            (' '.join(self.argv), timeout, where))


class CommandRefused(DrbdClvmError):
    """The privileged daemon refused a command: not one the driver runs.

    Raised inside the daemon and carried back to the caller; it takes only
    a message, so that oslo.privsep can rebuild it on the calling side.
    """


class ClusterUnsafe(DrbdClvmError):
    """The safety gate refused a metadata change; nothing was changed."""

    retriable = True

    def __init__(self, reasons):
        self.reasons = list(reasons)
        super().__init__(
            'Refusing to change LVM metadata, the cluster is not safe: %s. '
            'Nothing was changed.' % '; '.join(self.reasons))


class ClusterChangedDuringChange(DrbdClvmError):
    """DRBD did not stay as the safety gate saw it while a metadata command
    ran: the link may have been cut in between, so the change may exist on
    this node only.  Trying again cannot tell; an operator must look.
    """

    def __init__(self, resource, change, before, after):
        super().__init__(
            'DRBD %s changed while %s ran (before: %s; after: %s). The '
            'change may exist only on this node and was not confirmed. '
            'Check the DRBD connection and generation on both nodes '
            '(cat /proc/drbd, drbdadm get-gi %s), resolve any split-brain, '
            'then check whether the change is on both nodes.' % (
                resource, change, before, after, resource))


class DrbdStateError(DrbdClvmError):
    """DRBD's output could not be read; the message quotes it."""


class VolumeGroupNotFound(DrbdClvmError):
    """The configured volume group does not exist on this node."""


class VolumeGroupNotClustered(DrbdClvmError):
    """The volume group is local or of another lock type than configured."""


class LockManagerUnavailable(DrbdClvmError):
    """The cluster LVM lock manager is not running or not serving the VG."""

    retriable = True


class PrivilegedDaemonUnavailable(DrbdClvmError):
    """The driver's privileged daemon could not be started or stopped
    answering; the next command starts it again.
    """

    retriable = True


class LockManagerNotFound(DrbdClvmError):
    """No lock-manager plugin is registered under the configured name."""


class ReplicationNotFound(DrbdClvmError):
    """No replication plugin is registered under the configured name."""


class LogicalVolumeNotFound(DrbdClvmError):
    """The logical volume does not exist in the volume group."""


class LogicalVolumeExists(DrbdClvmError):
    """A logical volume of that name is already in the volume group."""


class InsufficientSpace(DrbdClvmError):
    """The volume group has not enough free space for the request."""


class MetadataAreaFull(DrbdClvmError):
    """The VG's metadata has no room left in its metadata area: LVM
    refused the change and made nothing.
    """


class LockedByOtherNode(DrbdClvmError):
    """The other node holds an LVM lock that this operation needs.

    Typical: the volume is active exclusively (attached) on the other node.
    Retrying after the other node releases it succeeds.
    """

    retriable = True


class SharedLockConflict(LockedByOtherNode):
    """The volume is active in shared mode (attached on one or more nodes)
    and LVM needs an exclusive lock for this command.
    """


class PeerUnavailable(DrbdClvmError):
    """The other node's volume service did not answer a peer call in time.

    The step it was asked for may or may not have run there; nothing on
    this node was changed on the strength of an answer.
    """

    retriable = True


class VolumeBusy(DrbdClvmError):
    """The logical volume is open or active where the operation forbids."""

    retriable = True


def attributes(error):
    """What ``error`` carries besides its message (``reasons``, ``argv``,
    ``exit_code``, ``stderr``...), for :func:`from_peer` on another node.
    """
    return dict(vars(error))


def from_peer(class_name, message, carried=None):
    """The project exception a peer raised, rebuilt from its class name,
    message and :func:`attributes` (``carried``; None from a peer that sent
    none).  Constructors differ, so ``__init__`` is bypassed and the
    attributes are set as they were; an unknown name becomes
    :class:`DrbdClvmError`.
    """
    error_class = globals().get(class_name)
    if not (isinstance(error_class, type) and
            issubclass(error_class, DrbdClvmError)):
        error_class = DrbdClvmError
    error = error_class.__new__(error_class)
    Exception.__init__(error, message)
    vars(error).update(carried or {})
    return error
