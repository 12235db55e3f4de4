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

"""The gate's ``--cinder`` mode: what users and Nova ask of Cinder, through
``cinder-api`` only, served by the two nodes' ``cinder-volume``.

Each step gets a global request id of its own; Cinder carries it over the
message bus into the log lines of the volume service that did the work, so
the table says which node served each step (read from the services' logs,
not assumed). While every service runs, a step whose serving node logged
that a peer did not answer fails. The data-path steps run os-brick in the
guests (``tools/cluster/brick``) as Nova's compute service would.

The first node's service runs with its FQDN as its host and neither its
name nor its peers configured (:func:`volume_host`), so it takes them from
corosync's short names, as an operator who sets neither gets; the others
run as the DevStack plugin configures them.
"""

import collections
import concurrent.futures
import datetime
import json
import re
import time
import uuid

from drbd_clvm_driver import nodes
from tests.cluster import guests

#: 3.44: attachment complete; 3.40: revert; 3.16: manage into a cluster
MICROVERSION = '3.64'
#: seconds a volume or snapshot may take to reach a status (a 1 GiB clone
#: copies for minutes in the emulated guests)
STATUS_TIMEOUT = 900
#: the volume service's log in each cluster guest
SERVICE_LOG = '/var/log/cinder/cinder-volume.log'
BRICK = '/opt/drbd-clvm/brick'
#: where ``brick serve`` listens (``SOCKET`` in tools/cluster/brick)
BRICK_SOCKET = '/run/drbd-clvm/brick.sock'
#: size of the volume whose clone is killed: its copy (minutes per GiB
#: here) must outlast the service's restart, so a copy that went on after
#: the kill would hold the half-made clone open when the scan removes it
KILLED_CLONE_SOURCE_GIB = 2
#: run in a guest: write 4 KiB at the start of every MiB of a device
#: (argv: device, MiB), so that a copy, which skips only whole MiB of
#: zeros, writes every MiB of it
_MARK_EVERY_MIB = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
block = mmap.mmap(-1, 4096)
block.write(b'written by the gate '.ljust(4096, b'.'))
for mib in range(int(sys.argv[2])):
    os.pwritev(fd, [block], mib << 20)
os.fsync(fd)
"""
#: a resource's status once Cinder has it no more
DELETED = 'deleted'
#: the backend section both services serve, and their Cinder cluster
BACKEND = 'drbd'
CLUSTER = 'drbdgate@' + BACKEND
#: noauth takes any project; Cinder's routes want one shaped like an id
PROJECT_ID = '0123456789abcdef0123456789abcdef'
#: logged once a volume service consumes its host's and its cluster's
#: queues: a request cast before then is lost (RabbitMQ drops a message no
#: queue is bound for), although Cinder already lists the service up
RPC_READY = 'Driver post RPC initialization completed successfully'
#: seconds for a volume service to start (Python start-up in TCG)
SERVICE_START_TIMEOUT = 600
#: seconds the operator's two views may take to agree: Cinder's default
#: ``service_down_time``, by which a heartbeat late on a loaded host is
#: a service down by Cinder's own measure
OPERATOR_VIEW_SETTLE = 60
#: the first node's domain in its volume service's host (RFC 2606's
#: .test: a name nothing resolves)
LAB_DOMAIN = 'gate.test'
#: what the driver logs of a peer whose volume service did not answer
PEER_SILENT = 'did not answer'
#: characters of the flow column (the longest flow's)
FLOW_COLUMN = 54
#: a peer call the caller's log says was answered (drbd_clvm_driver.peer)
PEER_CALL = re.compile(r'Peer call (?P<method>\w+) to (?P<node>\S+) '
                       r'answered in (?P<seconds>[\d.]+) s')
#: a peer call answered, in the answering node's log
PEER_ANSWER = re.compile(r'Answering peer call (?P<method>\w+)\(')
#: oslo.log's context prefix: ``[global-request-id request-id ...]``
CONTEXT_IDS = re.compile(r'\[(\S+) (req-\S+) ')
#: seconds from a node's death to the DRBD survivor's first create accepted
#: through the API: the driver's 30 s (the fault campaign's bound), plus
#: the 60 s a request cast to the dead node's RabbitMQ consumer may wait
#: before the broker sees that connection dead and hands it to a survivor
#: (oslo.messaging's heartbeat_timeout_threshold)
SURVIVOR_BOUND = 30 + 60


class FlowError(Exception):
    """A step did not end as Cinder's users expect."""


