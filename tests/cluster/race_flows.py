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

"""Requests that race through Cinder's API, from clients at once, requests
across a RabbitMQ restart, and the consistency check after every flow.

Each race is a set of steps of :class:`~tests.cluster.api_flows.Flows`
started together, each with a request id (a client) of its own, so each
row says which node served it. A step's outcome - what the user saw and
the final status - is kept in its row; a race passes when what users
expect happened: one request succeeds and the other fails cleanly (the
API refused it, or it ended in an error status that a retry clears) or
waits for it, nothing is left in a transitional status, and the
consistency check finds nothing lost or half-made.
"""

import concurrent.futures
import threading
import time
import uuid

from tests.cluster import api_flows
from tests.cluster import guests

#: Cinder's statuses that a request passes through, never ends in
TRANSITIONAL = frozenset((
    'creating', 'deleting', 'extending', 'attaching', 'detaching',
    'reserved', 'downloading', 'uploading', 'retyping', 'maintenance',
    'backing-up', 'restoring-backup', 'reverting', 'managing',
    'unmanaging', 'awaiting-transfer'))
#: what :func:`settled` says of a resource that no longer exists
DELETED = api_flows.DELETED
#: copies of one source asked for at once; every node must serve some. They
#: take turns (Cinder's lock on the source, or the driver's on the node
#: holding it), each reading the whole 1 GiB source and writing none of
#: its zeros; then the volumes are deleted at once. CI asks for four: with
#: twenty (and the stream's hundred requests) the Cinder gate alone took
#: 2596 s here, longer than all of CI may.
CONCURRENT_COPIES = 4
FULL_CONCURRENT_COPIES = 20
#: seconds the race's second request waits for the first to be under way
UNDER_WAY_TIMEOUT = 300
#: MiB of data at the start of a race's 1 GiB source: its copy then writes
#: for half a minute or more here, long past the moment the other request
#: is sent (the copy skips the MiB of zeros after them)
RACE_SOURCE_DATA_MIB = 384
#: how a source's delete that was sent only once its copy had ended starts
#: its outcome: the race was not run
AFTER_THE_COPY = 'sent after the copy ended: '
#: requests of the stream across the services' rolling restart (CI's, and
#: with ``full``), and its clients
STREAM_REQUESTS = 48
FULL_STREAM_REQUESTS = 100
STREAM_CLIENTS = 4
#: seconds a stream request may take to settle (a 1 GiB clone copies in
#: 45-200 s in CI's emulated guests)
STREAM_BOUND = 400
#: seconds after which a stream request whose resource is still
#: transitional and that no volume service logged is taken as lost by
#: Cinder, not waited for to STREAM_BOUND (a service restarts in about a
#: minute; a request queued for it is logged as it starts)
STREAM_LOST_AFTER = 150
#: seconds between two looks into the services' logs for such a request
STREAM_LOST_CHECK = 30
#: seconds the stream's last check waits for its resources to settle, all
#: of them at once: every request was already waited for by its client
STREAM_FINAL_BOUND = 30
#: Cinder's default coordination: a lock directory on each node
FILE_COORDINATION = 'file:///var/lib/cinder'
#: what the driver logs at start-up on a file coordination URL
#: (drbd_clvm_driver/driver.py)
FILE_COORDINATION_WARNING = 'a lock directory of this node only'


class Outcome(str):
    """What a race's request ended in, as its row says it."""


class CopyStarted(threading.Event):
    """Set once a node writes the race's copy, whose id it then holds."""

    volume_id = None


def settled(get, resource_id, timeout=api_flows.STATUS_TIMEOUT,
            given_up=lambda: False):
    """The resource's status once it is no longer transitional (or
    :data:`DELETED`), or its transitional status once ``given_up()`` says
    the wait is pointless.
    """
    final = []

    def done():
        final[:] = [api_flows.status_of(get, resource_id)]
        return final[0] not in TRANSITIONAL or given_up()

    guests.wait_until(done, timeout, '%s to settle' % resource_id)
    return final[0]


