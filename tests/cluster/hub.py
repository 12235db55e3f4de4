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

"""A network segment for more than two guests, carried over host loopback.

Each guest's NIC is a qemu ``socket,udp=`` netdev: it sends its Ethernet
frames as UDP datagrams to the hub's port and receives on a port of its own.
The hub repeats every frame to every other guest, like an Ethernet hub; no
frame leaves host loopback. (A point-to-point wire between two guests needs
no hub: each sends straight to the other.)
"""

import socket
import threading


class UdpHub:
    """Repeats frames between guests until :meth:`stop`.

    :param guest_ports: the loopback UDP port each guest receives on.
    """

    def __init__(self, guest_ports):
        self.guest_ports = tuple(guest_ports)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(('127.0.0.1', 0))
        self._socket.settimeout(0.5)
        self.port = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._repeat, name='hub',
                                        daemon=True)

    def netdev(self, guest_port):
        """The qemu ``-netdev`` options of the guest receiving on
        ``guest_port`` (without ``id=``).
        """
        return 'socket,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d' % (
            self.port, guest_port)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(5)
        self._socket.close()

    def _repeat(self):
        while not self._stopping.is_set():
            try:
                frame, (_, source) = self._socket.recvfrom(65536)
            except socket.timeout:
                continue
            for port in self.guest_ports:
                if port != source:
                    try:
                        self._socket.sendto(frame, ('127.0.0.1', port))
                    except OSError:
                        pass  # a guest powered off: its frames are lost
