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

"""Sorting recorded commands into LVM, cluster-health and data commands,
and counting the calls a privileged daemon would get for them.
"""

from drbd_clvm_driver.privileged import native
from drbd_clvm_driver import runner

LVM = 'lvm'
HEALTH = 'health'
DATA = 'data'
OTHER = 'other'

#: LVM's own tools: each one takes the VG metadata lock (and, in a shared
#: VG, a dlm round trip), which is why they are the cost that is counted
_LVM_TOOLS = frozenset((
    'lvm', 'lvs', 'vgs', 'pvs', 'lvdisplay', 'vgdisplay', 'pvdisplay',
    'lvcreate', 'lvremove', 'lvextend', 'lvreduce', 'lvresize', 'lvchange',
    'lvconvert', 'lvrename', 'vgchange', 'lvmconfig'))
#: what the safety gate and the lock-manager plugins ask
_HEALTH_TOOLS = frozenset((
    'cat', 'corosync-quorumtool', 'lvmlockctl', 'dlm_tool', 'drbdadm',
    'drbdsetup', 'pidof'))
_DATA_TOOLS = frozenset(('dd', 'blkdiscard', 'fallocate'))


def program(argv):
    """The program an argument list runs, past ``env VAR=value`` (Cinder
    prefixes its LVM commands with ``env LC_ALL=C``).
    """
    argv = list(argv)
    if argv and argv[0] == 'env':
        argv = argv[1:]
        while argv and '=' in argv[0]:
            argv = argv[1:]
    return argv[0] if argv else ''


def kind(argv):
    name = program(argv)
    if name in _LVM_TOOLS:
        return LVM
    if name in _HEALTH_TOOLS:
        return HEALTH
    if name in _DATA_TOOLS:
        return DATA
    return OTHER


def summary(commands, calls=None):
    """Counts per kind and the programs in order, for one operation.

    :param calls: the root calls they took (privileged-daemon calls, see
        :class:`CallCounter`); by default one per command, as through a root
        helper such as ``sudo cinder-rootwrap``.
    """
    counts = {LVM: 0, HEALTH: 0, DATA: 0, OTHER: 0}
    for argv in commands:
        counts[kind(argv)] += 1
    return {'counts': counts,
            'programs': [program(argv) for argv in commands],
            'commands': [' '.join(argv) for argv in commands],
            # readings the privileged daemon answers start no program
            'processes': len([argv for argv in commands
                              if not native.answers_itself(list(argv))]),
            'calls': len(commands) if calls is None else calls}


class CallCounter(runner.CommandRunner):
    """Passes commands to another runner, counting the calls our
    privileged daemon would get: one per command run (a metadata change
    with the safety gate's readings around it included), one per batch of
    readings (:meth:`~drbd_clvm_driver.runner.CommandRunner.read`).
    """

    def __init__(self, inner):
        super().__init__(inner.default_timeout, inner.node)
        self.inner = inner
        self.calls = 0
        self._in_one_call = False

    def run(self, argv, *args, **kwargs):
        self._count()
        return super().run(argv, *args, **kwargs)

    def read(self, commands, timeout=None):
        self._count()
        return super().read(commands, timeout)

    def _count(self):
        if not self._in_one_call:
            self.calls += 1

    def _execute_guarded(self, argv, timeout, gate):
        # The daemon takes the gate's readings in the command's own call.
        self._in_one_call = True
        try:
            return super()._execute_guarded(argv, timeout, gate)
        finally:
            self._in_one_call = False

    def _execute(self, argv, timeout):
        return self.inner._execute(argv, timeout)