def refused_by_api(call):
    """Run ``call``; the API's refusal (a 4xx) as text, or None once it
    was accepted.
    """
    from cinderclient import exceptions
    try:
        call()
    except exceptions.ClientException as error:
        if 400 <= getattr(error, 'code', 0) < 500:
            return 'refused by the API: %s %s' % (error.code, error)
        raise
    return None


def _manager(cinder, kind):
    """Cinder's volumes or snapshots, as ``kind`` names them."""
    return cinder.volumes if kind == 'volume' else cinder.volume_snapshots


def _await_copy(started):
    """Until the race's copy is under way (``started`` set)."""
    if not started.wait(UNDER_WAY_TIMEOUT):
        raise api_flows.FlowError('the copy never started')


class Races:
    """The races, on :class:`~tests.cluster.api_flows.Flows`."""

    def __init__(self, flows):
        self.flows = flows

    def _copy_under_way(self, cinder, copy_id):
        """Until some node writes the copy ``copy_id`` (its LV tagged as
        being made), so that the race's other request meets it mid-way.
        """
        lv = 'vgc/volume-%s' % copy_id

        def writing():
            if cinder.volumes.get(copy_id).status != 'creating':
                return True  # done already: the race is lost, not hung
            return any(self.flows.being_made(node, lv)
                       for node in self.flows.cluster_names
                       if node not in self.flows.dead)

        guests.wait_until(writing, UNDER_WAY_TIMEOUT,
                          'a node to write %s' % copy_id)

    def copy(self, cinder, started, **source):
        """Create a 1 GiB copy of ``source`` (``source_volid`` or
        ``snapshot_id``); ``started`` is set with its id once a node
        writes it. The copy's final status.
        """
        volume = cinder.volumes.create(1, **source)
        started.volume_id = volume.id
        try:
            self._copy_under_way(cinder, volume.id)
        finally:
            started.set()
        return Outcome(settled(cinder.volumes.get, volume.id))

    def delete_during(self, cinder, started, kind, resource_id):
        """Once ``started`` is set, delete the volume or snapshot
        ``resource_id`` (``kind``); what became of it, marked
        :data:`AFTER_THE_COPY` unless the copy was still being made once
        the delete had been sent (else no race was run).
        """
        manager = _manager(cinder, kind)
        _await_copy(started)
        refusal = refused_by_api(lambda: manager.delete(resource_id))
        met = cinder.volumes.get(started.volume_id).status == 'creating'
        outcome = refusal or settled(manager.get, resource_id)
        return Outcome(outcome if met else AFTER_THE_COPY + outcome)

    def attach(self, cinder, volume_id, host, attached):
        """Attach ``volume_id`` on ``host`` (local); the :class:`Attached`
        kept in ``attached``. The API's refusal, or 'attached'.
        """
        refusal = refused_by_api(lambda: attached.append(self.flows.attach(
            cinder, volume_id, host, str(uuid.uuid4()))))
        return Outcome(refusal or 'attached')

    def delete_left(self, cinder, resource_id, kind='volume'):
        """Delete what a race left of the volume or snapshot
        ``resource_id``, if anything: a retried delete must clear an error
        status too.
        """
        manager = _manager(cinder, kind)
        if settled(manager.get, resource_id) == DELETED:
            return Outcome('gone already')
        manager.delete(resource_id)
        status = settled(manager.get, resource_id)
        if status != DELETED:
            raise api_flows.FlowError('%s %s is %s after its delete'
                                      % (kind, resource_id, status))
        return Outcome(DELETED)

    def delete_all(self, cinder, volume_ids):
        """:meth:`delete_left` of each volume, all asked for at once."""
        with concurrent.futures.ThreadPoolExecutor(len(volume_ids)) as pool:
            for deleted in [pool.submit(self.delete_left, cinder, volume_id)
                            for volume_id in volume_ids]:
                deleted.result()
        return Outcome('%d deleted' % len(volume_ids))

    def restart_bus(self, cinder, started):
        """Once ``started`` is set, restart RabbitMQ."""
        _await_copy(started)
        return Outcome('restarted in %.0f s'
                       % self.flows.controller.restart_rabbitmq())

    def services_not_restarted(self, cinder, ready):
        """No volume service started again (``ready``: each node's count
        of starts before).
        """
        now = {node: api_flows.rpc_ready_count(self.flows.nodes[node])
               for node in ready}
        if now != ready:
            raise api_flows.FlowError('volume services started again: %s '
                                      'before, %s now' % (ready, now))

    def warned_of_file_locks(self, cinder):
        """Every running volume service warned at start-up that its
        Cinder locks are a directory of that node only.
        """
        flows = self.flows
        nodes = [node for node in flows.cluster_names
                 if node not in flows.dead]
        silent = [node for node in nodes if not self.warnings(node)]
        if silent:
            raise api_flows.FlowError(
                'no warning of the file coordination URL on %s'
                % ', '.join(silent))
        return Outcome('%s warned' % ', '.join(nodes))

    def stop_onto(self, node, url):
        """Stop ``node``'s volume service (SIGTERM, as systemd stops it)
        and point its Cinder locks at ``url`` for its next start.
        """
        flows = self.flows
        flows.stopped.add(node)
        flows.service(node, 'stop')
        flows.nodes[node].runner.run(
            ['drbd-clvm-cinder-node', 'coordination', url], timeout=60)

    def warnings(self, node):
        """How many times ``node``'s volume service warned at start-up
        that its Cinder locks are a directory of that node only.
        """
        result = self.flows.nodes[node].run(
            'grep', '-c', '-F', FILE_COORDINATION_WARNING,
            api_flows.SERVICE_LOG, timeout=30)
        return int(result.stdout.strip() or 0)

    def extend_while_attaching(self, cinder, volume_id, size):
        """Extend ``volume_id`` while an attachment of it is made: once it
        is reserved or attaching.
        """
        guests.wait_until(
            lambda: cinder.volumes.get(volume_id).status != 'available',
            UNDER_WAY_TIMEOUT, 'the attach of %s to begin' % volume_id)
        refusal = refused_by_api(lambda: cinder.volumes.extend(volume_id,
                                                               size))
        if refusal:
            return Outcome(refusal)
        status = settled(cinder.volumes.get, volume_id)
        return Outcome('%s at %d GiB' % (
            status, cinder.volumes.get(volume_id).size))


