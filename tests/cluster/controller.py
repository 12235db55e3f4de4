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

"""Cinder's control plane for the gate's ``--cinder`` mode, on the host.

MariaDB, RabbitMQ and etcd (Cinder's coordination, as DevStack's etcd3
service) from Debian's packages, ``cinder-api`` (noauth) and
``cinder-scheduler`` from Cinder's released Python packages (this
virtualenv's), all listening on host loopback only. The cluster guests'
``cinder-volume`` services reach the database, the message bus and etcd
through qemu's user network, which forwards exactly these three ports
(:meth:`Controller.guest_forwards`) and nothing else.

Kept on the host rather than in a fourth guest: the guests are emulated
(TCG) on two cores, and the control plane is not what the gate judges.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from tests.cluster import guests

#: the address the guests use for the host's services
GUEST_SIDE_ADDRESS = '10.0.2.100'
DATABASE_PASSWORD = 'gate'
#: MariaDB's max_connections, as DevStack sets it
DATABASE_CONNECTIONS = 1024
PACKAGES = {'mariadbd': 'mariadb-server', 'rabbitmq-server': 'rabbitmq-server',
            'etcd': 'etcd-server', 'socat': 'socat'}
#: the port the guests reach etcd on (etcd's own), as DevStack's ETCD_PORT
ETCD_GUEST_PORT = 2379
#: seconds for a service to listen
START_TIMEOUT = 120


def _coordination_url(address, port):
    """Cinder's ``[coordination] backend_url`` on etcd, as DevStack's
    lib/cinder writes it when etcd3 is enabled.
    """
    return 'etcd3+http://%s:%d' % (address, port)


class ControllerError(guests.GuestError):
    """A control-plane service did not start (the gate reports it as it
    reports a guest that did not).
    """


def _free_tcp_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _listening(port):
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(('127.0.0.1', port)) == 0


def ensure_packages():
    """Install the Debian packages the control plane runs from, without
    starting their system services (the gate runs its own instances).
    """
    missing = sorted({package for program, package in PACKAGES.items()
                      if not shutil.which(program, path='/usr/sbin:/usr/bin:'
                                          '/sbin:/bin')})
    if not missing:
        return
    policy = '/usr/sbin/policy-rc.d'
    made_policy = not os.path.exists(policy)
    if made_policy:
        with open(policy, 'w') as handle:
            handle.write('#!/bin/sh\nexit 101\n')
        os.chmod(policy, 0o755)
    try:
        subprocess.run(['apt-get', 'update', '-q'], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(['apt-get', 'install', '-y', '-q',
                        '--no-install-recommends'] + missing, check=True,
                       stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
    finally:
        if made_policy:
            os.unlink(policy)


class Controller:
    """MariaDB, RabbitMQ, etcd, cinder-api and cinder-scheduler in
    ``workdir``.

    :param log: a function taking one line, for progress.
    """

    def __init__(self, workdir, log=print):
        self.workdir = workdir
        self.log = log
        self.database_port = _free_tcp_port()
        self.rabbit_port = _free_tcp_port()
        self.etcd_port = _free_tcp_port()
        self.api_port = _free_tcp_port()
        self.processes = {}
        self.conf = os.path.join(workdir, 'cinder.conf')

    # What the guests and the gate use.

    @property
    def api_url(self):
        return 'http://127.0.0.1:%d/v3' % self.api_port

    def guest_forwards(self):
        """qemu ``guestfwd`` rules: the database, the bus and etcd, one
        socat per connection, to host loopback.
        """
        return ['tcp:%s:%d-cmd:socat - TCP:127.0.0.1:%d'
                % (GUEST_SIDE_ADDRESS, guest_port, host_port)
                for guest_port, host_port in (
                    (3306, self.database_port), (5672, self.rabbit_port),
                    (ETCD_GUEST_PORT, self.etcd_port))]

    def guest_urls(self):
        """(transport_url, database connection, coordination backend_url)
        as a guest writes them.
        """
        return ('rabbit://guest:guest@%s:5672/' % GUEST_SIDE_ADDRESS,
                'mysql+pymysql://cinder:%s@%s:3306/cinder?charset=utf8'
                % (DATABASE_PASSWORD, GUEST_SIDE_ADDRESS),
                _coordination_url(GUEST_SIDE_ADDRESS, ETCD_GUEST_PORT))

    def log_path(self, name):
        return os.path.join(self.workdir, '%s.log' % name)

    # Life cycle.

    def start(self):
        ensure_packages()
        self._start_mariadb()
        self._start_rabbitmq()
        self._start_etcd()
        self._write_conf()
        self.manage('db', 'sync')
        for service in ('cinder-api', 'cinder-scheduler'):
            self._spawn(service, [os.path.join(sys.prefix, 'bin', service),
                                  '--config-file', self.conf,
                                  '--log-file', self.log_path(service)])
        self._wait_listening('cinder-api', self.api_port)

    def stop(self):
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self.processes.clear()
        # RabbitMQ leaves its port mapper behind; nothing else uses it here.
        subprocess.run(['pkill', '-f', 'epmd -daemon'], check=False)

    def _spawn(self, name, argv, env=None):
        out = open(self.log_path(name + '.out'), 'ab')
        # In the work directory: what a service leaves on a crash (Erlang's
        # erl_crash.dump, MnesiaCore.*) goes with it, never into the checkout.
        self.processes[name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
            cwd=self.workdir)
        out.close()

    def _wait_listening(self, name, port):
        def listening():
            if self.processes[name].poll() is not None:
                raise ControllerError('%s exited with %s; see %s' % (
                    name, self.processes[name].returncode,
                    self.log_path(name + '.out')))
            return _listening(port)

        guests.wait_until(listening, START_TIMEOUT,
                          '%s to listen on %d' % (name, port))

    def _start_mariadb(self):
        datadir = os.path.join(self.workdir, 'mysql')
        socket_path = os.path.join(self.workdir, 'mysql.sock')
        subprocess.run(['mariadb-install-db', '--no-defaults', '--user=root',
                        '--datadir=' + datadir, '--skip-test-db'],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self._spawn('mariadb', [
            'mariadbd', '--no-defaults', '--user=root',
            '--datadir=' + datadir, '--socket=' + socket_path,
            '--port=%d' % self.database_port, '--bind-address=127.0.0.1',
            '--skip-name-resolve', '--innodb-buffer-pool-size=64M',
            # MariaDB's own 151 is less than four services' connection
            # pools may open at once (oslo.db: 5, and 50 more under load,
            # each).
            '--max-connections=%d' % DATABASE_CONNECTIONS,
            '--log-error=' + self.log_path('mariadb')])
        self._wait_listening('mariadb', self.database_port)
        sql = ("CREATE DATABASE cinder; CREATE USER 'cinder'@'%%' "
               "IDENTIFIED BY '%s'; GRANT ALL ON cinder.* TO 'cinder'@'%%';"
               % DATABASE_PASSWORD)
        subprocess.run(['mariadb', '--no-defaults', '-S', socket_path,
                        '-u', 'root', '-e', sql], check=True)

    def _start_rabbitmq(self):
        base = os.path.join(self.workdir, 'rabbitmq')
        os.makedirs(base)
        plugins = os.path.join(base, 'enabled_plugins')
        with open(plugins, 'w') as handle:
            handle.write('[].\n')
        env = dict(
            os.environ, HOME=base,
            RABBITMQ_NODENAME='rabbit-gate@localhost',
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.rabbit_port),
            RABBITMQ_DIST_PORT=str(_free_tcp_port()),
            RABBITMQ_MNESIA_BASE=os.path.join(base, 'mnesia'),
            RABBITMQ_LOG_BASE=base,
            RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
            # One scheduler and no busy waiting: the guests need the CPU.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                '+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none'))
        self._rabbit_env = env
        self._spawn_rabbitmq()

    def _spawn_rabbitmq(self):
        # Debian's /usr/sbin wrapper would su to its own user and HOME.
        self._spawn('rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'],
                    env=self._rabbit_env)
        self._wait_listening('rabbitmq', self.rabbit_port)

    def restart_rabbitmq(self):
        """Stop RabbitMQ as a crash or an upgrade does - every connection
        and every queue the services declared gone - and start it again on
        the same port; seconds it was away.
        """
        started = time.monotonic()
        process = self.processes['rabbitmq']
        # its own session (see _spawn): the script and the Erlang VM
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        self._spawn_rabbitmq()
        return time.monotonic() - started

    def _start_etcd(self):
        """One etcd member for Cinder's coordination (tooz), as
        DevStack's etcd3 service.
        """
        peer_url = 'http://127.0.0.1:%d' % _free_tcp_port()
        client_url = 'http://127.0.0.1:%d' % self.etcd_port
        self._spawn('etcd', [
            'etcd', '--name', 'gate',
            '--data-dir', os.path.join(self.workdir, 'etcd'),
            '--listen-client-urls', client_url,
            '--advertise-client-urls', client_url,
            '--listen-peer-urls', peer_url,
            '--initial-advertise-peer-urls', peer_url,
            '--initial-cluster', 'gate=' + peer_url])
        self._wait_listening('etcd', self.etcd_port)

    def etcd_revision(self):
        """etcd's revision: one more for each key written or deleted (it
        starts at 1), here by Cinder's locks.
        """
        from etcd3gw import client  # the gate's --cinder mode has it
        status = client(host='127.0.0.1', port=self.etcd_port).status()
        return int(status['header']['revision'])

    def _write_conf(self):
        paste = os.path.join(sys.prefix, 'etc', 'cinder', 'api-paste.ini')
        state = os.path.join(self.workdir, 'cinder')
        os.makedirs(os.path.join(state, 'locks'))
        settings = {
            'DEFAULT': {
                # The client's URLs carry the project id, as with Keystone.
                'auth_strategy': 'noauth_include_project_id',
                'transport_url': 'rabbit://guest:guest@127.0.0.1:%d/'
                                 % self.rabbit_port,
                'osapi_volume_listen': '127.0.0.1',
                'osapi_volume_listen_port': str(self.api_port),
                'osapi_volume_workers': '1',
                # An export in the emulated guests is 4-5 runs of Cinder's
                # cinder-rtstool at 10-25 s each (sudo, rootwrap, Python):
                # over cinder-api's default 60 s wait for the volume service.
                'rpc_response_timeout': '300',
                # The races make clones at once beside the flows' volumes:
                # past Cinder's default quotas of one project (10 volumes).
                'quota_volumes': '-1',
                'quota_snapshots': '-1',
                'quota_gigabytes': '-1',
                'api_paste_config': paste,
                'state_path': state,
                'debug': 'True',
            },
            'database': {
                'connection': 'mysql+pymysql://cinder:%s@127.0.0.1:%d/'
                              'cinder?charset=utf8'
                              % (DATABASE_PASSWORD, self.database_port),
            },
            'oslo_concurrency': {'lock_path': os.path.join(state, 'locks')},
            'coordination': {
                'backend_url': _coordination_url('127.0.0.1',
                                                 self.etcd_port)},
        }
        with open(self.conf, 'w') as handle:
            for section, options in settings.items():
                handle.write('[%s]\n' % section)
                for key, value in options.items():
                    handle.write('%s = %s\n' % (key, value))
                handle.write('\n')

    def manage(self, *args):
        """``cinder-manage`` with the control plane's configuration; what
        it printed (its log lines go to its log file, not into that).
        """
        log_file = self.log_path('cinder-manage')
        with open(log_file, 'ab') as errors:
            return subprocess.run(
                [os.path.join(sys.prefix, 'bin', 'cinder-manage'),
                 '--config-file', self.conf, '--log-file', log_file] +
                list(args), check=True,
                stdout=subprocess.PIPE, stderr=errors,
                universal_newlines=True).stdout