#: What one node's service log says of one request: whether it served it
#: (lines beyond the peer calls it answered), how many times a peer did not
#: answer it, the peer calls it made ``[(method, node, seconds)]`` and the
#: methods it answered for another node.
RequestLog = collections.namedtuple(
    'RequestLog', 'served silent calls answered')


def request_log(lines, request_id):
    """The :class:`RequestLog` of ``request_id`` in one node's log lines.
    A peer call carries the request's global id under a request id of its
    own, so what the node logged under that one is the call's, not the
    request's.
    """
    mine = [line for line in lines if request_id in line]
    with_ids = [(line, CONTEXT_IDS.search(line)) for line in mine]
    answering = set()
    answered = []
    for line, ids in with_ids:
        answer = PEER_ANSWER.search(line)
        if answer and ids:
            answering.add(ids.group(2))
            answered.append(answer.group('method'))
    served = any(ids is None or ids.group(2) not in answering
                 for _, ids in with_ids)
    calls = [(call.group('method'), call.group('node'),
              float(call.group('seconds')))
             for call in map(PEER_CALL.search, mine) if call]
    return RequestLog(served, sum(PEER_SILENT in line for line in mine),
                      calls, answered)


def peer_calls(logs):
    """``[(caller, answering node or None, method, seconds)]`` of the
    calls in ``{node: RequestLog}``; the answering node is the one named
    whose own log answered that method.
    """
    found = []
    for caller, log in sorted(logs.items()):
        for method, called, seconds in log.calls:
            answering = [node for node, other in logs.items()
                         if nodes.same_host(node, called) and
                         method in other.answered]
            found.append((caller, answering[0] if answering else None,
                          method, seconds))
    return found


def volume_host(cluster, node):
    """The ``host`` ``node``'s volume service runs with: the first node's
    FQDN where corosync lists the members (sanlock has no corosync, so its
    nodes must be told their peers), else the node's name.
    """
    if node == cluster.nodes[0].name and cluster.lock_manager != 'sanlock':
        return '%s.%s' % (node, LAB_DOMAIN)
    return node


def service_host(cluster, node):
    """Cinder's host of ``node``'s volume service (``node2@drbd``)."""
    return '%s@%s' % (volume_host(cluster, node), BACKEND)


def rpc_ready_count(node):
    """How many times ``node``'s volume service has become ready to take
    requests (its log outlives restarts).
    """
    result = node.run('grep', '-c', '-F', RPC_READY, SERVICE_LOG, timeout=30)
    return int(result.stdout.strip() or 0)


def parse_cluster_list(output):
    """``cinder-manage cluster list`` as ``{(name, binary): (state, hosts,
    down hosts)}``; the state is Cinder's ``:-)`` (up) or ``XXX``.
    """
    clusters = {}
    for line in output.splitlines()[1:]:
        fields = line.split()
        # The two dates hold a space each, or are empty; the counts are
        # the only fields that are whole numbers.
        counts = [int(field) for field in fields[4:] if field.isdigit()]
        if len(fields) >= 6 and len(counts) == 2:
            clusters[fields[0], fields[1]] = (fields[3], counts[0], counts[1])
    return clusters


def heartbeat_age(service, now=None):
    """How long before ``now`` (UTC) the service last reported, as the
    operator would reckon it from ``updated_at``: past
    ``service_down_time``, Cinder lists the service down, running or not.
    """
    if not service.updated_at:
        return 'never'
    reported = datetime.datetime.fromisoformat(
        service.updated_at.replace('Z', '')).replace(tzinfo=None)
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None)
    return '%.0f s ago' % (now - reported).total_seconds()


def client(api_url, request_id=None):
    """A cinderclient for ``api_url`` (noauth, as admin) sending
    ``request_id`` as the global request id.

    The gate makes Nova's calls too, and Cinder lets only Nova delete an
    attachment in use (it checks with Nova otherwise, and there is none):
    Nova's service token arrives as the ``X-Service-Roles`` header
    keystonemiddleware would set from it.
    """
    from cinderclient import client as cinder_client
    from cinderclient.contrib import noauth
    from keystoneauth1 import session
    auth = noauth.CinderNoAuthPlugin('admin', PROJECT_ID, endpoint=api_url)
    return cinder_client.Client(
        MICROVERSION,
        session=session.Session(
            auth=auth, additional_headers={'X-Service-Roles': 'service'}),
        global_request_id=request_id)


def _reached(get, resource_id, wanted):
    """Whether the resource's status is ``wanted`` yet; an error status
    that is not the one wanted raises.
    """
    status = get(resource_id).status
    if status.startswith('error') and status != wanted:
        raise FlowError('%s is %s, wanted %s' % (resource_id, status, wanted))
    return status == wanted