def copy_race_as_expected(outcomes):
    """(copy, source's delete): the copy available; the delete, sent while
    the copy was being made, done after it, refused, or ended in an error
    status (cleared by the delete that follows the race).
    """
    copy, delete = outcomes
    return copy == 'available' and (
        delete in (DELETED, 'available') or
        delete.startswith(('refused by the API', 'error')))


def extend_race_as_expected(outcomes):
    """(attach, extend to 2 GiB): attached; the extend refused or done."""
    attach, extend = outcomes
    return attach == 'attached' and (
        extend.startswith('refused by the API') or
        extend in ('in-use at 2 GiB', 'available at 2 GiB'))


def attach_race_as_expected(outcomes):
    """Two attachments of a volume that is not multiattach: one attached,
    the other refused.
    """
    first, second = sorted(outcomes)
    return first == 'attached' and second.startswith('refused by the API')


def bus_restart_as_expected(outcomes):
    """(copy, restart): the copy available or failed (never stuck), the
    bus back.
    """
    copy, restart = outcomes
    return copy in ('available', 'error') and restart.startswith('restarted')


def _expect(flows, race, outcomes, accepted):
    """Fail the race's last rows unless ``accepted(outcomes)``; each row
    gets its outcome.
    """
    rows = flows.rows[-len(outcomes):]
    for row, outcome in zip(rows, outcomes):
        row['outcome'] = str(outcome) if outcome is not None else '-'
    said = '; '.join('%s: %s' % (row['flow'], row['outcome'])
                     for row in rows)
    flows.log('%s: %s' % (race, said))
    if None in outcomes or not accepted(outcomes):
        for row in rows:
            if row['status'] == 'ok':
                row['status'] = 'failed: not what users expect (%s)' % said


