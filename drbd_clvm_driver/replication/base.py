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

"""The small interface every replication plugin implements.

A replication plugin knows how the nodes share the volume group's disk and
what makes a metadata write on it reach every node: the safety gate takes
its readings before each change (:meth:`Replication.readings`), refuses the
change for its :meth:`Replication.reasons`, and after the change asks
whether the write reached every node (:meth:`Replication.confirmed`).

Plugins are found through stevedore in the ``drbd_clvm_driver.replication``
namespace; the ``drbd_clvm_replication`` option names one.
"""

import abc

from drbd_clvm_driver import exception
from drbd_clvm_driver import plugins

NAMESPACE = 'drbd_clvm_driver.replication'


class Replication(metaclass=abc.ABCMeta):
    """One way of sharing the VG's disk.

    :param runner: a :class:`~drbd_clvm_driver.commands.CommandRunner`.
    :param target: what is shared, in the plugin's terms (a DRBD
        resource's name, a block device's path).
    :param timeout: seconds each reading may take.
    """

    #: the plugin's name in the stevedore namespace
    name = None
    #: the option that names :attr:`target`, for the operator
    target_option = None
    #: whether the nodes' agreement on the disk rests on corosync, so
    #: that the gate checks its quorum too
    needs_quorum = True

    def __init__(self, runner, target, timeout=10):
        self.runner = runner
        self.target = target
        self.timeout = timeout

    @abc.abstractmethod
    def readings(self, with_generation):
        """The commands whose results :meth:`state_from` reads, taken with
        the rest of the gate's readings; ``with_generation`` adds what
        :meth:`confirmed` compares after the change.
        """

    @abc.abstractmethod
    def state_from(self, results, with_generation):
        """The state (a frozen dataclass with ``describe()``) the results
        of :meth:`readings` give.

        :raises DrbdClvmError: they cannot be read; the gate refuses.
        """

    @abc.abstractmethod
    def state_from_plain(self, plain):
        """The state :func:`dataclasses.asdict` made ``plain`` (how it
        crosses the privileged daemon's socket).
        """

    @abc.abstractmethod
    def reasons(self, state):
        """Every reason ``state`` makes a metadata change unsafe; empty
        when it is safe.
        """

    def degraded(self, state):
        """Why ``state``, though safe to change, has fewer copies or nodes
        than the cluster was built with (for the scheduler and the
        operator), or None when nothing is missing.
        """
        return None

    def peers_fenced(self, state):
        """Whether ``state`` itself proves every peer fenced (True), proves
        it is not (False), or cannot tell (None: ask corosync).
        """
        return None

    def confirm_readings(self):
        """What :meth:`confirmed` reads after a change."""
        return self.readings(with_generation=True)

    @abc.abstractmethod
    def confirmed(self, checked, results):
        """Whether a change made when the check saw ``checked`` reached
        every node, by ``results`` of :meth:`confirm_readings` taken after
        it.

        :returns: None if it did; otherwise how the disk is now, for the
            operator.
        """

    @property
    def label(self):
        """What the operator reads in messages."""
        return '%s %s' % (self.name, self.target)

    def state(self, with_generation=False):
        """:meth:`state_from` over readings taken now."""
        return self.state_from(
            self.runner.read(self.readings(with_generation), self.timeout),
            with_generation)


def _plugin_class(name):
    return plugins.plugin_class(NAMESPACE, name,
                                exception.ReplicationNotFound, 'replication',
                                ('drbd', 'shared_lun'))


def configured_target(conf):
    """The target the ``drbd_clvm_replication`` option's plugin checks,
    read from the option that plugin names (``drbd_clvm_drbd_resource``,
    ``drbd_clvm_shared_lun_device``).

    :raises ReplicationNotFound: no such plugin.
    :raises InvalidInput: its option is not set.
    """
    option = _plugin_class(conf.drbd_clvm_replication).target_option
    target = getattr(conf, option)
    if not target:
        raise exception.InvalidInput(
            'drbd_clvm_replication = %s needs %s: set it in the backend\'s '
            'section' % (conf.drbd_clvm_replication, option))
    return target


def load(name, runner, target, timeout=10):
    """Return the replication plugin registered as ``name``."""
    return _plugin_class(name)(runner, target, timeout=timeout)
