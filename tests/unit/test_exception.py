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

"""The driver's errors: where they are defined, and how one raised on the
peer node arrives here."""

import ast
import json
import os
from unittest import mock

import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import peer

PACKAGE = os.path.dirname(exception.__file__)
#: DRBD and dlm_controld run it alone, standard library only (its
#: docstring): its one error cannot live in the package's module
STANDALONE = os.path.join('cmd', 'fence.py')


class PeerErrorTest(testtools.TestCase):
    """A refusal on node2 arrives on node1 whole: its class, its message
    and its attributes, in process and over a JSON message bus.
    """

    def _arrivals(self, error):
        def fail():
            raise error
        endpoint = peer.Endpoint('node2', {'use': fail})

        def over_the_wire(context, method, step, arguments):
            answer = peer.MessagingEndpoint(endpoint).peer_call(
                context, step, arguments)
            return json.loads(json.dumps(answer))
        client = mock.Mock()
        client.prepare.return_value.call.side_effect = over_the_wire
        arrivals = [
            self.assertRaises(type(error), transport.call, 'node2', 'use')
            for transport in (peer.InProcessPeers({'node2': endpoint}),
                              peer.MessagingPeers(client, dict, timeout=7))]
        for arrived in arrivals:
            self.assertIs(type(error), type(arrived))
            self.assertEqual('%s (on node2)' % error, str(arrived))
            self.assertEqual(error.retriable, arrived.retriable)
        return arrivals

    def test_unsafe_cluster_keeps_its_reasons(self):
        for arrived in self._arrivals(exception.ClusterUnsafe(
                ['DRBD r0 is StandAlone', 'corosync has no quorum'])):
            self.assertEqual(['DRBD r0 is StandAlone',
                              'corosync has no quorum'], arrived.reasons)

    def test_failed_command_keeps_argv_exit_code_and_output(self):
        for arrived in self._arrivals(exception.CommandFailed(
                ['lvcreate', '-n', 'volume-1', 'vgc'], 5, '',
                '  Volume group "vgc" has insufficient free space\n',
                node='node2')):
            self.assertEqual(['lvcreate', '-n', 'volume-1', 'vgc'],
                             arrived.argv)
            self.assertEqual(5, arrived.exit_code)
            self.assertEqual('', arrived.stdout)
            self.assertEqual('  Volume group "vgc" has insufficient free '
                             'space\n', arrived.stderr)

    def test_timeout_keeps_argv_and_bound(self):
        for arrived in self._arrivals(exception.CommandTimeout(
                ['lvs', 'vgc'], 120, node='node2')):
            self.assertEqual(['lvs', 'vgc'], arrived.argv)
            self.assertEqual(120, arrived.timeout)

    def test_errors_once_defined_elsewhere_keep_their_class(self):
        self._arrivals(exception.DrbdStateError('Cannot read DRBD device '
                                                'line'))
        self._arrivals(exception.CommandRefused('Refused: not a command '
                                                'the driver runs'))

    def test_peer_that_sends_no_attributes(self):
        # A node not yet upgraded answers with class and message only.
        arrived = exception.from_peer('ClusterUnsafe', 'Refusing (on node2)')
        self.assertIsInstance(arrived, exception.ClusterUnsafe)
        self.assertEqual('Refusing (on node2)', str(arrived))


class ErrorHomeTest(testtools.TestCase):

    def test_every_error_class_is_in_the_exception_module(self):
        """Only there can :func:`~drbd_clvm_driver.exception.from_peer`
        find it by name.
        """
        elsewhere = []
        for directory, _, files in os.walk(PACKAGE):
            for name in files:
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, PACKAGE)
                if not name.endswith('.py') or relative in (
                        'exception.py', STANDALONE):
                    continue
                with open(path) as handle:
                    tree = ast.parse(handle.read())
                elsewhere += ['%s: %s' % (relative, node.name)
                              for node in ast.walk(tree)
                              if isinstance(node, ast.ClassDef) and any(
                                  _names_an_error(base)
                                  for base in node.bases)]
        self.assertEqual([], elsewhere)


def _names_an_error(base):
    name = base.attr if isinstance(base, ast.Attribute) else getattr(
        base, 'id', '')
    return name.endswith(('Error', 'Exception')) or (
        isinstance(base, ast.Attribute) and
        getattr(base.value, 'id', None) == 'exception')
