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

"""``python -m bench``: both host benchmarks, printed and saved as JSON.

The full run goes to ``results/bench-<UTC time>.json`` (not committed) and
to ``bench/results/latest.json`` (committed, the figures the README cites).
Missed targets are printed, not raised: the exit status is 0 whenever the
benchmarks ran.
"""

import datetime
import importlib.metadata
import json
import os
import platform
import sys

from bench import invocations
from bench import stats_scale

_BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
_REPO_DIR = os.path.dirname(_BENCH_DIR)


def _machine():
    return {'host': platform.node(), 'platform': platform.platform(),
            'processor': platform.machine(),
            'python': platform.python_version(),
            'cinder': importlib.metadata.version('cinder')}


def _write(path, document):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as output:
        json.dump(document, output, indent=1, sort_keys=True)
        output.write('\n')


def main():
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = invocations.measure()
    print(invocations.format_table(rows))
    print()
    scale = stats_scale.measure()
    print(stats_scale.format_table(scale))
    document = {'date': now.isoformat(timespec='seconds'),
                'machine': _machine(), 'command': 'python -m bench',
                'invocations': rows, 'stats_scale': scale}
    stamp = now.strftime('%Y-%m-%dT%H%M%SZ')
    for path in (os.path.join(_REPO_DIR, 'results', 'bench-%s.json' % stamp),
                 os.path.join(_BENCH_DIR, 'results', 'latest.json')):
        _write(path, document)
        print('written: %s' % os.path.relpath(path, _REPO_DIR))
    return 0


if __name__ == '__main__':
    sys.exit(main())
