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

"""How metadata-change throughput grows past the nodes the lab has.

Every node that changes the VG's metadata takes the VG's lock exclusively
for part of each change (LVM writes the metadata under it) and spends the
rest outside it (starting LVM, scanning, the driver's checks). That is a
closed queueing network: ``nodes`` clients, each thinking for ``Z`` seconds
outside the lock, then queueing for one server (the lock) that holds each
change ``D`` seconds. Exact mean value analysis gives its throughput for
any number of nodes; ``D`` and ``Z`` are fitted to the creates per second
the shared-LUN lab measured from one, two and three nodes
(``results/shared-lun-*-latest.json``, written by ``tools/cluster/gate
--shared-lun``). With ``D`` the lock's service time, no number of nodes
gets more than ``1 / D`` changes a second through one VG. Three measured
points fit two times: the model says where the curve bends, not more; and
the lab's three guests share the host's two cores, which flattens the
measured curve too.

The lease I/O sanlock adds on the shared disk grows with the hosts:
each renews its own lease whatever the others do, so the idle I/O the lab
measured per host is multiplied out.

``python -m bench.scale_model [RESULT.json ...]`` prints both.
"""

import json
import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'results')
#: the node counts the model is asked for
NODES = (1, 2, 3, 8, 16)


def throughput(nodes, demand, think):
    """Changes per second from ``nodes`` nodes at once (exact MVA of one
    queue with service time ``demand`` and think time ``think``).
    """
    queue = 0.0
    rate = 0.0
    for count in range(1, nodes + 1):
        response = demand * (1 + queue)
        rate = count / (response + think)
        queue = rate * response
    return rate


def fit(measured):
    """``(demand, think)`` in seconds that best explain ``measured``
    (``{nodes: changes per second}``): least relative squared error over
    a grid of 5 ms (lock) and 10 ms (outside) steps, up to twice the one
    node's time per change.
    """
    longest = 2 / min(measured.values())
    best = None
    for demand_step in range(1, int(longest * 200)):
        demand = demand_step / 200
        for think_step in range(0, int((longest - demand) * 100)):
            think = think_step / 100
            error = sum(
                ((throughput(nodes, demand, think) - rate) / rate) ** 2
                for nodes, rate in measured.items())
            if best is None or error < best[0]:
                best = (error, demand, think)
    return best[1], best[2]


def model(result):
    """Measured and modelled creates per second for :data:`NODES`, the
    fitted times, and the shared disk's idle I/O multiplied out.
    """
    measured = {int(nodes): rate for nodes, rate in
                result['creates_per_second'].items()}
    demand, think = fit(measured)
    rows = [{'nodes': nodes, 'measured': measured.get(nodes),
             'model': round(throughput(nodes, demand, think), 2)}
            for nodes in NODES]
    idle = result.get('idle_io_per_second')
    if idle:
        per_host = [sum(column) / len(idle['per_node'])
                    for column in zip(*idle['per_node'])]
        for row in rows:
            row['idle_io_all_hosts'] = [round(value * row['nodes'], 1)
                                        for value in per_host]
    return {'lock_manager': result['lock_manager'],
            'lock_held_s': demand, 'outside_lock_s': round(think, 3),
            'ceiling_per_s': round(1 / demand, 2), 'rows': rows,
            'io_columns': idle['columns'] if idle else None}


def format_model(modelled):
    lines = ['%s: the VG lock held %.3f s a change, %.3f s outside it; at '
             'most %.2f changes a second through one VG' % (
                 modelled['lock_manager'], modelled['lock_held_s'],
                 modelled['outside_lock_s'], modelled['ceiling_per_s'])]
    for row in modelled['rows']:
        line = '  %2d nodes: %s measured, %.2f modelled' % (
            row['nodes'], '%.2f' % row['measured']
            if row['measured'] is not None else '  - ', row['model'])
        if 'idle_io_all_hosts' in row:
            line += '; idle I/O on the disk, all hosts: %s (%s a second)' % (
                row['idle_io_all_hosts'], ', '.join(modelled['io_columns']))
        lines.append(line)
    return '\n'.join(lines)


def main(argv=None):
    paths = (argv if argv is not None else sys.argv[1:]) or [
        os.path.join(RESULTS, 'shared-lun-%s-latest.json' % lock_manager)
        for lock_manager in ('lvmlockd', 'sanlock')]
    for path in paths:
        with open(path) as handle:
            print(format_model(model(json.load(handle))))


if __name__ == '__main__':
    main()