def delete_source_during_copy(flows, races, source_kind, when=''):
    """A copy of a volume (a clone) or of a snapshot, and the source's
    delete once the copy is under way: the copy must be available, and the
    delete wait for it (Cinder's lock on the source) or fail cleanly.
    """
    step = flows.step
    volume = step('create a race source' + when, flows.create)
    if volume is None:
        return
    step('write into the first %d MiB of the race source%s'
         % (RACE_SOURCE_DATA_MIB, when), flows.fill, volume.id,
         RACE_SOURCE_DATA_MIB)
    source = {'source_volid': volume.id}
    resource_id = volume.id
    snapshot = None
    if source_kind == 'snapshot':
        snapshot = step('snapshot the race source' + when, flows.snapshot,
                        volume.id)
        if snapshot is None:
            step('delete the race source' + when, races.delete_left,
                 volume.id)
            return
        source = {'snapshot_id': snapshot.id}
        resource_id = snapshot.id
    started = CopyStarted()
    outcomes = flows.at_once(
        ('%s while its %s is deleted%s' % (
            'clone' if source_kind == 'volume' else 'volume from snapshot',
            source_kind, when), races.copy, (started,), source),
        ('delete the %s while it is copied%s' % (source_kind, when),
         races.delete_during, (started, source_kind, resource_id), {}))
    _expect(flows, 'delete %s during its copy%s' % (source_kind, when),
            outcomes, copy_race_as_expected)
    if started.volume_id:
        step('delete the race copy' + when, races.delete_left,
             started.volume_id)
    if snapshot is not None:
        step('delete the race snapshot' + when, races.delete_left,
             snapshot.id, 'snapshot')
    step('delete the race source' + when, races.delete_left, volume.id)


def extend_during_attach(flows, races, when=''):
    """An extend while the volume is being attached: the attach must
    succeed; the extend be refused by the API (the volume is not
    available) or done with the attached device intact.
    """
    step = flows.step
    host = flows.cluster_names[0]
    volume = step('create to extend while attaching' + when, flows.create)
    if volume is None:
        return
    attached = []
    outcomes = flows.at_once(
        ('attach on %s while it is extended%s' % (host, when), races.attach,
         (volume.id, host, attached), {}),
        ('extend while it is attached' + when, races.extend_while_attaching,
         (volume.id, 2), {}))
    _expect(flows, 'extend during attach' + when, outcomes,
            extend_race_as_expected)
    for one in attached:
        step('detach from %s%s' % (one.host, when), flows.detach, one)
    step('delete the extended volume' + when, races.delete_left, volume.id)


def two_attachments_at_once(flows, races, when=''):
    """Two attachments of a volume that is not multiattach, on two nodes
    at once: exactly one attached, the other refused by the API.
    """
    step = flows.step
    volume = step('create to attach twice at once' + when, flows.create)
    if volume is None:
        return
    attached = []
    first, second = flows.cluster_names[:2]
    outcomes = flows.at_once(
        ('attach on %s, racing %s%s' % (first, second, when), races.attach,
         (volume.id, first, attached), {}),
        ('attach on %s, racing %s%s' % (second, first, when), races.attach,
         (volume.id, second, attached), {}))
    _expect(flows, 'two attachments at once' + when, outcomes,
            attach_race_as_expected)
    for one in attached:
        step('detach from %s%s' % (one.host, when), flows.detach, one)
    step('delete the twice-attached volume' + when, races.delete_left,
         volume.id)


def copies_at_once(flows, races, when='', count=CONCURRENT_COPIES):
    """``count`` clones of one volume asked for at once: every one
    available, served by every node of the cluster.
    """
    step = flows.step
    volume = step('create the source of %d clones%s' % (count, when),
                  flows.create)
    if volume is None:
        return
    before = len(flows.rows)
    clones = flows.at_once(*[
        ('clone %d of %d at once%s' % (number, count, when), flows.create,
         (1,),
         {'source_volid': volume.id}) for number in range(1, count + 1)])
    rows = flows.rows[before:]
    served = {}
    for row in rows:
        served[row['served_by']] = served.get(row['served_by'], 0) + 1
    flows.log('%d clones at once served by %s' % (count, ', '.join(
        '%s %d' % item for item in sorted(served.items()))))
    missing = [node for node in flows.cluster_names
               if not any(node in by.split(',') for by in served)]
    if missing:
        rows[-1]['status'] = 'failed: no clone served by %s' % ', '.join(
            missing)
    step('delete the %d clones and their source%s' % (count, when),
         races.delete_all, [clone.id for clone in clones
                            if clone is not None] + [volume.id])