def _wait_status(get, resource_id, wanted, timeout=STATUS_TIMEOUT):
    guests.wait_until(lambda: _reached(get, resource_id, wanted), timeout,
                      '%s to be %s' % (resource_id, wanted))
    return get(resource_id)


def status_of(get, resource_id):
    """The resource's status, or :data:`DELETED` once Cinder has it no
    more.
    """
    from cinderclient import exceptions
    try:
        return get(resource_id).status
    except exceptions.NotFound:
        return DELETED


def _gone(get, resource_id):
    status = status_of(get, resource_id)
    if status == DELETED:
        return True
    if status.startswith('error'):
        raise FlowError('%s is %s while being deleted'
                        % (resource_id, status))
    return False


def _wait_gone(get, resource_id, timeout=STATUS_TIMEOUT):
    guests.wait_until(lambda: _gone(get, resource_id), timeout,
                      '%s to be deleted' % resource_id)


class Flows:
    """Runs the steps and keeps one row per step.

    :param cluster: the :class:`~tests.cluster.guests.RealCluster`, with
        its compute host.
    :param controller: the :class:`~tests.cluster.controller.Controller`
        (cinder-api's endpoint, cinder-manage).
    """

    def __init__(self, cluster, controller, log=print):
        self.cluster = cluster
        self.controller = controller
        self.api_url = controller.api_url
        self.log = log
        self.rows = []
        self.nodes = {node.name: node for node in cluster.hosts}
        #: cluster nodes whose hardware died (powered off for good)
        self.dead = set()
        #: cluster nodes whose volume service is not running
        self.stopped = set()
        #: when the last of them died (monotonic)
        self.died_at = None

    # Bookkeeping.

    def logged(self, request_id):
        """``{node: RequestLog}`` of the cluster nodes whose volume service
        logged ``request_id`` (a node that is powered off served nothing).
        """
        found = {}
        for node in self.cluster.nodes:
            if node.name in self.dead:
                continue
            result = node.run('grep', '-aF', request_id, SERVICE_LOG,
                              timeout=30)
            if result.exit_code > 1:
                continue  # no log yet: the service never ran there
            lines = result.stdout.splitlines()
            if lines:
                found[node.name] = request_log(lines, request_id)
        return found

    def served_by(self, request_id):
        """The cluster nodes whose volume service served ``request_id``."""
        return [node for node, log in self.logged(request_id).items()
                if log.served]

    def step(self, flow, action, *args, serving=None, holder=None,
             **kwargs):
        """Run ``action(cinder, *args, **kwargs)`` with a request id of its
        own; one row with the node that served it, the peer calls it made,
        the status and the seconds.

        :param serving: the only nodes that may serve it.
        :param holder: the node that must do the step's part on the volume
            (its activation, its target): served by another node, the step
            must show a peer call to it, answered in its own log.
        """
        request_id = 'req-%s' % uuid.uuid4()
        cinder = client(self.api_url, request_id)
        started = time.monotonic()
        row = {'flow': flow, 'request_id': request_id}
        try:
            result = action(cinder, *args, **kwargs)
            row['status'] = 'ok'
        except guests.GateTimeout:
            raise
        except Exception as error:
            result = None
            row['status'] = 'failed: %s: %s' % (type(error).__name__, error)
        row['seconds'] = round(time.monotonic() - started, 1)
        logs = self.logged(request_id)
        served = [node for node, log in logs.items() if log.served]
        row['served_by'] = ','.join(served) or '-'
        calls = peer_calls(logs)
        row['peer_calls'] = ['%s>%s %s %.2f s' % (
            caller, answering or '?', method, seconds)
            for caller, answering, method, seconds in calls]
        if serving and row['status'] == 'ok' and \
                not set(served) <= set(serving):
            row['status'] = 'failed: served by %s, not %s' % (
                row['served_by'], ' or '.join(serving))
        unanswered = [node for node, log in logs.items() if log.silent]
        if unanswered and not self.stopped and row['status'] == 'ok':
            row['status'] = 'failed: a peer did not answer %s, all ' \
                'services running' % ' or '.join(unanswered)
        if holder and row['status'] == 'ok' and len(served) == 1 and \
                served[0] != holder and not any(
                    caller == served[0] and answering == holder
                    for caller, answering, _, _ in calls):
            row['status'] = 'failed: served by %s, no peer call to %s ' \
                'answered in both logs' % (served[0], holder)
        self.rows.append(row)
        self.log('%-*s %-12s %6.1f s  %s%s' % (
            FLOW_COLUMN, flow, row['served_by'], row['seconds'],
            row['status'], _peer_calls_said(row)))
        return result

    def at_once(self, *steps):
        """Run ``steps`` (each ``(flow, action, args, kwargs)``) at the
        same time, as users' requests arrive; their rows in the listed
        order, their results as a list.
        """
        before = len(self.rows)
        with concurrent.futures.ThreadPoolExecutor(len(steps)) as pool:
            futures = [pool.submit(self.step, flow, action, *args, **kwargs)
                       for flow, action, args, kwargs in steps]
            results = [future.result() for future in futures]
        order = [flow for flow, _action, _args, _kwargs in steps]
        self.rows[before:] = sorted(self.rows[before:],
                                    key=lambda row: order.index(row['flow']))
        return results

    # Guests' side of attachments (what Nova runs on the compute host).

    def brick(self, host, *args, timeout=180):
        result = self.nodes[host].run(BRICK, *args, timeout=timeout)
        if result.exit_code != 0:
            raise FlowError('brick %s on %s: %s' % (
                args[0], host, result.stderr.strip()[-800:]))
        return result.stdout

    def connector(self, host):
        address = '169.254.78.%s' % host[len('node'):]
        return json.loads(self.brick(host, 'properties', address))

    # The steps.

    def create(self, cinder, size=1, **kwargs):
        volume = cinder.volumes.create(size, **kwargs)
        return _wait_status(cinder.volumes.get, volume.id, 'available')

    def delete(self, cinder, volume_id):
        cinder.volumes.delete(volume_id)
        _wait_gone(cinder.volumes.get, volume_id)

    def extend(self, cinder, volume_id, size):
        cinder.volumes.extend(volume_id, size)
        volume = _wait_status(cinder.volumes.get, volume_id, 'available')
        if volume.size != size:
            raise FlowError('%s is %s GiB after extend to %s'
                            % (volume_id, volume.size, size))

    def snapshot(self, cinder, volume_id):
        snapshot = cinder.volume_snapshots.create(volume_id)
        return _wait_status(cinder.volume_snapshots.get, snapshot.id,
                            'available')

    def delete_snapshot(self, cinder, snapshot_id):
        cinder.volume_snapshots.delete(snapshot_id)
        _wait_gone(cinder.volume_snapshots.get, snapshot_id)

    def revert(self, cinder, volume_id, snapshot_id):
        volume = cinder.volumes.get(volume_id)
        cinder.volumes.revert_to_snapshot(
            volume, cinder.volume_snapshots.get(snapshot_id))
        _wait_status(cinder.volumes.get, volume_id, 'available')
        # Cinder's manager makes the snapshot available after the volume:
        # a flow that uses it at once met it still restoring.
        _wait_status(cinder.volume_snapshots.get, snapshot_id, 'available')

    def unmanage(self, cinder, volume_id):
        cinder.volumes.unmanage(volume_id)
        _wait_gone(cinder.volumes.get, volume_id)

    def manage(self, cinder, lv_name):
        volume = cinder.volumes.manage(None, {'source-name': lv_name},
                                       cluster=CLUSTER)
        return _wait_status(cinder.volumes.get, volume.id, 'available')

    def attach(self, cinder, volume_id, host, instance_id, migrating=False):
        """Nova's attach: reserve, update with the host's connector, connect
        on the host, complete. An :class:`Attached`.

        :param migrating: a live migration's destination: Nova creates its
            attachment with the connector at once (Cinder refuses an update
            of a second attachment while the first one is connected).
        """
        connector = self.connector(host)
        attachment = cinder.attachments.create(
            volume_id, connector if migrating else None, instance_id)
        try:
            info = attachment['connection_info'] if migrating else \
                cinder.attachments.update(attachment['id'],
                                          connector).connection_info
            if host not in self.cluster_names and \
                    info.get('auth_method') != 'CHAP':
                raise FlowError('%s connection without CHAP: %s'
                                % (info['driver_volume_type'], info))
            connection = {'driver_volume_type': info['driver_volume_type'],
                          'data': info}
            device = json.loads(self.brick(host, 'connect',
                                           json.dumps(connection)))
            cinder.attachments.complete(attachment['id'])
        except Exception as error:
            # Nova's clean-up of a failed attach: the volume is usable again
            try:
                cinder.attachments.delete(attachment['id'])
            except Exception as cleanup:
                self.log('deleting attachment %s after %s failed too: %s'
                         % (attachment['id'], error, cleanup))
            raise
        return Attached(attachment['id'], host, connection, device)

    def detach(self, cinder, attached):
        self.brick(attached.host, 'disconnect',
                   json.dumps(attached.connection),
                   json.dumps(attached.device))
        cinder.attachments.delete(attached.attachment_id)

    def write(self, attached, seed):
        self.brick(attached.host, 'write', attached.device['path'], seed)

    def check(self, attached, seed):
        self.brick(attached.host, 'check', attached.device['path'], seed)

    def attach_write(self, cinder, volume_id, host, seed):
        return self._attach_then(cinder, volume_id, host, seed, self.write,
                                 self.check)

    def attach_check(self, cinder, volume_id, host, seed):
        return self._attach_then(cinder, volume_id, host, seed, self.check)

    def _attach_then(self, cinder, volume_id, host, seed, *uses):
        """Attach, then each of ``uses``; detached again if one fails."""
        attached = self.attach(cinder, volume_id, host, str(uuid.uuid4()))
        try:
            for use in uses:
                use(attached, seed)
        except Exception:
            self.detach(cinder, attached)
            raise
        return attached

    def migrate(self, cinder, source, host, seed):
        """Nova's live migration of the instance using ``source``: a second
        attachment on ``host`` for the same instance, the data checked
        there, then the source's attachment removed.
        """
        attachment = cinder.attachments.show(source.attachment_id)
        target = self.attach(cinder, attachment.volume_id, host,
                             attachment.instance, migrating=True)
        self.check(target, seed)
        self.detach(cinder, source)
        return target

    # Failover.

    def service(self, node, action):
        self.nodes[node].runner.run(['drbd-clvm-cinder-node', action],
                                    timeout=120)

    def stop_service(self, cinder, node):
        """A clean stop; Cinder then reports the service down."""
        self.stopped.add(node)
        self.service(node, 'stop')
        self.wait_service(cinder, self.service_host(node), 'down')

    def start_service(self, cinder, node):
        """Start it and wait until it takes requests."""
        started_before = rpc_ready_count(self.nodes[node])
        self.service(node, 'start')
        guests.wait_until(
            lambda: rpc_ready_count(self.nodes[node]) > started_before,
            SERVICE_START_TIMEOUT, '%s\'s volume service to take requests'
            % node)
        self.wait_service(cinder, self.service_host(node), 'up')
        self.stopped.discard(node)

    def service_host(self, node):
        return service_host(self.cluster, node)

    def operator_view(self, cinder, down=()):
        """What ``openstack volume service list`` and ``cinder-manage
        cluster list`` show: each node's volume service in the cluster, up
        unless it is in ``down``; the cluster up while one service is, with
        its hosts and down hosts counted. Read again while either view
        differs, for up to :data:`OPERATOR_VIEW_SETTLE` s: the two are
        read seconds apart, and a heartbeat may fall due between them.
        """
        deadline = time.monotonic() + OPERATOR_VIEW_SETTLE
        while True:
            try:
                return self._operator_view_once(cinder, down)
            except FlowError as error:
                if time.monotonic() > deadline:
                    raise
                self.log('%s; reading both again' % error)
                time.sleep(5)

    def _operator_view_once(self, cinder, down):
        wanted = {self.service_host(node): 'down' if node in down else 'up'
                  for node in self.cluster_names}
        services = cinder.services.list(binary='cinder-volume')
        listed = {service.host: (service.state, service.cluster)
                  for service in services}
        self.log('volume services: %s' % ', '.join(
            '%s %s (heartbeat %s)' % (service.host, service.state,
                                      heartbeat_age(service))
            for service in sorted(services, key=lambda s: s.host)))
        if listed != {host: (state, CLUSTER)
                      for host, state in wanted.items()}:
            raise FlowError('volume service list shows %s, wanted %s in %s'
                            % (listed, wanted, CLUSTER))
        output = self.controller.manage('cluster', 'list')
        self.log(output.rstrip())
        clusters = parse_cluster_list(output)
        summary = clusters.get((CLUSTER, 'cinder-volume'))
        if summary != (':-)', len(wanted), len(down)):
            raise FlowError('cinder-manage cluster list shows %s for %s, '
                            'wanted up with %d hosts, %d down'
                            % (summary, CLUSTER, len(wanted), len(down)))

    # A node dead for good.

    def die_for_good(self, cinder, node):
        """``node``'s hardware dies: its qemu is killed and its fence
        powers it off and leaves it off.
        """
        self.dead.add(node)
        self.stopped.add(node)
        self.died_at = time.monotonic()
        self.cluster.fence_device.kill(node, for_good=True)

    def first_accepted_create(self, cinder):
        """Creates until one is accepted (those refused while the fence
        runs end in error and are deleted); the seconds from the death to
        the accepted one. On the DRBD pair it must come within
        :data:`SURVIVOR_BOUND`.
        """
        while True:
            volume = cinder.volumes.create(1)
            guests.wait_until(
                lambda: cinder.volumes.get(volume.id).status in (
                    'available', 'error'), STATUS_TIMEOUT,
                'volume %s to be made or refused' % volume.id)
            if cinder.volumes.get(volume.id).status == 'available':
                break
            cinder.volumes.delete(volume.id)
            _wait_gone(cinder.volumes.get, volume.id)
        seconds = time.monotonic() - self.died_at
        self.log('first create accepted %.1f s after the node died'
                 % seconds)
        if self.cluster.replication == 'drbd' and seconds > SURVIVOR_BOUND:
            raise FlowError('the survivor accepted its first create %.0f s '
                            'after the node died, past %d s'
                            % (seconds, SURVIVOR_BOUND))
        self.delete(cinder, volume.id)
        return seconds

    def evacuate(self, cinder, held, host, seed):
        """Nova's evacuate of the instance using ``held`` on a dead host: a
        second attachment for the same instance on ``host``, the data
        checked there; the dead host's attachment is deleted apart.
        """
        attachment = cinder.attachments.show(held.attachment_id)
        moved = self.attach(cinder, attachment.volume_id, host,
                            attachment.instance, migrating=True)
        self.check(moved, seed)
        return moved

    def delete_attachment(self, cinder, attached):
        """Nova's evacuate deletes the dead host's attachment; nothing runs
        on that host any more.
        """
        cinder.attachments.delete(attached.attachment_id)

    def pool_degraded(self, cinder, node, dead):
        """Until ``node``'s pool is up and says it serves degraded, naming
        the dead node. Cinder's scheduler lists the pool under the Cinder
        cluster (active-active), or under the node's own host; the client
        makes each capability an attribute of the pool.
        """
        def degraded():
            for pool in cinder.pools.list(detailed=True):
                if pool.name.split('#')[0] in (self.service_host(node),
                                               CLUSTER):
                    return (getattr(pool, 'backend_state', None) == 'up' and
                            getattr(pool, 'cluster_degraded', False) and
                            dead in (getattr(
                                pool, 'cluster_degraded_reason', None) or ''))
            return False

        guests.wait_until(degraded, 300, '%s\'s pool to report serving '
                          'degraded without %s' % (node, dead))

    def repair(self, cinder, node):
        """The dead node is repaired: it boots, rejoins and resyncs, and
        its volume service starts again.
        """
        self.cluster.fence_device.repair(node)
        self.dead.discard(node)
        guests.wait_ready([self.nodes[node]],
                          timeout=guests.REJOIN_TIMEOUT)
        self.start_service(cinder, node)

    def kill_during_clone(self, cinder, source_id):
        """Clone ``source_id`` and SIGKILL the service doing it once the
        copy runs. (node, clone id)
        """
        request_id = cinder.client.global_request_id
        clone = cinder.volumes.create(cinder.volumes.get(source_id).size,
                                      source_volid=source_id)
        lv = 'vgc/volume-%s' % clone.id
        serving = []

        def copying():
            if cinder.volumes.get(clone.id).status != 'creating':
                raise FlowError('the clone ended before the kill')
            serving[:] = self.served_by(request_id)
            return serving and self.being_made(serving[0], lv)

        guests.wait_until(copying, STATUS_TIMEOUT, 'a node to copy the clone')
        self.stopped.add(serving[0])
        self.service(serving[0], 'kill')
        return serving[0], clone.id

    def being_made(self, node, lv):
        """Whether ``node`` lists ``lv`` as being written."""
        result = self.nodes[node].run('lvs', '--noheadings', '-o',
                                      'lv_tags', lv, timeout=60)
        return 'cinder-state:creating' in result.stdout

    def fill(self, cinder, volume_id, mib=None):
        """Data in every MiB of the volume (or of its first ``mib``),
        written through the first node's device (activated for it and
        released after); that node.
        """
        node = self.nodes[self.cluster_names[0]]
        lv = 'vgc/volume-%s' % volume_id
        if mib is None:
            mib = cinder.volumes.get(volume_id).size * 1024
        for argv in (['lvchange', '-aey', lv],
                     ['python3', '-c', _MARK_EVERY_MIB, '/dev/' + lv,
                      str(mib)],
                     ['lvchange', '-an', lv]):
            result = node.run(*argv, timeout=300)
            if result.exit_code != 0:
                raise FlowError('%s on %s: %s' % (argv[0], node.name,
                                                  result.stderr.strip()))
        return node.name

    def clone_cleared(self, cinder, clone_id):
        """After the restart: Cinder marked the clone failed, and no node
        keeps an LV of it.
        """
        _wait_status(cinder.volumes.get, clone_id, 'error', timeout=120)
        left = self.nodes[self.cluster_names[0]].run(
            'lvs', '--noheadings', '-o', 'lv_name', 'vgc', timeout=60)
        if ('volume-%s' % clone_id) in left.stdout:
            raise FlowError('the half-made LV of %s is still there: %s'
                            % (clone_id, left.stdout))

    def volume_services(self, cinder):
        return {service.host: service.state for service in
                cinder.services.list(binary='cinder-volume')}

    def wait_service(self, cinder, host, state, timeout=180):
        """Until Cinder reports ``host``'s volume service ``state``."""
        guests.wait_until(
            lambda: self.volume_services(cinder).get(host) == state, timeout,
            '%s to be %s' % (host, state))

    @property
    def cluster_names(self):
        return [node.name for node in self.cluster.nodes]

    def other_than(self, node):
        """The cluster nodes that are not ``node``."""
        return [name for name in self.cluster_names if name != node]


