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

"""``tools/cluster/gate --cinder``: Cinder as operators run it, on the real
cluster.

The host runs the control plane (:mod:`tests.cluster.controller`); each
cluster guest runs ``cinder-volume`` with this driver, installed from its
wheel and configured by ``devstack/lib/drbd_clvm``
(``tools/cluster/cinder-node``), every service in one Cinder cluster; one
more guest is a compute host. Every request goes through ``cinder-api``
(:mod:`tests.cluster.api_flows`), once the held start of a change is
shown on the first node (:mod:`tests.cluster.held_check`): requests that
race on Cinder's default file locks and a stream of requests across the
rolling restart that moves them onto etcd, then the flows, then the races
again and a consistency check (:mod:`tests.cluster.race_flows`); the
table of flows, the node that served each and its time is printed and kept
in ``results/cinder-latest.json``.

The cluster is the DRBD pair, or with ``--shared-lun LOCK`` the three
nodes on one shared disk (:mod:`tests.cluster.shared_lun_gate`'s lab),
kept in ``results/cinder-shared-lun-LOCK-latest.json``.
"""

import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tests.cluster import api_flows
from tests.cluster import controller as controller_module
from tests.cluster import gate
from tests.cluster import guests
from tests.cluster import held_check
from tests.cluster import race_flows

RESULTS = os.path.join(guests.ROOT, 'results', 'cinder-latest.json')
#: nodes of the shared-LUN lab Cinder runs on
SHARED_LUN_NODES = 3
#: what ``brick serve`` prints, on each host
BRICK_LOG = '/var/log/drbd-clvm-brick.log'
#: tooz's etcd3+http driver's client library
COORDINATION_CLIENT = 'etcd3gw>=2.3.0'


def build_driver_wheel(directory):
    """This checkout's driver as the wheel an operator would install, and
    tooz's etcd client (Cinder's coordination, as DevStack installs it).
    """
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet',
                    '--no-deps', '--wheel-dir', directory, guests.ROOT,
                    COORDINATION_CLIENT], check=True)
    return glob.glob(os.path.join(directory, '*.whl'))


def start_volume_services(cluster, controller):
    """Set up and start every node's service at once (each set-up is
    minutes of emulated pip and Python start-up), Cinder's locks on its
    default, a directory of each node: the races run on it first, and the
    stream's rolling restart then moves them onto etcd
    (:func:`tests.cluster.race_flows.on_file_locks`).
    """
    transport, database, _etcd = controller.guest_urls()
    urls = [transport, database, race_flows.FILE_COORDINATION]

    def start(node):
        node.runner.run(['drbd-clvm-cinder-node', 'setup'] + urls +
                        [api_flows.volume_host(cluster, node.name)],
                        timeout=600)
        node.runner.run(['drbd-clvm-cinder-node', 'start'], timeout=60)

    with concurrent.futures.ThreadPoolExecutor(len(cluster.nodes)) as pool:
        for done in [pool.submit(start, node) for node in cluster.nodes]:
            done.result()


def wait_services_up(cluster, api_url):
    """Until every node's volume service consumes its queues, Cinder lists
    it up and the scheduler knows its pool (else the first create finds no
    backend).
    """
    cinder = api_flows.client(api_url)
    hosts = [api_flows.service_host(cluster, node.name)
             for node in cluster.nodes]

    def up():
        if not all(api_flows.rpc_ready_count(node) for node in cluster.nodes):
            return False
        listed = [service.host for service in
                  cinder.services.list(binary='cinder-volume')
                  if service.state == 'up']
        return all(host in listed for host in hosts) and cinder.pools.list()

    guests.wait_until(up, api_flows.SERVICE_START_TIMEOUT,
                      'volume services to take requests on %s'
                      % ', '.join(hosts))


def start_brick_servers(cluster):
    """``brick serve`` on every host, as nova-compute keeps os-brick
    loaded: each attach and detach then skips a Python start-up with
    os-brick (about 30 s in these emulated guests). Started beside the
    volume services, waited for by :func:`wait_brick_servers`.
    """
    for host in cluster.hosts:
        host.run('sh', '-c', 'setsid %s serve </dev/null >>%s 2>&1 &'
                 % (api_flows.BRICK, BRICK_LOG))