def bus_restart(flows, races):
    """RabbitMQ restarted while a clone copies: the clone ends available or
    failed, never stuck; then, with no volume service restarted, a create,
    a local attach on each node (served by either: a peer call where the
    other serves it) with its detach, and the deletes work.
    """
    step = flows.step
    source = step('create to clone across a bus restart', flows.create)
    if source is None:
        return
    step('write into every MiB of it', flows.fill, source.id)
    ready = {node: api_flows.rpc_ready_count(flows.nodes[node])
             for node in flows.cluster_names if node not in flows.dead}
    started = CopyStarted()
    outcomes = flows.at_once(
        ('clone while RabbitMQ restarts', races.copy, (started,),
         {'source_volid': source.id}),
        ('RabbitMQ restarted during the clone', races.restart_bus,
         (started,), {}))
    _expect(flows, 'RabbitMQ restart', outcomes, bus_restart_as_expected)
    volume = step('create after the bus restart', flows.create)
    if volume is not None:
        for host in flows.cluster_names:
            attached = step('attach on %s (local) after the bus restart'
                            % host, flows.attach_write, volume.id, host,
                            'four', holder=host)
            if attached:
                step('detach from %s after the bus restart' % host,
                     flows.detach, attached, holder=host)
        step('delete after the bus restart', races.delete_left, volume.id)
    step('no volume service restarted for the bus',
         races.services_not_restarted, ready)
    if started.volume_id:
        step('delete the clone made across the bus restart',
             races.delete_left, started.volume_id)
    step('delete the clone\'s source', races.delete_left, source.id)


def races_once(flows, races, when, full=False):
    """Every race, each flow's name followed by ``when``; ``full`` asks
    for :data:`FULL_CONCURRENT_COPIES` copies at once.
    """
    delete_source_during_copy(flows, races, 'volume', when)
    delete_source_during_copy(flows, races, 'snapshot', when)
    extend_during_attach(flows, races, when)
    two_attachments_at_once(flows, races, when)
    copies_at_once(flows, races, when, count=(
        FULL_CONCURRENT_COPIES if full else CONCURRENT_COPIES))


def on_file_locks(flows, full=False):
    """While the volume services run on Cinder's default, a lock directory
    of each node (they are set up on it, and each must have warned of it at
    start-up): every race, to show what the distributed locks buy; then the
    stream of mixed requests across a rolling restart that moves the
    services onto etcd, as an operator moves a cloud's locks (no two of the
    stream's requests touch one resource, so Cinder's locks decide nothing
    in it, and a restart apiece is all the move costs). The move is the
    only restart: the flows after it run on etcd. ``full``: the issue's
    counts, not CI's (:func:`races_once`, :data:`FULL_STREAM_REQUESTS`).
    """
    races = Races(flows)
    flows.step('every volume service warned of its file locks',
               races.warned_of_file_locks)
    races_once(flows, races, ', file locks', full)
    stream = Stream(flows, races, flows.controller.guest_urls()[2],
                    FULL_STREAM_REQUESTS if full else STREAM_REQUESTS)
    step_with_outcome(flows, '%d mixed requests from %d clients, rolling '
                      'restart onto etcd' % (stream.requests, stream.clients),
                      stream.run)
    step_with_outcome(flows, 'delete what the stream left', stream.clean_up)


def on_etcd_locks(flows, full=False):
    """Once the services' locks are on etcd: the bus restart; every race
    again (``full``: as :func:`on_file_locks`); the consistency check over
    everything the gate did.
    """
    races = Races(flows)
    bus_restart(flows, races)
    races_once(flows, races, ', etcd locks', full)
    step_with_outcome(flows, 'Cinder and the cluster agree', consistency,
                      flows)