class Attached:
    """One connection a host made for an attachment."""

    def __init__(self, attachment_id, host, connection, device):
        self.attachment_id = attachment_id
        self.host = host
        self.connection = connection
        self.device = device


def run(flows):
    """Every flow once, into ``flows``' rows."""
    flows.step('service and cluster lists', flows.operator_view)
    volume_flows(flows)
    attachment_flows(flows)
    failover_flows(flows)
    node_death_flows(flows)


def volume_flows(flows):
    """The volume's own flows. The two 1 GiB copies (a volume from a
    snapshot, a clone) are asked for at once, as two users would: either
    node may serve each, and neither copy waits for the other.
    """
    step = flows.step
    volume = step('create', flows.create)
    if volume is None:
        return
    snapshot = step('snapshot', flows.snapshot, volume.id)
    cloning = ('clone', flows.create, (1,), {'source_volid': volume.id})
    if snapshot:
        step('revert to snapshot', flows.revert, volume.id, snapshot.id)
        from_snapshot, clone = flows.at_once(
            ('volume from snapshot', flows.create, (1,),
             {'snapshot_id': snapshot.id}), cloning)
        if from_snapshot:
            step('delete volume from snapshot', flows.delete,
                 from_snapshot.id)
        step('delete snapshot', flows.delete_snapshot, snapshot.id)
    else:
        clone, = flows.at_once(cloning)
    if clone:
        step('extend', flows.extend, clone.id, 2)
        step('unmanage', flows.unmanage, clone.id)
        managed = step('manage', flows.manage, 'volume-%s' % clone.id)
        if managed:
            step('delete managed', flows.delete, managed.id)
    step('delete', flows.delete, volume.id)


