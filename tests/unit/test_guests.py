"""The gate's agent client: a guest that goes away mid-answer is a
GuestError the gate's waits handle, whatever the socket says.
"""

import socket
from unittest import mock

import testtools

from tests.cluster import guests


class AgentClientTest(testtools.TestCase):

    def _client(self, *chunks):
        client = guests.AgentClient('/nonexistent/node1.agent')
        client._socket = mock.Mock(spec=socket.socket)
        client._socket.recv.side_effect = chunks
        return client

    def test_answer_read_across_chunks(self):
        client = self._client(b'{"id": 1, "exit_', b'code": 0}\n')
        self.assertEqual({'id': 1, 'exit_code': 0},
                         client.call(['true'], 5))

    def test_reset_while_answering_is_a_hang_up(self):
        # node1 fenced (qemu reset) during a call, as a scenario's cleanup
        # saw it on the real cluster
        client = self._client(ConnectionResetError(104, 'Connection reset '
                                                        'by peer'))
        error = self.assertRaises(guests.GuestError, client.call,
                                  ['cat', '/proc/sys/kernel/random/boot_id'],
                                  5)
        self.assertIn('hung up: [Errno 104] Connection reset by peer',
                      str(error))
        self.assertIsNone(client._socket)  # the next call reconnects

    def test_closed_is_a_hang_up(self):
        error = self.assertRaises(guests.GuestError,
                                  self._client(b'').call, ['true'], 5)
        self.assertIn('hung up', str(error))