def step_with_outcome(flows, flow, action, *args):
    """``flows.step``, its row keeping what the step returned (its
    :class:`Outcome`) when it passed.
    """
    result = flows.step(flow, action, *args)
    if result is not None:
        flows.rows[-1]['outcome'] = str(result)
    return result


def consistency(cinder, flows):
    """The step that ends the gate's flows: Cinder's records and the
    cluster agree. Every available or in-use volume has its LV, of its size
    and tagged with its id; every volume's LV (``volume-ID``) has a volume
    in Cinder; no node keeps a volume's LV active, or an iSCSI target, that no
    attachment uses.
    """
    volumes = {volume.id: volume for volume in
               cinder.volumes.list(search_opts={'all_tenants': 1})}
    node = flows.nodes[next(name for name in flows.cluster_names
                            if name not in flows.dead)]
    listing = node.run('lvs', '--noheadings', '--units', 'g', '--nosuffix',
                       '-o', 'lv_name,lv_size,lv_tags', 'vgc', timeout=60)
    lvs = {}
    for line in listing.stdout.splitlines():
        fields = line.split()
        if fields and fields[0].startswith('volume-'):
            lvs[fields[0][len('volume-'):]] = (
                float(fields[1]), fields[2] if len(fields) > 2 else '')
    problems = []
    for volume_id, volume in sorted(volumes.items()):
        if volume.status not in ('available', 'in-use'):
            continue
        if volume_id not in lvs:
            problems.append('%s (%s) has no LV' % (volume_id, volume.status))
            continue
        size, tags = lvs[volume_id]
        if round(size) != volume.size:
            problems.append('%s is %s GiB, its LV %s' % (
                volume_id, volume.size, size))
        if 'cinder-volume:%s' % volume_id not in tags.split(','):
            problems.append('%s: its LV lacks its tag (%s)' % (
                volume_id, tags))
    problems += ['LV volume-%s has no volume in Cinder' % volume_id
                 for volume_id in sorted(set(lvs) - set(volumes))]
    in_use = {volume_id for volume_id, volume in volumes.items()
              if volume.status == 'in-use'}
    for name in flows.cluster_names:
        if name in flows.dead:
            continue
        active = flows.nodes[name].run(
            'lvs', '--noheadings', '-S', 'lv_active=active', '-o',
            'lv_name', 'vgc', timeout=60).stdout.split()
        problems += ['%s keeps %s active, not in use' % (name, lv)
                     for lv in active if lv.startswith('volume-')
                     and lv[len('volume-'):] not in in_use]
        targets = flows.nodes[name].run(
            'ls', '/sys/kernel/config/target/iscsi', timeout=30).stdout
        problems += ['%s keeps the target %s, not in use' % (name, target)
                     for target in targets.split()
                     if target.startswith('iqn.') and
                     not any(volume_id in target for volume_id in in_use)]
    if problems:
        raise api_flows.FlowError('; '.join(problems))
    return Outcome('%d volumes, %d LVs: consistent' % (len(volumes),
                                                       len(lvs)))