def local_attaches(flows, volume_id, hosts, serving=None, when=''):
    """Attach ``volume_id`` on each of ``hosts`` (local), read its data
    (seed ``one``), detach.

    :param when: said after each attach's flow.
    """
    for host in hosts:
        local = flows.step('attach on %s (local), read%s' % (host, when),
                           flows.attach_check, volume_id, host, 'one',
                           serving=serving, holder=host)
        if local:
            flows.step('detach from %s' % host, flows.detach, local,
                       serving=serving, holder=host)


def attachment_flows(flows):
    """iSCSI with CHAP to the compute host, then re-attached through
    another node, and attached locally on each other node, while the first
    one's service is stopped (so each other node serves a local attach of
    its own); local attaches on every node; a live migration through every
    node and the compute host (node1 -> node2 [-> node3] -> compute ->
    node1).
    """
    step = flows.step
    compute = flows.cluster.compute[0].name
    names = flows.cluster_names
    first = names[0]
    volume = step('create for attachments', flows.create)
    if volume is None:
        return
    attached = step('attach to %s (iSCSI, CHAP), write' % compute,
                    flows.attach_write, volume.id, compute, 'one')
    if attached:
        exporter = flows.rows[-1]['served_by']
        step('detach from %s' % compute, flows.detach, attached,
             holder=exporter)
        others = flows.other_than(exporter)
        step('stop cinder-volume on %s' % exporter, flows.stop_service,
             exporter)
        step('service and cluster lists, %s stopped' % exporter,
             flows.operator_view, down=(exporter,))
        again = step('attach to %s through %s, read' % (
            compute, ' or '.join(others)), flows.attach_check, volume.id,
            compute, 'one', serving=others)
        if again:
            step('detach from %s' % compute, flows.detach, again,
                 serving=others)
        local_attaches(flows, volume.id, others, serving=others,
                       when=', %s stopped' % exporter)
        extra = step('create while %s is stopped' % exporter, flows.create,
                     serving=others)
        if extra:
            step('delete while %s is stopped' % exporter, flows.delete,
                 extra.id, serving=others)
        step('start cinder-volume on %s' % exporter, flows.start_service,
             exporter)
        step('service and cluster lists, %s back' % exporter,
             flows.operator_view)
    local_attaches(flows, volume.id, names)
    source = step('attach on %s (local), write' % first, flows.attach_write,
                  volume.id, first, 'two')
    for host in names[1:] + [compute, first]:
        if source is None:
            break
        source = step('live migration to %s, read' % host, flows.migrate,
                      source, host, 'two')
    if source is not None:
        step('detach from %s' % source.host, flows.detach, source)
    step('delete attached volume', flows.delete, volume.id)


