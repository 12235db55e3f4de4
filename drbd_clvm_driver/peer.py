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

A call on the bus is delivered at most once: one that the answering
service took and then died or restarted with is never answered.  So a
long call is watched: every :data:`WATCH_INTERVAL` seconds the caller asks
the peer what it knows of it (the endpoint knows its calls by the request
id their context carries). Once the peer does not know it twice in a row,
the caller gives the call up there - the peer then refuses it, should it
still arrive (a message the dead service held is handed on again) - and
fails the request instead of waiting out the call's whole timeout (an
hour, for a copy).  A peer that does not answer at all is waited for: the
call may still be queued for it, and would run once it is back.
"""

import collections
import threading
import time

from oslo_log import log as logging
import oslo_messaging

from drbd_clvm_driver import exception
from drbd_clvm_driver import nodes

LOG = logging.getLogger(__name__)

#: RPC interface version of :class:`MessagingEndpoint`
VERSION = '1.0'
#: the step every endpoint answers itself: what it knows of a call
CALL_STATE = 'call_state'
#: what :data:`CALL_STATE` answers; :data:`GIVEN_UP` where the caller
#: gave up a call the endpoint did not know
RUNNING, FINISHED, UNKNOWN, GIVEN_UP = (
    'running', 'finished', 'unknown', 'given up')
#: what a caller reads of a call whose node has left the cluster
DEPARTED = 'departed'
#: seconds between a long call's checks that its peer still works on it
WATCH_INTERVAL = 30
#: checks in a row that must not know a call before the caller gives it up
#: (the first may cross the call on its way to a busy endpoint)
LOST_AFTER_UNKNOWN = 2
#: finished calls an endpoint remembers, so a check that crosses its
#: call's answer on the bus is not taken for a lost call
REMEMBERED_CALLS = 1024


class Endpoint:
    """This node's answers to peer calls.

    :param node: this node's name, for messages.
    :param handlers: ``{method name: callable taking keyword arguments}``.
    """

    def __init__(self, node, handlers):
        self.node = node
        self.handlers = dict(handlers)
        self._lock = threading.Lock()
        self._running = collections.Counter()
        self._finished = collections.deque(maxlen=REMEMBERED_CALLS)
        self._given_up = collections.deque(maxlen=REMEMBERED_CALLS)

    def call_state(self, call_id, give_up=False):
        """:data:`RUNNING`, :data:`FINISHED` (recently) or :data:`UNKNOWN`:
        a call this process never took (a restarted service's) is unknown.
        With ``give_up``, an unknown call is given up (:data:`GIVEN_UP`):
        it is refused if it arrives later.
        """
        with self._lock:
            if self._running[call_id]:
                return RUNNING
            if call_id in self._finished:
                return FINISHED
            if give_up:
                self._given_up.append(call_id)
                return GIVEN_UP
            return UNKNOWN

    def dispatch(self, method, kwargs, call_id=None):
        """``{'result': ...}``, or the error's class name, message and
        :func:`~drbd_clvm_driver.exception.attributes` (``{'error': ...,
        'message': ..., 'attributes': ...}``).

        :param call_id: the call's id, for :meth:`call_state`.
        """
        if method == CALL_STATE:
            return {'result': self.call_state(**kwargs)}
        if call_id is None:
            return self._dispatch(method, kwargs)
        with self._lock:
            if call_id in self._given_up:
                LOG.warning('Refusing peer call %s on %s: its caller gave it '
                            'up', method, self.node)
                return {'error': 'PeerUnavailable',
                        'message': 'the caller gave up %s' % method}
            self._running[call_id] += 1
        try:
            return self._dispatch(method, kwargs)
        finally:
            with self._lock:
                self._running[call_id] -= 1
                if not self._running[call_id]:
                    del self._running[call_id]
                self._finished.append(call_id)

    def _dispatch(self, method, kwargs):
        handler = self.handlers.get(method)
        if handler is None:
            return {'error': 'InvalidInput',
                    'message': 'unknown peer call %r' % method}
        LOG.info('Answering peer call %s(%s) on %s', method, kwargs,
                 self.node)
        started = time.monotonic()
        try:
            answer = {'result': handler(**kwargs)}
        except exception.DrbdClvmError as error:
            answer = {'error': type(error).__name__, 'message': str(error),
                      'attributes': exception.attributes(error)}
        except Exception as error:
            LOG.exception('Peer call %s failed on %s', method, self.node)
            answer = {'error': 'DrbdClvmError',
                      'message': '%s: %s' % (type(error).__name__, error)}
        # The answering side's seconds: with the caller's, where a call's
        # time went (the handler or the bus).
        LOG.info('Answered peer call %s on %s in %.2f s%s', method,
                 self.node, time.monotonic() - started,
                 ' (%s)' % answer['error'] if 'error' in answer else '')
        return answer


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
        return self.endpoint.dispatch(step, arguments,
                                      call_id=request_id(context))


def request_id(context):
    """The request id a call's context carries (a Cinder context here, a
    dict on the bus), which names the call to :data:`CALL_STATE`.
    """
    if isinstance(context, dict):
        return context.get('request_id')
    return getattr(context, 'request_id', None)


def topic(backend_name):
    """One topic per backend: two backends never answer each other."""
    return 'drbd-clvm-peer.%s' % backend_name


class MessagingPeers:
    """Peers reached over oslo.messaging.

    :param client: an RPC client on :func:`topic` (Cinder's transport and
        serializer).
    :param context_factory: makes the request context each call carries.
    :param timeout: default seconds a call may take.
    :param probe_timeout: seconds a watched call's check may take.
    :param watch_interval: seconds between a watched call's checks; a call
        whose timeout is under twice this is not watched.
    :param departed: ``departed(node)`` says whether ``node`` has left the
        cluster (fenced); a watched call to a node that stops answering
        and has left is given up, not waited for to its bound.
    """

    def __init__(self, client, context_factory, timeout, probe_timeout=15,
                 watch_interval=WATCH_INTERVAL, departed=lambda node: False):
        self.client = client
        self.context_factory = context_factory
        self.timeout = timeout
        self.probe_timeout = probe_timeout
        self.watch_interval = watch_interval
        self.departed = departed

    def call(self, node, method, timeout=None, **kwargs):
        timeout = timeout or self.timeout
        context = self.context_factory()
        call_id = request_id(context)
        started = time.monotonic()
        if call_id is None or timeout < 2 * self.watch_interval:
            answer = self._call(node, method, timeout, context, kwargs)
        else:
            answer = self._watched(node, method, timeout, context, kwargs,
                                   call_id, started)
        # With its seconds: the message bus's share of a request.
        LOG.info('Peer call %s to %s answered in %.2f s', method, node,
                 time.monotonic() - started)
        return _result(node, method, answer)

    def _call(self, node, method, timeout, context, kwargs):
        prepared = self.client.prepare(server=nodes.address(node),
                                       timeout=timeout, version=VERSION)
        try:
            return prepared.call(context, 'peer_call', step=method,
                                 arguments=kwargs)
        except oslo_messaging.MessagingTimeout:
            raise _unavailable(node, method, timeout, 'timed out')
        except oslo_messaging.MessagingException as error:
            raise _unavailable(node, method, timeout, error)

    def _watched(self, node, method, timeout, context, kwargs, call_id,
                 started):
        """:meth:`_call` in a thread of its own, checked on while it runs.

        :raises PeerUnavailable: the peer lost the call, which it now
            refuses (see :data:`LOST_AFTER_UNKNOWN`).
        """
        outcome = {}
        done = threading.Event()

        def call():
            try:
                outcome['answer'] = self._call(node, method, timeout,
                                               context, kwargs)
            except exception.PeerUnavailable as error:
                outcome['error'] = error
            finally:
                done.set()

        threading.Thread(target=call, daemon=True,
                         name='peer-call-%s' % call_id).start()
        unknown = 0
        while not done.wait(self.watch_interval):
            state = self._state(node, call_id,
                                give_up=unknown + 1 >= LOST_AFTER_UNKNOWN)
            unknown = unknown + 1 if state == UNKNOWN else 0
            if state == DEPARTED:
                raise exception.PeerUnavailable(
                    '%s left the cluster (fenced) during %s, after %.0f s: '
                    'the call ended with it. What it had begun there is '
                    'removed when its volume service starts again; the '
                    'request can be retried now.' % (
                        node, method, time.monotonic() - started))
            if state == GIVEN_UP:
                raise exception.PeerUnavailable(
                    'The volume service on %s lost %s after %.0f s: it does '
                    'not know the call (its service restarted or stopped '
                    'after taking it); it may or may not have run there, '
                    'and will not run now. %s' % (
                        node, method, time.monotonic() - started,
                        CHECK_THE_SERVICE))
        if 'error' in outcome:
            raise outcome['error']
        return outcome['answer']

    def _state(self, node, call_id, give_up):
        """What ``node`` knows of ``call_id``; :data:`DEPARTED` where it
        does not answer and has left the cluster; :data:`RUNNING` where it
        does not answer otherwise or cannot tell (an older peer): the call
        is then waited for.
        """
        try:
            answer = self._call(node, CALL_STATE, self.probe_timeout,
                                self.context_factory(),
                                {'call_id': call_id, 'give_up': give_up})
        except exception.PeerUnavailable:
            return DEPARTED if self._departed(node) else RUNNING
        return answer.get('result', RUNNING)

    def _departed(self, node):
        try:
            return self.departed(node)
        except exception.DrbdClvmError as error:
            LOG.warning('Cannot tell whether %s has left the cluster: %s',
                        node, error)
            return False
