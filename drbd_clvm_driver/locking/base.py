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

"""The small interface every cluster LVM lock-manager plugin implements.

Plugins are found through stevedore in the ``drbd_clvm_driver.lock_managers``
namespace; the ``drbd_clvm_lock_manager`` option names one.
"""

import abc

from drbd_clvm_driver import exception
from drbd_clvm_driver import plugins

NAMESPACE = 'drbd_clvm_driver.lock_managers'


class LockManager(metaclass=abc.ABCMeta):
    """Knows one cluster lock manager: how to check it and what a VG needs.

    :param runner: a :class:`~drbd_clvm_driver.commands.CommandRunner`.
    :param vg_name: the clustered volume group the driver serves.
    :param timeout: seconds each health command may take.
    """

    #: the plugin's name in the stevedore namespace
    name = None
    #: whether it rests on corosync, so that the gate checks its quorum
    needs_quorum = True
    #: whether LVM also takes its local VG file lock (``locking_dir``) for
    #: every change; the privileged daemon holds a change back on it while
    #: the safety gate checks (:mod:`drbd_clvm_driver.privileged.held`)
    lvm_file_locks = True
    #: whether the privileged daemon may type LVM changes into its
    #: long-lived LVM shell (:mod:`drbd_clvm_driver.privileged.lvm_shell`)
    lvm_shell = True

    def __init__(self, runner, vg_name, timeout=10):
        self.runner = runner
        self.vg_name = vg_name
        self.timeout = timeout

    @abc.abstractmethod
    def check_volume_group(self, vg):
        """Raise unless ``vg`` (a :class:`~.lvm.VolumeGroup`) is of this kind.

        :raises VolumeGroupNotClustered: with the command that fixes it.
        """

    @abc.abstractmethod
    def health_readings(self):
        """The commands whose results :meth:`health_from` reads.

        Taken before every metadata change, together with the rest of the
        safety gate's readings, so they stay few and cheap: readings the
        privileged daemon answers without a process
        (:mod:`drbd_clvm_driver.privileged.native`) where possible.
        """

    @abc.abstractmethod
    def health_from(self, results):
        """Return a list of reasons the lock manager cannot serve the VG.

        An empty list means it is running and the VG's lockspace is usable.

        :param results: a :class:`~drbd_clvm_driver.commands.Readings` holding
            the results of :meth:`health_readings`.
        """

    def departed(self, names):
        """The peers of ``names`` (a :class:`~drbd_clvm_driver.nodes.
        NodeNames`) this lock manager itself knows to have left, as a
        frozenset; None where it cannot tell, so that corosync's membership
        decides (:meth:`~drbd_clvm_driver.cluster.SafetyGate.departed`).
        """
        return None

    def health(self):
        """:meth:`health_from` over readings taken now."""
        return self.health_from(self.runner.read(self.health_readings(),
                                                 self.timeout))

    def check_setup(self, vg):
        """Raise unless the daemon is running and ``vg`` is of its kind."""
        self.check_volume_group(vg)
        reasons = self.health()
        if reasons:
            raise exception.LockManagerUnavailable('; '.join(reasons))

    def _output(self, argv):
        """stdout+stderr and exit code of a command; never raises for a
        non-zero exit, since that is what the check looks at.
        """
        result = self.runner.run(argv, timeout=self.timeout, check=False)
        return result.exit_code, result.stdout + result.stderr

    @staticmethod
    def _running(results, daemon):
        """Whether ``pidof DAEMON`` among ``results`` found it."""
        return results.output(('pidof', daemon), check=False).exit_code == 0


def plugin_class(name):
    """The lock-manager plugin class registered as ``name``."""
    return plugins.plugin_class(
        NAMESPACE, name, exception.LockManagerNotFound, 'lock manager',
        ('lvmlockd', 'sanlock', 'clvmd'))


def load(name, runner, vg_name, timeout=10):
    """Return the lock-manager plugin registered as ``name``.
    """
    return plugin_class(name)(runner, vg_name, timeout=timeout)