def failover_flows(flows):
    """A volume service killed during a clone's copy: the other node goes
    on serving; the killed one's start-up scan removes what it half made.
    """
    step = flows.step
    source = step('create a clone source', flows.create,
                  KILLED_CLONE_SOURCE_GIB)
    if source is None:
        return
    killed = None
    if step('write into every MiB of it', flows.fill, source.id):
        killed = step('kill -9 the volume service cloning',
                      flows.kill_during_clone, source.id)
    if killed:
        node, clone_id = killed
        others = flows.other_than(node)
        extra = step('create while %s is killed' % node, flows.create,
                     serving=others)
        if extra:
            step('delete while %s is killed' % node, flows.delete, extra.id,
                 serving=others)
        step('start cinder-volume on %s, scan' % node,
             flows.start_service, node)
        step('half-made clone cleared', flows.clone_cleared, clone_id)
        step('delete the failed clone', flows.delete, clone_id)
    step('delete the clone source', flows.delete, source.id)


def node_death_flows(flows):
    """The last node dies for good while an instance uses a volume there:
    the others serve every request, Nova's evacuate attaches the volume on
    a survivor and deletes the dead host's attachment, the dead service
    shows down and the survivor's pool says why it is degraded; then the
    node is repaired and its service serves again.
    """
    step = flows.step
    names = flows.cluster_names
    dead, survivors = names[-1], names[:-1]
    volume = step('create for the evacuate', flows.create)
    if volume is None:
        return
    held = step('attach on %s (local), write' % dead, flows.attach_write,
                volume.id, dead, 'three')
    if held is None:
        step('delete the evacuate volume', flows.delete, volume.id)
        return
    step('%s dies for good (fenced off)' % dead, flows.die_for_good, dead)
    step('first create accepted after %s died' % dead,
         flows.first_accepted_create, serving=survivors)
    moved = step('evacuate: attach on %s (local), read' % survivors[0],
                 flows.evacuate, held, survivors[0], 'three',
                 serving=survivors)
    step('delete %s\'s attachment' % dead, flows.delete_attachment, held,
         serving=survivors)
    extra = step('create while %s is dead' % dead, flows.create,
                 serving=survivors)
    if extra:
        step('delete while %s is dead' % dead, flows.delete, extra.id,
             serving=survivors)
    step('%s\'s service down' % dead, flows.wait_service,
         flows.service_host(dead), 'down', timeout=300)
    step('service and cluster lists, %s dead' % dead, flows.operator_view,
         down=(dead,))
    step('%s\'s pool serves degraded' % survivors[0], flows.pool_degraded,
         survivors[0], dead)
    step('%s repaired, its service back' % dead, flows.repair, dead)
    step('service and cluster lists, %s back' % dead, flows.operator_view)
    if moved:
        step('detach from %s' % survivors[0], flows.detach, moved)
    step('delete the evacuated volume', flows.delete, volume.id)


def _peer_calls_said(row):
    """A row's race outcome and peer calls, after its status."""
    outcome = ['; outcome: %s' % row['outcome']] if 'outcome' in row else []
    return ''.join(outcome + ['; peer call %s' % call
                              for call in row.get('peer_calls', ())])


def format_table(rows):
    lines = ['%-*s %-12s %8s  %s' % (FLOW_COLUMN, 'flow', 'served by',
                                     'seconds', 'status')]
    lines += ['%-*s %-12s %8.1f  %s%s' % (
        FLOW_COLUMN, row['flow'], row['served_by'], row['seconds'],
        row['status'], _peer_calls_said(row)) for row in rows]
    return '\n'.join(lines)