def wait_brick_servers(cluster):
    def listening():
        return all(host.run('test', '-S', api_flows.BRICK_SOCKET).exit_code
                   == 0 for host in cluster.hosts)

    guests.wait_until(listening, 300, 'os-brick servers on %s'
                      % ', '.join(host.name for host in cluster.hosts))


def fetch_service_logs(cluster, logs_dir):
    os.makedirs(logs_dir, exist_ok=True)
    for node in cluster.hosts:
        for path in ('/var/log/cinder/cinder-volume.log',
                     '/var/log/cinder/cinder-volume.out', BRICK_LOG):
            result = node.run('cat', path, timeout=60)
            if result.exit_code == 0:
                with open(os.path.join(logs_dir, '%s-%s' % (
                        node.name, os.path.basename(path))), 'w') as handle:
                    handle.write(result.stdout)


def results_path(shared_lun=None):
    if shared_lun is None:
        return RESULTS
    return os.path.join(guests.ROOT, 'results',
                        'cinder-shared-lun-%s-latest.json' % shared_lun)


def write_results(rows, shared_lun=None):
    path = results_path(shared_lun)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(dict(guests.provenance(), rows=rows),
                  handle, indent=1, sort_keys=True)
        handle.write('\n')


def check_coordination(controller, log):
    """Cinder's own locks (``[coordination]``, tooz on etcd, as DevStack
    sets them) were taken in etcd, not in a directory of each node.
    """
    revision = controller.etcd_revision()
    log('etcd revision %d after the flows' % revision)
    if revision <= 1:
        raise controller_module.ControllerError(
            'nothing was written into etcd: Cinder\'s services did not '
            'take their locks there')


def run(logs_dir, log=print, shared_lun=None, full_races=False):
    """The flows on the DRBD pair, or on the shared-LUN lab with the lock
    manager ``shared_lun`` names; ``full_races``: the races' full counts
    (:mod:`~tests.cluster.race_flows`), not CI's.
    """
    phase = gate.phase
    lab = {}
    if shared_lun:
        lab = dict(shared_lun_nodes=SHARED_LUN_NODES,
                   lock_manager=shared_lun)
    image = phase('build or reuse the guest image with Cinder',
                  gate.build_image)
    with tempfile.TemporaryDirectory(prefix='drbd-clvm-cinder-') as workdir:
        wheels = phase('build the driver\'s wheel', build_driver_wheel,
                       workdir)
        controller = controller_module.Controller(workdir, log=log)
        try:
            phase('start MariaDB, RabbitMQ, etcd, cinder-api, '
                  'cinder-scheduler on the host', controller.start)
            with guests.booted(image, log=log, logs_dir=logs_dir,
                               control=controller.guest_forwards(),
                               wheels=wheels, **lab) as cluster:
                try:
                    phase('set up and start cinder-volume on %s'
                          % ', '.join(node.name for node in cluster.nodes),
                          start_volume_services, cluster, controller)
                    start_brick_servers(cluster)
                    phase('wait for every volume service to take '
                          'requests', wait_services_up, cluster,
                          controller.api_url)
                    phase('wait for os-brick on every host',
                          wait_brick_servers, cluster)
                    phase('a change held behind LVM\'s VG lock',
                          held_check.run, cluster, log)
                    flows = api_flows.Flows(cluster, controller, log=log)
                    rows = flows.rows
                    phase('requests that race on file locks, the stream '
                          'onto etcd', race_flows.on_file_locks, flows,
                          full_races)
                    phase('flows through the API', api_flows.run, flows)
                    phase('requests that race on etcd, and the '
                          'consistency check', race_flows.on_etcd_locks,
                          flows, full_races)
                    phase('Cinder\'s locks went through etcd',
                          check_coordination, controller, log)
                finally:
                    fetch_service_logs(cluster, logs_dir)
        finally:
            controller.stop()
            os.makedirs(logs_dir, exist_ok=True)
            for name in os.listdir(workdir):
                if name.endswith(('.log', '.out')):
                    shutil.move(os.path.join(workdir, name),
                                os.path.join(logs_dir, 'host-' + name))
    print(api_flows.format_table(rows), flush=True)
    write_results(rows, shared_lun)
    failed = ['%s (%.200s)' % (row['flow'], row['status'])
              for row in rows if row['status'] != 'ok']
    if failed:
        # CI shows this line after its table; the table itself scrolls away
        raise guests.GuestError('flows not ok: %s' % '; '.join(failed))
