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

"""The gate's fence device: the host powers guests off and on when asked.

Each guest has a virtio-serial port named ``fence``; the guest's fence
agent (``tools/cluster/lab-fence-agent``, run by ``drbd-clvm-fence`` for DRBD
and dlm_controld) writes one JSON request line, ``{"action": "reboot",
"plug": "node2"}``, and reads one answer line, ``{"ok": true}``. This is the
part an IPMI controller or a PDU plays in production: it acts on the
machine's power, outside the guests' network.

Every action is kept in :attr:`FenceDevice.events` for the fault campaign.
The campaign can also make a guest's hardware die for good (a fence powers
it off and it stays off until :meth:`FenceDevice.repair`) or make the
device refuse to fence it (:attr:`FenceDevice.refusing`).
"""

import json
import socket
import threading
import time


class FenceDevice:
    """Serves both guests' fence ports until :meth:`stop`.

    :param guests: the :class:`~tests.cluster.guests.Guest` objects.
    :param cluster: the :class:`~tests.cluster.guests.RealCluster`, whose
        agent connections are dropped when their guest loses power.
    """

    def __init__(self, guests, cluster, log=print):
        self.guests = {guest.name: guest for guest in guests}
        self.cluster = cluster
        self.log = log
        self.events = []
        #: guests whose hardware has died: fenced off, never back on
        self.dead = set()
        #: guests the device refuses to fence (its controller is gone)
        self.refusing = set()
        self._power = threading.Lock()
        self._stopping = threading.Event()
        self._threads = []

    def start(self):
        for guest in self.guests.values():
            thread = threading.Thread(target=self._serve, args=(guest,),
                                      name='fence-%s' % guest.name,
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)

    def power(self, requester, action, plug, asked_at=None):
        """Carry out ``action`` on guest ``plug``; the answer dict.

        A request from a guest that lost power after asking is dropped:
        when both nodes ask to fence each other, the first one served wins
        and the loser's request dies with it.
        """
        guest = self.guests.get(plug)
        if guest is None:
            return {'ok': False, 'error': 'no guest called %s' % plug}
        asked_at = time.monotonic() if asked_at is None else asked_at
        with self._power:
            source = self.guests.get(requester)
            if source is not None and (not source.running or
                                       source.powered_on_at > asked_at):
                self.log('[fence] dropped %s\'s request to %s %s: it lost '
                         'power meanwhile' % (requester, action, plug))
                return {'ok': False, 'error': 'requester lost power'}
            started = time.time()
            if plug in self.refusing and action != 'status':
                self.events.append({'time': started, 'requester': requester,
                                    'action': 'refused ' + action,
                                    'plug': plug})
                self.log('[fence] %s asked to %s %s: refused (the device '
                         'does not answer for it)' % (requester, action,
                                                      plug))
                return {'ok': False, 'error': 'fence device refused'}
            if action in ('reboot', 'off'):
                guest.power_off()
                self._forget(plug)
            if action == 'on' or (action == 'reboot' and
                                  plug not in self.dead):
                guest.power_on()
            self.events.append({'time': started, 'requester': requester,
                                'action': action, 'plug': plug})
            if action != 'status':
                self.log('[fence] %s asked to %s %s: done' % (
                    requester, action, plug))
            return {'ok': True, 'power': 'on' if guest.running else 'off'}

    def kill(self, plug, for_good=False):
        """The fault, not a fence: the guest's qemu dies and stays off
        until someone fences it (which powers it on again) - or, when its
        hardware died ``for_good``, until it is :meth:`repair`-ed.
        """
        if for_good:
            self.dead.add(plug)
        with self._power:
            self.guests[plug].power_off()
            self._forget(plug)
            self.events.append({'time': time.time(), 'requester': 'fault',
                                'action': 'kill', 'plug': plug})
        self.log('[fence] %s killed (fault)' % plug)

    def repair(self, plug):
        """The dead guest's hardware is fixed: it is powered on and fences
        of it work again.
        """
        self.dead.discard(plug)
        self.refusing.discard(plug)
        self.power('operator', 'on', plug)

    def replace(self, plug):
        """The dead guest is replaced by a new machine of the same name
        and configuration whose DRBD disk is blank; it is powered on.
        """
        self.guests[plug].replace_disk()
        self.log('[fence] %s replaced: its DRBD disk is blank' % plug)
        self.repair(plug)

    def console_logs(self):
        return [guest.console_log for guest in self.guests.values()]

    def _forget(self, plug):
        for node in self.cluster.nodes:
            if node.name == plug:
                node.close_agents()

    def _serve(self, guest):
        """Read requests from ``guest`` while it runs; reconnect after its
        power cycles (each boot makes a new port).
        """
        while not self._stopping.is_set():
            if not guest.running:
                time.sleep(0.5)
                continue
            try:
                with socket.socket(socket.AF_UNIX) as connection:
                    connection.connect(guest.fence_path)
                    connection.settimeout(1)
                    self._answer(guest, connection)
            except OSError:
                time.sleep(0.5)

    def _answer(self, guest, connection):
        buffer = b''
        while not self._stopping.is_set():
            try:
                chunk = connection.recv(4096)
            except socket.timeout:
                if not guest.running:
                    return
                continue
            if not chunk:
                return
            buffer += chunk
            while b'\n' in buffer:
                line, buffer = buffer.split(b'\n', 1)
                try:
                    request = json.loads(line)
                    answer = self.power(guest.name, request['action'],
                                        request['plug'], time.monotonic())
                except (ValueError, KeyError, TypeError) as error:
                    answer = {'ok': False, 'error': 'bad request: %s' % error}
                if not guest.running:
                    # It fenced itself (or was fenced meanwhile): nobody
                    # is left to read the answer.
                    return
                connection.sendall((json.dumps(answer) + '\n').encode())
