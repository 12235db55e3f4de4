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

"""The safety gate inside the privileged daemon.

Through the daemon a metadata change is one call
(:func:`~drbd_clvm_driver.privileged.root.lvm_guarded`): the daemon builds
the gate the volume service describes, from the same code
(:func:`~drbd_clvm_driver.cluster.build_gate`), over a runner that takes the
gate's readings here, and runs the command only when that gate's check
passes. The readings are checked against the daemon's shapes like every
other request.
"""

import threading

from drbd_clvm_driver import cluster
from drbd_clvm_driver import commands
from drbd_clvm_driver import exception
from drbd_clvm_driver.privileged import checks
from drbd_clvm_driver.privileged import programs

_GATES = {}
_GATES_LOCK = threading.Lock()


class DaemonRunner(commands.CommandRunner):
    """The gate's readings, taken in the daemon (cluster-state shapes
    only).
    """

    def _execute(self, argv, timeout):
        return self._execute_all([argv], timeout)[0]

    def _execute_all(self, commands, timeout):
        return programs.take_readings(
            [checks.check('cluster_state', list(argv)) for argv in commands],
            timeout)


def gate(spec):
    """The :class:`~drbd_clvm_driver.cluster.SafetyGate` ``spec`` describes
    (:meth:`~drbd_clvm_driver.cluster.SafetyGate.spec`), built once per
    description: it keeps what it learnt of DRBD (version, minor).

    :raises CommandRefused: the description is not one of a gate.
    """
    spec = checks.check_gate_spec(spec)
    key = tuple(sorted(spec.items()))
    with _GATES_LOCK:
        if key not in _GATES:
            try:
                _GATES[key] = cluster.build_gate(DaemonRunner(), **spec)
            except (exception.LockManagerNotFound,
                    exception.ReplicationNotFound) as error:
                raise exception.CommandRefused(str(error))
        return _GATES[key]
