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

"""Real command outputs recorded on the two-node lab cluster, for tests.

Each file under fixtures/recorded starts with ``# command:``, ``# node:``
and ``# exit code:`` lines, then what the command printed (stdout and stderr
together).  :class:`ReplayRunner` serves them to the driver's layers in
place of the real commands.
"""

import dataclasses
import os
import shlex

from drbd_clvm_driver import runner

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'recorded')


@dataclasses.dataclass(frozen=True)
class Recording:
    command: str
    node: str
    exit_code: int
    output: str

    @property
    def argv(self):
        return tuple(shlex.split(self.command))


def load(filename):
    with open(os.path.join(FIXTURES, filename)) as handle:
        lines = handle.read().split('\n')
    header = {}
    while lines and lines[0].startswith('# '):
        key, _, value = lines.pop(0)[2:].partition(': ')
        header[key] = value
    exit_text = header['exit code']
    return Recording(header['command'], header['node'],
                     int(exit_text) if exit_text.isdigit() else None,
                     '\n'.join(lines))


class ReplayRunner(runner.CommandRunner):
    """Answers each command with a recording, or fails the test.

    :param recordings: the :class:`Recording` objects to serve, by argv.
    """

    def __init__(self, *recordings, node='node1'):
        super().__init__(default_timeout=5, node=node)
        self.recordings = {recording.argv: recording
                           for recording in recordings}
        self.calls = []

    def serve(self, argv, recording):
        """Answer ``argv`` with a recording of an equivalent command (the
        lab typed ``-L 100G`` where the driver writes ``-L 102400m``).
        """
        self.recordings[tuple(argv)] = recording

    def _execute(self, argv, timeout):
        self.calls.append(argv)
        if argv not in self.recordings:
            raise AssertionError('No recording for %s; have %s' % (
                ' '.join(argv), sorted(self.recordings)))
        recording = self.recordings[argv]
        # The recordings hold stdout and stderr together; error lines of
        # LVM are what the driver reads from stderr.
        if recording.exit_code == 0:
            return 0, recording.output, ''
        return recording.exit_code, '', recording.output
