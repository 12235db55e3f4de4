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

"""An instance's writes while its volume moves between the nodes, as in a
live migration.

The driver's hand-over: the destination node joins (the volume active
shared on both) before the instance moves, and the source leaves after.
The instance's stand-in is ``fio`` writing 4 KiB blocks, direct and one at
a time, on the node that holds the instance: on node1 while node2 joins,
on node2 while node1 leaves, and on node2 again with nothing else going on
(the emulated guest's own worst write, the baseline). Each figure is the
longest single write of its run. The switch of the instance itself from
one host to the other is the hypervisor's, not measured here.
"""

import json

#: seconds each writer runs; the driver's step starts STEP_AFTER seconds in
FIO_SECONDS = 20
STEP_AFTER = 5
#: the longest write the move may cause, at most
TARGET_MS = 1000.0
FIO_TIMEOUT = 120
#: the figures of a run, in the order it takes them
STEPS = (('node2_joins', 'node2 joins, node1 writing'),
         ('node1_leaves', 'node1 leaves, node2 writing'),
         ('baseline', 'nothing else, node2 writing'))


def writer_argv(path, seconds=FIO_SECONDS):
    """The instance's stand-in: 4 KiB random writes at queue depth 1,
    direct, for ``seconds``; its report as JSON.
    """
    return ['fio', '--name=instance', '--filename=%s' % path, '--direct=1',
            '--ioengine=psync', '--iodepth=1', '--rw=randwrite', '--bs=4k',
            '--size=64m', '--time_based', '--runtime=%d' % seconds,
            '--randrepeat=0', '--output-format=json']


def longest_write_ms(output):
    """The longest write of fio's JSON report ``output``, in ms."""
    writes = json.loads(output)['jobs'][0]['write']
    if not writes['total_ios']:
        raise ValueError('the writer wrote nothing')
    return writes['lat_ns']['max'] / 1e6


def row(longest, step_seconds):
    """The figures (``longest``: ms by step name; ``step_seconds``: how
    long each driver step took), each with what it was, and the verdict:
    the longest write while the volume moved, against :data:`TARGET_MS`.
    """
    pause = max(longest['node2_joins'], longest['node1_leaves'])
    return {'steps': [{'step': name, 'what': what,
                       'longest_write_ms': round(longest[name], 1),
                       'step_seconds': None if name not in step_seconds
                       else round(step_seconds[name], 2)}
                      for name, what in STEPS],
            'pause_ms': round(pause, 1), 'target_ms': TARGET_MS,
            'met': pause < TARGET_MS}


def format_row(result):
    lines = ['Live migration hand-over: the longest 4 KiB direct write '
             'while each step ran (ms)']
    for step in result['steps']:
        lines.append('  %-30s %9.1f%s' % (
            step['what'], step['longest_write_ms'],
            '' if step['step_seconds'] is None
            else '  (the step took %.2f s)' % step['step_seconds']))
    lines.append('longest write while the volume moved: %.1f ms (%s < %.0f '
                 'ms)' % (result['pause_ms'],
                          'met' if result['met'] else 'MISSED',
                          result['target_ms']))
    return '\n'.join(lines)
