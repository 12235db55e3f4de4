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

"""Peer calls: one node's volume service asks another to do a step only
that node can do.

lvmlockd lets a node change only its own activation, and a target lives on
the node that exports it, so when Cinder hands a request to the node that
does not hold the volume, that node asks the one that does.  Every call has a
time bound; a peer that does not answer raises
:class:`~drbd_clvm_driver.exception.PeerUnavailable`, and nothing is changed
on the strength of an answer that never came.

The answering side is an :class:`Endpoint`: named handlers whose errors are
turned into data, so a refusal on the peer arrives as the same exception
class here, with its attributes (a refusal's ``reasons``, a failed
command's ``argv`` and ``stderr``).  Two ways to reach it:

* :class:`MessagingPeers`: oslo.messaging over the volume service's own
  transport, one topic per backend and one server per node, at its
  :func:`~drbd_clvm_driver.nodes.address` (production). The caller's log
  says each call and its seconds, the answering node's log says it answered,
  under the same global request id (the driver's context factory carries
  it), so one request can be followed across both nodes;
* :class:`InProcessPeers`: endpoints in this process, for the scenario tests
  and the cluster gate, which drive both real nodes from one process.  It
  stands in for the message bus only; what runs on each node is the same.
"""

import time

from oslo_log import log as logging
import oslo_messaging

from drbd_clvm_driver import exception
from drbd_clvm_driver import nodes

LOG = logging.getLogger(__name__)

#: RPC interface version of :class:`MessagingEndpoint`
VERSION = '1.0'


class Endpoint:
    """This node's answers to peer calls.

    :param node: this node's name, for messages.
    :param handlers: ``{method name: callable taking keyword arguments}``.
    """

    def __init__(self, node, handlers):
        self.node = node
        self.handlers = dict(handlers)

    def dispatch(self, method, kwargs):
        """``{'result': ...}``, or the error's class name, message and
        :func:`~drbd_clvm_driver.exception.attributes` (``{'error': ...,
        'message': ..., 'attributes': ...}``).
        """
        handler = self.handlers.get(method)
        if handler is None:
            return {'error': 'InvalidInput',
                    'message': 'unknown peer call %r' % method}
        LOG.info('Answering peer call %s(%s) on %s', method, kwargs,
                 self.node)
        try:
            return {'result': handler(**kwargs)}
        except exception.DrbdClvmError as error:
            return {'error': type(error).__name__, 'message': str(error),
                    'attributes': exception.attributes(error)}
        except Exception as error:
            LOG.exception('Peer call %s failed on %s', method, self.node)
            return {'error': 'DrbdClvmError',
                    'message': '%s: %s' % (type(error).__name__, error)}


def _result(node, method, answer):
    if 'error' in answer:
        raise exception.from_peer(answer['error'], '%s (on %s)' % (
            answer['message'], node), answer.get('attributes'))
    return answer.get('result')


#: what a :class:`~drbd_clvm_driver.exception.PeerUnavailable` tells the
#: operator to do
CHECK_THE_SERVICE = ('Check that its cinder-volume runs and reaches the '
                     'message bus; the request can be retried.')


def _unavailable(node, method, timeout, why):
    return exception.PeerUnavailable(
        'The volume service on %s did not answer %s within %s s (%s). %s'
        % (node, method, timeout, why, CHECK_THE_SERVICE))


class InProcessPeers:
    """Peers whose endpoints live in this process.

    :param endpoints: ``{node name: Endpoint}``; a node missing from it is
        down.
    :param down_times_out: whether a call to a node that is down waits its
        whole timeout before it fails, as a call over the message bus to a
        server that died with its host does, rather than failing at once.
    """

    def __init__(self, endpoints, down_times_out=False):
        self.endpoints = endpoints
        self.down_times_out = down_times_out

    def call(self, node, method, timeout=None, **kwargs):
        endpoint = self.endpoints.get(node)
        if endpoint is None:
            if self.down_times_out:
                time.sleep(timeout)
                raise _unavailable(node, method, timeout, 'timed out')
            raise _unavailable(node, method, timeout, 'node is down')
        return _result(node, method, endpoint.dispatch(method, kwargs))


class MessagingEndpoint:
    """The RPC server's endpoint object around an :class:`Endpoint`."""

    target = oslo_messaging.Target(version=VERSION)

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def peer_call(self, context, step, arguments):
        return self.endpoint.dispatch(step, arguments)


def topic(backend_name):
    """One topic per backend: two backends never answer each other."""
    return 'drbd-clvm-peer.%s' % backend_name


class MessagingPeers:
    """Peers reached over oslo.messaging.

    :param client: an RPC client on :func:`topic` (Cinder's transport and
        serializer).
    :param context_factory: makes the request context each call carries.
    :param timeout: default seconds a call may take.
    """

    def __init__(self, client, context_factory, timeout):
        self.client = client
        self.context_factory = context_factory
        self.timeout = timeout

    def call(self, node, method, timeout=None, **kwargs):
        timeout = timeout or self.timeout
        prepared = self.client.prepare(server=nodes.address(node),
                                       timeout=timeout, version=VERSION)
        started = time.monotonic()
        try:
            answer = prepared.call(self.context_factory(), 'peer_call',
                                   step=method, arguments=kwargs)
        except oslo_messaging.MessagingTimeout:
            raise _unavailable(node, method, timeout, 'timed out')
        except oslo_messaging.MessagingException as error:
            raise _unavailable(node, method, timeout, error)
        # With its seconds: the message bus's share of a request.
        LOG.info('Peer call %s to %s answered in %.2f s', method, node,
                 time.monotonic() - started)
        return _result(node, method, answer)