class Stream:
    """Mixed requests from several clients at once while the volume
    services restart one after the other: each client makes a volume,
    snapshots, clones, extends, attaches (local, on a node of its own),
    detaches and deletes them, round after round, each request with a
    request id of its own, until enough requests were made and every
    service has restarted.

    A resource left in a transitional status fails the stream, unless the
    request that put it there reached no volume service (no node logged
    its id): Cinder lost that request on its way, while a service stopped.
    Those are counted in the outcome, and :meth:`clean_up` resets them as
    an administrator would before deleting them.
    """

    def __init__(self, flows, races, coordination, requests=STREAM_REQUESTS,
                 clients=STREAM_CLIENTS):
        self.flows = flows
        self.races = races
        #: where each service's Cinder locks are once it has restarted
        self.coordination = coordination
        self.requests = requests
        self.clients = clients
        self.answers = []
        self.restarted = []
        self.left = []
        #: resource id -> request id of the last request that changed it
        self.changed_by = {}
        #: ``(manager, resource id)`` left behind by requests Cinder lost
        self.lost = []
        #: attachments whose detach failed (a service stopped under it)
        self.still_attached = []
        self._lock = threading.Lock()
        self._current = threading.local()
        #: the clients stop at once: no restart is left to wait for
        self._restarts_failed = threading.Event()

    def _done(self):
        if self._restarts_failed.is_set():
            return True
        with self._lock:
            return (len(self.answers) >= self.requests and
                    len(self.restarted) == len(self._nodes()))

    def _nodes(self):
        return [node for node in self.flows.cluster_names
                if node not in self.flows.dead]

    def _request(self, label, action, *args, **kwargs):
        """One request: its final status, or None where it failed (the
        failure kept as its answer).
        """
        request_id = 'req-%s' % uuid.uuid4()
        self._current.request_id = request_id
        cinder = api_flows.client(self.flows.api_url, request_id)
        started = time.monotonic()
        try:
            result, outcome = action(cinder, *args, **kwargs), 'ok'
        except guests.GateTimeout:
            raise
        except Exception as error:
            result, outcome = None, 'failed: %s' % type(error).__name__
            self.flows.log('stream: %s %s: %.300s' % (label, outcome, error))
        with self._lock:
            self.answers.append({'request': label, 'outcome': outcome,
                                 'request_id': request_id,
                                 'seconds': round(time.monotonic() - started,
                                                  1)})
        return result

    def _changing(self, resource_id):
        # only once the API accepted it: a refused request changed nothing
        with self._lock:
            self.changed_by[resource_id] = self._current.request_id

    def _round(self, client_number):
        """One round of one client's requests (a volume, its snapshot and
        clone, the snapshot's delete, an extend, an attach and detach, the
        deletes), cut short once the stream is done.
        """
        flows = self.flows
        host = flows.cluster_names[client_number % len(flows.cluster_names)]
        request = self._request

        def create(cinder, **source):
            return self._settle(cinder, 'volumes',
                                cinder.volumes.create(1, **source))

        def snapshot(cinder, volume_id):
            return self._settle(cinder, 'volume_snapshots',
                                cinder.volume_snapshots.create(volume_id))

        def extend(cinder, volume_id):
            cinder.volumes.extend(volume_id, 2)
            self._changing(volume_id)
            return self._settle(cinder, 'volumes',
                                cinder.volumes.get(volume_id))

        def detach(cinder, attached):
            flows.detach(cinder, attached)
            return attached

        def delete(cinder, manager, resource_id):
            getattr(cinder, manager).delete(resource_id)
            self._changing(resource_id)
            status = self._settled(getattr(cinder, manager).get, resource_id)
            if status != DELETED:
                raise api_flows.FlowError('%s is %s after its delete'
                                          % (resource_id, status))

        volume = request('create', create)
        if volume is None:
            return
        snap = request('snapshot', snapshot, volume)
        clone = request('clone', create, source_volid=volume) \
            if not self._done() else None
        if snap is not None:
            request('delete snapshot', delete, 'volume_snapshots', snap)
        if not self._done():
            request('extend', extend, volume)
        attached = None
        if not self._done():
            attached = request('attach on %s' % host, flows.attach, volume,
                               host, str(uuid.uuid4()))
        if attached is not None and request(
                'detach from %s' % host, detach, attached) is None:
            with self._lock:
                self.still_attached.append(attached)
        for resource_id in (clone, volume):
            if resource_id is not None:
                request('delete', delete, 'volumes', resource_id)

    def _settle(self, cinder, manager, resource):
        self._changing(resource.id)
        with self._lock:
            if (manager, resource.id) not in self.left:
                self.left.append((manager, resource.id))
        status = self._settled(getattr(cinder, manager).get, resource.id)
        if status != 'available':
            raise api_flows.FlowError('%s is %s' % (resource.id, status))
        return resource.id

    def _settled(self, get, resource_id):
        """settled() within STREAM_BOUND, given up once the current
        request is STREAM_LOST_AFTER s old and no volume service logged it
        (its resource is then counted by :meth:`run`).
        """
        request_id = self._current.request_id
        made = time.monotonic()
        looked = [made]

        def lost():
            now = time.monotonic()
            if (now - made < STREAM_LOST_AFTER or
                    now - looked[0] < STREAM_LOST_CHECK):
                return False
            looked[0] = now
            if self.flows.served_by(request_id):
                return False
            self.flows.log('stream: %s still transitional %.0f s after %s, '
                           'which no volume service logged: not waited for'
                           % (resource_id, now - made, request_id))
            return True

        return settled(get, resource_id, STREAM_BOUND, lost)

    def _client(self, number):
        while not self._done():
            self._round(number)

    def _restarts(self):
        """Each service restarted in turn onto :attr:`coordination`, once
        the stream is under way.
        """
        try:
            self._restart_each()
        except BaseException:
            self._restarts_failed.set()
            raise

    def _restart_each(self):
        flows = self.flows
        guests.wait_until(lambda: len(self.answers) >= self.clients, 600,
                          'the stream to be under way')
        cinder = api_flows.client(flows.api_url)
        for node in self._nodes():
            flows.log('stream: restarting cinder-volume on %s after %d '
                      'requests' % (node, len(self.answers)))
            warned = self.races.warnings(node)
            self.races.stop_onto(node, self.coordination)
            flows.start_service(cinder, node)
            if self.races.warnings(node) > warned:
                raise api_flows.FlowError(
                    '%s warned of a file coordination URL after its restart '
                    'onto %s' % (node, self.coordination))
            with self._lock:
                self.restarted.append(node)

    def run(self, cinder):
        """The stream; its counts, once every request and the clean-up
        ended with nothing left in a transitional status by a request a
        volume service received.
        """
        with concurrent.futures.ThreadPoolExecutor(self.clients + 1) as pool:
            futures = [pool.submit(self._client, number)
                       for number in range(self.clients)]
            futures.append(pool.submit(self._restarts))
            for future in futures:
                future.result()
        left = list(self.left)

        def settled_all():
            left[:] = [(manager, resource_id) for manager, resource_id in left
                       if api_flows.status_of(getattr(cinder, manager).get,
                                              resource_id) in TRANSITIONAL]
            return not left

        try:
            guests.wait_until(settled_all, STREAM_FINAL_BOUND,
                              "the stream's resources to settle")
        except guests.GuestError:
            pass  # each one still transitional is told apart below
        stuck = []
        for manager, resource_id in left:
            status = api_flows.status_of(getattr(cinder, manager).get,
                                         resource_id)
            request_id = self.changed_by.get(resource_id)
            said = '%s %s (%s)' % (resource_id, status, request_id)
            if self.flows.served_by(request_id):
                stuck.append(said)
            else:
                self.lost.append((manager, resource_id))
                self.flows.log('stream: %s: no volume service received the '
                               'request' % said)
        counts = {}
        for answer in self.answers:
            counts[answer['outcome']] = counts.get(answer['outcome'], 0) + 1
        said = '%d requests from %d clients while %s restarted: %s' % (
            len(self.answers), self.clients, ' then '.join(self.restarted),
            ', '.join('%s %d' % item for item in sorted(counts.items())))
        if self.lost:
            said += ('; %d left in a transitional status by requests no '
                     'volume service received' % len(self.lost))
        self.flows.log('stream: ' + said)
        if stuck:
            raise api_flows.FlowError('%s; stuck after a volume service '
                                      'took the request: %s' % (
                                          said, ', '.join(stuck)))
        return Outcome(said)

    def clean_up(self, cinder):
        """Delete what the stream's failed rounds left (snapshots first);
        what Cinder lost is first reset to error, as an administrator does
        with a resource whose request went nowhere, and a detach that failed
        is asked for again, as Nova does.
        """
        for attached in self.still_attached:
            self.flows.detach(cinder, attached)
        for manager, resource_id in self.lost:
            getattr(cinder, manager).reset_state(resource_id, 'error')
        deleted = 0
        for manager, resource_id in sorted(
                self.left, key=lambda item: item[0] != 'volume_snapshots'):
            kind = 'snapshot' if manager == 'volume_snapshots' else 'volume'
            deleted += self.races.delete_left(
                cinder, resource_id, kind) == DELETED
        return Outcome('%d left, deleted; %d reset, %d detached first' % (
            deleted, len(self.lost), len(self.still_attached)))
