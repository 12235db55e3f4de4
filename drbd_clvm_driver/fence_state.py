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

"""What ``drbd-clvm-fence`` leaves for the safety gate while a fence fails.

While the fence device refuses or does not answer, DRBD keeps I/O frozen
and the fence program tries again and again; the file below says which
node it cannot fence, since when and why, so that the gate's refusal names
the failed fence and the operator's way out instead of a bare "peer
unknown". Standard library only: the fence program imports it on the nodes.
"""

import dataclasses
import json
import os
import time

#: where the fence program keeps its state (tmpfs: a reboot clears it)
STATE_DIR = '/run/drbd-clvm/fence'
#: there while a fence fails; removed once a fence succeeds or an operator
#: has confirmed the node is off
FAILING_NAME = 'failing'
FAILING_FILE = os.path.join(STATE_DIR, FAILING_NAME)


@dataclasses.dataclass(frozen=True)
class FenceFailure:
    """A fence that has not succeeded yet.

    :param node: the node that could not be fenced.
    :param since: when the first try of this failure failed (epoch s).
    :param error: what the last try said.
    :param retry_seconds: how often the fence program tries again.
    :param tried: when the last try failed (epoch s).
    """

    node: str
    since: float
    error: str
    retry_seconds: int
    tried: float = 0.0

    def to_text(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True) + '\n'

    @classmethod
    def from_text(cls, text):
        """:raises ValueError: not what :meth:`to_text` writes."""
        try:
            return cls(**json.loads(text))
        except (TypeError, AttributeError) as error:
            raise ValueError('not a fence failure record: %s' % error)

    def describe(self):
        """The refusal's words: what failed and the way out."""
        return (
            'the fence of %(node)s has failed since %(since)s UTC (%(error)s);'
            ' nothing is written until a fence succeeds. Repair the fence '
            'device (drbd-clvm-fence tries again every %(retry)d s), or, '
            'once you have made sure %(node)s is powered off, run '
            '"drbd-clvm-fence confirm %(node)s" on this node' % dict(
                node=self.node, error=self.error.rstrip('.'),
                retry=self.retry_seconds,
                since=time.strftime('%Y-%m-%d %H:%M:%S',
                                    time.gmtime(self.since))))
