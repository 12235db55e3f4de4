#!/usr/bin/python3
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

"""Guest agent: runs the host's commands inside a cluster node.

Reads one JSON request per line from a virtio-serial port, ``{"id": any,
"argv": [...], "timeout": seconds}``, runs it without a shell and answers one
JSON line ``{"id": ..., "exit_code": N or null, "stdout": ..., "stderr":
...}``; ``exit_code`` is null when the command ran out of time and was
killed with its whole process group (answered after :data:`KILL_WAIT` even
if it has not ended: a process waiting on frozen I/O cannot be killed).
Standard library only: the guest has no pip.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

PORT_NAME = 'agent'
#: seconds a killed command has to end before it is answered for unended
KILL_WAIT = 5
#: seconds between looks at a port the host has not connected to, first
#: and at most: such a port reads end-of-file at once, so the agent can only
#: look again later, and every look wakes the emulated guest (two idle
#: agents looking twice a second cost each guest ~1 % of a core)
LOOK_AGAIN = (0.5, 4)


def find_port(name=PORT_NAME):
    """The /dev path of the virtio-serial port called ``name``."""
    base = '/sys/class/virtio-ports'
    for port in sorted(os.listdir(base)):
        with open(os.path.join(base, port, 'name')) as handle:
            if handle.read().strip() == name:
                return '/dev/' + port
    raise SystemExit('no virtio-serial port named %s' % name)


def run(request):
    """Run one request; never raises for the command's own failures."""
    try:
        process = subprocess.Popen(
            request['argv'], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
    except OSError as error:
        return {'exit_code': 127, 'stdout': '', 'stderr': str(error)}
    try:
        stdout, stderr = process.communicate(timeout=request['timeout'])
        exit_code = process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            # Killed but stuck in the kernel (I/O that DRBD froze) or its
            # output held by a process of its own: it ends when that does.
            # Answer now, as the driver's own runner does, so that the
            # next request (the operator's way out) gets through.
            threading.Thread(target=process.communicate, daemon=True).start()
            stdout, stderr = b'', b''
        exit_code = None
    return {'exit_code': exit_code,
            'stdout': stdout.decode('utf-8', 'replace'),
            'stderr': stderr.decode('utf-8', 'replace')}


def serve(reader, writer):
    """Answer requests until the reader closes; whether any came."""
    served = False
    for line in reader:
        if not line.strip():
            continue
        served = True
        try:
            request = json.loads(line)
            answer = run(request)
            # The host matches answers to requests: one sent before the
            # agent started may be answered late.
            answer['id'] = request.get('id')
        except (ValueError, KeyError, TypeError) as error:
            answer = {'exit_code': 126, 'stdout': '', 'id': None,
                      'stderr': 'bad request: %s' % error}
        # A port takes part of a long answer at a time.
        pending = memoryview((json.dumps(answer) + '\n').encode())
        while pending:
            pending = pending[writer.write(pending):]
        writer.flush()
    return served


def next_look(pause, served):
    """Seconds until the next look at the port: the first pause again after
    a connection that brought requests, else twice the last, up to the
    longest.
    """
    first, longest = LOOK_AGAIN
    return first if served else min(pause * 2, longest)


def main():
    path = find_port(sys.argv[1] if len(sys.argv) > 1 else PORT_NAME)
    pause = LOOK_AGAIN[0]
    while True:
        # The port reads end-of-file while the host is not connected;
        # reopen and wait for the next connection.
        # A virtio port opens once: one unbuffered handle both ways.
        with open(path, 'r+b', buffering=0) as port:
            pause = next_look(pause, serve(port, port))
        time.sleep(pause)


if __name__ == '__main__':
    main()
