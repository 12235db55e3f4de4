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

"""The gate's storage-network hub repeats each frame to every other guest."""

import socket

import testtools

from tests.cluster import hub


class UdpHubTest(testtools.TestCase):

    def _guest(self):
        guest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        guest.bind(('127.0.0.1', 0))
        guest.settimeout(5)
        self.addCleanup(guest.close)
        return guest

    def test_frame_reaches_every_other_guest_only(self):
        guests = [self._guest() for _ in range(3)]
        ports = [guest.getsockname()[1] for guest in guests]
        repeater = hub.UdpHub(ports)
        repeater.start()
        self.addCleanup(repeater.stop)

        guests[0].sendto(b'frame-from-0', ('127.0.0.1', repeater.port))

        for guest in guests[1:]:
            self.assertEqual(b'frame-from-0', guest.recv(2048))
        guests[0].settimeout(0.5)
        self.assertRaises(socket.timeout, guests[0].recv, 2048)

    def test_netdev_names_the_hub_and_the_guest_port(self):
        repeater = hub.UdpHub([40001])
        self.addCleanup(repeater.stop)
        self.assertEqual(
            'socket,udp=127.0.0.1:%d,localaddr=127.0.0.1:40001'
            % repeater.port, repeater.netdev(40001))
