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

"""The real two-node cluster: two qemu guests, and commands run inside them.

:func:`booted` starts both guests from the image ``tools/cluster/build-image``
made, writes the project's guest scripts into this run's copy of it, waits
until the stack (corosync, dlm, lvmlockd, dual-primary DRBD, shared VG) is
up on both, and always stops them again. The guests' only network is a
private wire between them carried over host loopback.

Commands reach a guest through an agent on a virtio-serial port
(``tools/cluster/agent.py``); :class:`AgentRunner` makes that the driver's
command runner, so the driver's own layers run against real nodes.
"""

import contextlib
import itertools
import json
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from drbd_clvm_driver import exception
from drbd_clvm_driver import runner
from tests.cluster.hub import UdpHub

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GUEST_FILES = (
    ('tools/cluster/guest-init', '/usr/sbin/drbd-clvm-init', '0100755'),
    ('tools/cluster/agent.py', '/opt/drbd-clvm/agent.py', '0100755'),
    ('devstack/lib/drbd_clvm', '/opt/drbd-clvm/drbd_clvm', '0100644'),
    ('drbd_clvm_driver/cmd/fence.py', '/usr/sbin/drbd-clvm-fence',
     '0100755'),
    # what the fence program imports (the Cinder gate's wheel has it too)
    ('drbd_clvm_driver/fence_state.py',
     '/usr/lib/python3/dist-packages/drbd_clvm_driver/fence_state.py',
     '0100644'),
    ('tools/cluster/lab-fence-agent', '/usr/sbin/fence_drbd_clvm_lab',
     '0100755'),
    # The gate's --cinder mode (tests/cluster/cinder_gate.py).
    ('tools/cluster/cinder-node', '/usr/sbin/drbd-clvm-cinder-node',
     '0100755'),
    ('tools/cluster/brick', '/opt/drbd-clvm/brick', '0100755'),
    ('tools/cluster/cinder-volume', '/opt/drbd-clvm/cinder-volume',
     '0100755'),
    ('etc/drbd_clvm_driver/rootwrap.d/drbd_clvm.filters',
     '/opt/drbd-clvm/drbd_clvm.filters', '0100644'),
)
VG_NAME = 'vgc'
DRBD_RESOURCE = 'r0'
#: sparse DRBD backing disk: room for Cinder's flows (1 GiB clones
#: of one volume at once among them) and for Cinder's own driver, whose
#: sizes are whole GiB, in the benchmark
DRBD_DISK_SIZE = 32 * 1024 * 1024 * 1024
#: the plain two-node gate's DRBD disk: room for the scenarios (which size
#: themselves by the VG's free space; 50 concurrent 4 MiB creates a node)
#: and the fault campaign's volumes (at most about 700 MiB at once); a
#: replaced node's full sync of it takes about 2 minutes (16 MB/s measured,
#: both guests' CPUs busy; 8 GiB took 516 s)
TWO_NODE_GATE_DISK_SIZE = 1536 * 1024 * 1024
#: the shared-LUN lab's one disk (sparse), which every guest sees as a SCSI
#: disk with this serial (udev names it /dev/disk/by-id/scsi-0QEMU_QEMU_
#: HARDDISK_...); as large as the DRBD disk, so that Cinder's flows fit (a
#: 1 GiB volume, its snapshot, a volume from it and a clone with its
#: temporary snapshot at once: 4 GiB was short of one extent)
SHARED_LUN_SIZE = DRBD_DISK_SIZE
SHARED_LUN_SERIAL = 'drbdclvmlun'
SHARED_LUN_DEVICE = ('/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_%s'
                     % SHARED_LUN_SERIAL)
#: seconds for both guests to boot and bring the stack up
READY_TIMEOUT = 420
#: seconds for a node that was away (fenced, killed, repaired) to reboot,
#: rejoin and resync what it missed: longer than a boot on a busy host
#: (tests/cluster/faults.py's recovery; a repaired Cinder node timed out
#: at a boot's 420 s in CI while it resynced its 4.8 GiB activity log)
REJOIN_TIMEOUT = 1200
#: The emulated CPU without ERMS/FSRM: with them the kernel and glibc copy
#: memory with ``rep movsb``, which TCG runs a byte at a time (dd from
#: /dev/zero: 2.9 s with them, 0.45 s without). Without AVX, or as
#: ``qemu64``, the guests were no faster (importing Cinder 12.7 s here,
#: 16.7 and 14.2 s; five ``lvs`` 1.40, 1.56 and 1.43 s).
TCG_CPU = 'max,-erms,-fsrm'
#: No Spectre/Meltdown mitigations in the emulated guests (retpolines, RSB
#: fills): nothing else runs in them; boot 54 -> 45 s, ``lvs`` 0.41 -> 0.25 s.
#: The emulated TSC is trusted (no clocksource watchdog waking every half
#: second; on a busy host it judged the TSC unstable and moved the guest to
#: the far dearer HPET), no transparent huge pages (khugepaged scans) and
#: no lockup watchdogs. With :data:`TCG_MACHINE` an idle pair member took
#: 2.9-3.0 instead of 3.8-3.9 core-seconds a minute (2.3-2.4 once the idle
#: agents looked at their ports less often, tools/cluster/agent.py).
TCG_KERNEL_ARGS = ('mitigations=off tsc=reliable transparent_hugepage=never '
                   'nowatchdog')
#: No devices but those the gate names (no CD-ROM polled for media, no
#: floppy or VGA) and no HPET to emulate.
TCG_MACHINE = ['-nodefaults', '-machine', 'pc,hpet=off']
#: the cluster wire's interface in a guest, as tools/cluster/guest-init
#: names it
WIRE_NIC = 'wire'
#: seconds for every agent to answer (the kernel found our init): guests
#: booting at nice 5 beside others on two cores (ten at once in a CI
#: layout tried) had not reached their initramfs after 150 s
AGENT_TIMEOUT = 420


class GuestError(Exception):
    """A guest did not boot, answer or reach the state asked for."""


class AgentClient:
    """One connection to a guest agent; one request at a time."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._socket = None
        self._buffer = b''

    def _connect(self):
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX)
            self._socket.connect(self.path)
            self._buffer = b''

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def call(self, argv, timeout):
        """Run ``argv`` in the guest; the answer dict of the agent.

        Waits ``timeout`` plus a margin for the guest to answer; a guest
        that stays silent longer raises :class:`GuestError`.
        """
        with self._lock:
            request_id = next(self._ids)
            request = (json.dumps({'id': request_id, 'argv': list(argv),
                                   'timeout': timeout}) + '\n').encode()
            try:
                self._connect()
                self._socket.sendall(request)
            except OSError as error:
                # A guest that was powered off and on has a new port.
                self.close()
                raise GuestError('guest agent %s is not there: %s'
                                 % (self.path, error))
            deadline = time.monotonic() + timeout + 30
            while True:
                answer = self._read_line(deadline)
                if answer.get('id') == request_id:
                    return answer

    def _read_line(self, deadline):
        while b'\n' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise GuestError('guest agent %s did not answer' % self.path)
            self._socket.settimeout(left)
            try:
                chunk = self._socket.recv(65536)
            except socket.timeout:
                continue
            except OSError as error:
                # A guest reset (fenced) while it was answering.
                chunk, reason = b'', ': %s' % error
            else:
                reason = ''
            if not chunk:
                self.close()
                raise GuestError('guest agent %s hung up%s' % (self.path,
                                                               reason))
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b'\n', 1)
        return json.loads(line)


class AgentRunner(runner.CommandRunner):
    """The driver's command runner, executing inside one guest."""

    def __init__(self, agent_path, node, default_timeout=120):
        super().__init__(default_timeout=default_timeout, node=node)
        self.client = AgentClient(agent_path)

    def _execute(self, argv, timeout):
        answer = self.client.call(argv, timeout)
        return answer['exit_code'], answer['stdout'], answer['stderr']


class RealNode:
    """A guest as commands see it: ``runner`` for the driver's commands,
    ``io`` (the guest's second agent) for what instances would do,
    ``operator`` (its third) for what an operator types meanwhile.
    """

    def __init__(self, name, agent_path):
        self.name = name
        self.agent_path = agent_path
        self.runner = AgentRunner(agent_path, name)
        self.io, self.operator = (
            AgentRunner(os.path.join(os.path.dirname(agent_path),
                                     '%s.%s' % (name, port)), name)
            for port in ('io', 'operator'))

    @property
    def console_log(self):
        """The host's copy of the guest's console, every boot appended."""
        return os.path.join(os.path.dirname(self.agent_path),
                            '%s.console.log' % self.name)

    def run(self, *argv, timeout=60):
        return self.runner.run(argv, timeout=timeout, check=False)

    def close_agents(self):
        """Let go of every agent (another process, or the guest's next
        boot, connects anew).
        """
        for agent in (self.runner, self.io, self.operator):
            agent.client.close()


def restart_lvmlockd(runner):
    """``drbd_clvm_restart_lvmlockd`` of devstack/lib/drbd_clvm, in the
    guest ``runner`` reaches, with the settings its stack was started with
    (the lock manager among them: lvmlockd's lock type follows it).
    """
    runner.run(['bash', '-c', 'source /run/drbd-clvm/settings && '
                'source /opt/drbd-clvm/drbd_clvm && '
                'drbd_clvm_restart_lvmlockd'], timeout=150)


class RealCluster:
    """The running cluster guests, as the scenario tests see them.

    :param lab: how the nodes share the VG and lock it: ``replication``,
        ``target``, ``lock_manager`` (:func:`~drbd_clvm_driver.stack.
        build`'s), and ``fencing`` (whether a node that loses corosync is
        fenced and comes back).
    """

    vg_name = VG_NAME
    drbd_resource = DRBD_RESOURCE
    #: the DRBD pair's; a shared-LUN lab says its own
    DRBD_LAB = {'replication': 'drbd', 'target': DRBD_RESOURCE,
                'lock_manager': 'lvmlockd', 'fencing': True}
    #: the host's fence device (:mod:`tests.cluster.fencing`), where this
    #: process booted the guests
    fence_device = None
    #: compute hosts (:class:`RealNode`, no cluster stack) booted with it
    compute = ()

    def __init__(self, nodes, lab=None):
        self.nodes = tuple(nodes)
        self.lab = dict(lab or self.DRBD_LAB)
        self.replication = self.lab['replication']
        self.target = self.lab['target']
        self.lock_manager = self.lab['lock_manager']
        self.fencing = self.lab['fencing']

    @property
    def hosts(self):
        """Every guest: the cluster nodes, then the compute hosts."""
        return self.nodes + tuple(self.compute)

    def record(self, directory, recording,
               lab='the two gate guests (Debian 12, DRBD 8.4.11, LVM '
                   '2.03.16, lvmlockd with dlm, corosync 3.1.7)'):
        """Run ``recording`` (``(node index, argv)`` pairs) and write each
        output as a fixture file, with an INDEX.md naming ``lab``, into
        ``directory``.
        """
        os.makedirs(directory, exist_ok=True)
        index_lines = [
            '# Real outputs recorded by the cluster gate', '',
            'Written by `tools/cluster/gate --record`: the driver\'s own '
            'queries and the refusals it maps, on %s.' % lab, '',
            '| file | command | exit |', '|---|---|---|']
        for number, (index, argv) in enumerate(recording, 1):
            node = self.nodes[index]
            result = node.run(*argv)
            slug = re.sub(r'[^A-Za-z0-9]+', '_',
                          ' '.join(argv)).strip('_')[:60]
            path = os.path.join(directory, '%s-%02d-%s.txt' % (
                node.name, number, slug))
            with open(path, 'w') as handle:
                handle.write('# command: %s\n# node: %s\n# exit code: %s\n'
                             % (' '.join(argv), node.name, result.exit_code))
                handle.write(result.stdout + result.stderr)
            index_lines.append('| %s | `%s` | %s |' % (
                os.path.basename(path), ' '.join(argv), result.exit_code))
        with open(os.path.join(directory, 'INDEX.md'), 'w') as handle:
            handle.write('\n'.join(index_lines) + '\n')

    def proc_drbd(self):
        return {node.name: node.run('cat', '/proc/drbd').stdout
                for node in self.nodes}

    def _wait_drbd(self, predicate, what, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            states = self.proc_drbd()
            if all(predicate(text) for text in states.values()):
                return
            if time.monotonic() > deadline:
                raise GuestError('DRBD did not become %s: %s' % (what, states))
            time.sleep(1)

    # Faults the scenario tests make. On the real cluster a node whose
    # corosync dies is fenced by its peer and comes back by itself; the
    # "start" of corosync is waiting for that.

    def _wait_gone(self, node, program, timeout=30):
        wait_until(lambda: node.run('pgrep', '-x', program).exit_code == 1,
                   timeout, '%s to stop on %s' % (program, node.name))

    def _boot_id(self, node):
        try:
            return node.run('cat', '/proc/sys/kernel/random/boot_id',
                            timeout=10).stdout.strip()
        except GuestError:
            return None

    def stop_corosync(self, node):
        """SIGKILL corosync on ``node``; dlm_controld follows it down, and
        some seconds later the peer fences ``node``.
        """
        self._fenced_boot = self._boot_id(node)
        node.run('pkill', '-9', '-x', 'corosync')
        self._wait_gone(node, 'corosync')
        self._wait_gone(node, 'dlm_controld')

    def start_corosync(self, node):
        """Wait until ``node`` has been fenced, is back, and DRBD (where
        the lab has it) is whole.
        """
        wait_until(
            lambda: self._boot_id(node) not in (None, self._fenced_boot),
            120, '%s to be fenced and boot again' % node.name)
        wait_ready([node])
        if self.replication != 'drbd':
            return
        self._wait_drbd(lambda text: ('ro:Primary/Primary' in text and
                                      'ds:UpToDate/UpToDate' in text),
                        'Primary/Primary and UpToDate', timeout=300)

    def stop_lvmlockd(self, node):
        node.run('pkill', '-9', '-x', 'lvmlockd')
        self._wait_gone(node, 'lvmlockd')

    def start_lvmlockd(self, node):
        """Restart it as the DevStack plugin's function does (the one a
        systemd Restart= would run).
        """
        restart_lvmlockd(node.runner)

    def console_logs(self):
        """Every boot's console of every guest (appended across boots)."""
        return self.fence_device.console_logs()

    def state(self):
        return {'nodes': [{'name': node.name, 'agent': node.agent_path}
                          for node in self.nodes], 'lab': self.lab}

    def release(self):
        """Let another process connect to the agents (one at a time)."""
        for node in self.nodes:
            node.close_agents()


_ATTACHED = {}


def attach(state_path):
    """The cluster a running gate described in ``state_path``.

    A guest's agent port takes one connection at a time, so a process
    attaches once and every test shares that connection.
    """
    if state_path not in _ATTACHED:
        with open(state_path) as handle:
            state = json.load(handle)
        _ATTACHED[state_path] = RealCluster(
            (RealNode(node['name'], node['agent'])
             for node in state['nodes']), state.get('lab'))
    return _ATTACHED[state_path]


#: MAC prefixes of the guests' networks, as tools/cluster/guest-init knows them
WIRE_MAC = '52:54:00:77'
STORAGE_MAC = '52:54:00:78'
CONTROL_MAC = '52:54:00:79'


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _prepare_root(image_dir, workdir, wheels=()):
    """This run's root image: the cached packages plus the project's
    current guest scripts (and ``wheels``, into /opt/drbd-clvm/wheels),
    written without mounting anything.
    """
    root = os.path.join(workdir, 'root.img')
    subprocess.run(['cp', '--sparse=always',
                    os.path.join(image_dir, 'root.img'), root], check=True)
    # debugfs follows no links: targets are real paths (/sbin is a link).
    commands = ['mkdir /opt/drbd-clvm', 'mkdir /opt/drbd-clvm/wheels',
                'mkdir /usr/lib/python3/dist-packages/drbd_clvm_driver']
    files = [(os.path.join(ROOT, source), target, mode)
             for source, target, mode in GUEST_FILES]
    files += [(wheel, '/opt/drbd-clvm/wheels/' + os.path.basename(wheel),
               '0100644') for wheel in wheels]
    for source, target, mode in files:
        commands += ['write %s %s' % (source, target),
                     'sif %s mode %s' % (target, mode)]
    script = os.path.join(workdir, 'debugfs.cmds')
    with open(script, 'w') as handle:
        handle.write('\n'.join(commands) + '\n')
    subprocess.run(['debugfs', '-w', '-f', script, root], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listing = subprocess.run(['debugfs', '-R', 'ls -l /opt/drbd-clvm', root],
                             check=True, capture_output=True, text=True)
    if 'agent.py' not in listing.stdout:
        raise GuestError('could not write the guest scripts into %s' % root)
    return root


class Guest:
    """One qemu guest whose disks outlive its power cycles.

    Every network is UDP on host loopback (:func:`wire`, or a
    :class:`~tests.cluster.hub.UdpHub` for more than two guests):
    stateless, so either guest can be powered off and on without the other
    noticing more than a lost link (a listening TCP wire would not come
    back). The console log is appended to, so a power cycle keeps the log
    of the boot before it.

    :param networks: ``(MAC prefix, qemu netdev options)`` per NIC; the
        prefix tells guest-init which network the NIC is on.
    :param role: ``cluster`` (the stack, a DRBD disk) or ``compute``.
    :param shared_lun: a raw disk this guest shares with others, on a
        virtio SCSI controller (``share-rw``: qemu lets every guest write
        it); the guest's cluster stack then runs without DRBD.
    :param nodes: how many cluster nodes the lab has.
    :param lock_manager: the stack's lock manager plugin (``lvmlockd``;
        ``sanlock`` on a shared LUN, with qemu's watchdog device).
    """

    def __init__(self, number, image_dir, workdir, root, networks,
                 role='cluster', memory=1024, shared_lun=None, nodes=2,
                 lock_manager='lvmlockd', disk_size=DRBD_DISK_SIZE):
        self.number = number
        self.name = 'node%d' % number
        self.image_dir = image_dir
        self.workdir = workdir
        self.networks = tuple(networks)
        self.role = role
        self.memory = memory
        self.process = None
        self.powered_on_at = 0.0
        self.shared_lun = shared_lun
        self.nodes = nodes
        self.lock_manager = lock_manager
        self.overlay = self._path('qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b',
                        root, '-F', 'raw', self.overlay], check=True)
        self.disk = None
        self.disk_size = disk_size
        if role == 'cluster' and not shared_lun:
            self.disk = os.path.join(workdir, 'drbd%d.img' % number)
            self.replace_disk()

    def replace_disk(self):
        """A new, blank DRBD backing disk (sparse), as a replaced machine
        has; only while powered off.
        """
        if self.running:
            raise GuestError('%s runs: its disk cannot be replaced'
                             % self.name)
        with open(self.disk, 'wb') as handle:
            handle.truncate(self.disk_size)

    def _path(self, suffix):
        return os.path.join(self.workdir, '%s.%s' % (self.name, suffix))

    @property
    def agent_path(self):
        return self._path('agent')

    @property
    def console_log(self):
        return self._path('console.log')

    @property
    def io_path(self):
        return self._path('io')

    @property
    def operator_path(self):
        return self._path('operator')

    @property
    def fence_path(self):
        return self._path('fence')

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def command(self):
        disks = ['-drive', 'file=%s,if=virtio,format=qcow2' % self.overlay]
        if self.disk:
            disks += ['-drive', 'file=%s,if=virtio,format=raw' % self.disk]
        lab = 'drbd'
        if self.shared_lun:
            lab = 'shared_lun'
            disks += ['-drive', 'file=%s,if=none,id=lun,format=raw,'
                                'file.locking=off' % self.shared_lun,
                      '-device', 'virtio-scsi-pci,id=scsi',
                      '-device', 'scsi-hd,drive=lun,share-rw=on,serial=%s'
                      % SHARED_LUN_SERIAL,
                      # what resets a host whose sanlock lease ran out;
                      # -no-reboot makes the reset an exit, which the gate
                      # sees and answers with a power-on
                      '-device', 'i6300esb']
        nics = []
        for index, (mac_prefix, netdev) in enumerate(self.networks):
            nics += ['-netdev', '%s,id=net%d' % (netdev, index),
                     '-device', 'virtio-net-pci,netdev=net%d,mac=%s:00:%02d'
                     % (index, mac_prefix, self.number)]
        return [
            'qemu-system-x86_64', '-accel', 'tcg,thread=multi',
            '-cpu', TCG_CPU] + TCG_MACHINE + [
            '-m', str(self.memory), '-smp', '1', '-display', 'none',
            '-no-reboot',
            '-kernel', os.path.join(self.image_dir, 'vmlinuz'),
            '-initrd', os.path.join(self.image_dir, 'initrd.img'),
            '-append', 'console=ttyS0 root=/dev/vda rw panic=1 '
                       '%s init=/usr/sbin/drbd-clvm-init drbd_clvm_node=%d '
                       'drbd_clvm_role=%s drbd_clvm_lab=%s drbd_clvm_nodes=%d '
                       'drbd_clvm_lock=%s' % (
                           TCG_KERNEL_ARGS, self.number, self.role, lab,
                           self.nodes, self.lock_manager),
        ] + disks + nics + [
            '-device', 'virtio-serial',
            '-chardev', 'socket,id=agent0,server=on,wait=off,path=%s'
                        % self.agent_path,
            '-device', 'virtserialport,chardev=agent0,name=agent',
            '-chardev', 'socket,id=io0,server=on,wait=off,path=%s'
                        % self.io_path,
            '-device', 'virtserialport,chardev=io0,name=io',
            '-chardev', 'socket,id=operator0,server=on,wait=off,path=%s'
                        % self.operator_path,
            '-device', 'virtserialport,chardev=operator0,name=operator',
            '-chardev', 'socket,id=fence0,server=on,wait=off,path=%s'
                        % self.fence_path,
            '-device', 'virtserialport,chardev=fence0,name=fence',
            '-chardev', 'file,id=console0,append=on,path=%s'
                        % self._path('console.log'),
            '-serial', 'chardev:console0',
        ]

    def power_on(self):
        if self.running:
            return
        for path in (self.agent_path, self.io_path, self.operator_path,
                     self.fence_path):
            if os.path.exists(path):
                os.unlink(path)
        self.powered_on_at = time.monotonic()
        with open(self._path('qemu.log'), 'a') as errors:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=errors)
        wait_until(lambda: os.path.exists(self.agent_path), 30,
                   '%s agent port' % self.name)

    def power_off(self):
        """Pull the plug: no shutdown, no flush, as a fence device does."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)


class GateTimeout(Exception):
    """The whole gate ran out of its time bound: ends the run, never one
    step's failure.
    """


def provenance():
    """When, at which commit, by which command line of the gate and on what
    machine a gate's result was made, for the JSON it writes (the docs print
    them beside its tables).
    """
    commit = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'],
                            capture_output=True, text=True).stdout.strip()
    return {'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'commit': commit or None,
            'command': shlex.join(['tools/cluster/gate'] + sys.argv[1:]),
            'machine': {'host': platform.node(), 'cpus': os.cpu_count(),
                        'kernel': platform.release(),
                        'guests': 'qemu TCG'}}


#: seconds between two looks of :func:`wait_until`, first and at most: a
#: look is an API call or a program started in an emulated guest, and the
#: gates' long waits (copies, boots, resyncs) looked twice a second for
#: minutes while the host's cores were all busy
POLL_FIRST, POLL_LONGEST = 0.5, 2.0


def wait_until(predicate, timeout, what):
    """Poll ``predicate`` until it is true, every :data:`POLL_FIRST`
    seconds at first and half as often again each look after, up to every
    :data:`POLL_LONGEST`; after ``timeout`` seconds raise
    :class:`GuestError` naming ``what``.
    """
    deadline = time.monotonic() + timeout
    pause = POLL_FIRST
    while not predicate():
        if time.monotonic() > deadline:
            raise GuestError('timed out after %d s waiting for %s'
                             % (timeout, what))
        time.sleep(pause)
        pause = min(pause * 1.5, POLL_LONGEST)


def _stack_state(node):
    """What the node's stack says of itself; nothing while it cannot say
    (a guest still booting may not answer within 10 s on a busy host: seen
    with ten guests booting at once on two cores).
    """
    try:
        return node.run('cat', '/run/drbd-clvm/state', timeout=10).stdout
    except (GuestError, OSError, exception.CommandTimeout):
        return ''


def wait_ready(nodes, timeout=READY_TIMEOUT, guests=()):
    """Wait until the stack is up on every node in ``nodes``."""
    started = time.monotonic()
    wait_until(lambda: all(_stack_state(node) for node in nodes),
               AGENT_TIMEOUT,
               'the guest agents of %s' % ', '.join(n.name for n in nodes))

    def settled():
        for guest in guests:
            if not guest.running:
                raise GuestError('%s exited during boot' % guest.name)
        states = [_stack_state(node) for node in nodes]
        if any('failed' in state for state in states):
            raise GuestError('cluster stack failed: %s' % states)
        return all('ready' in state for state in states)

    wait_until(settled, timeout, 'the cluster stack on %s' % ', '.join(
        node.name for node in nodes))
    return time.monotonic() - started


def _make_guests(image_dir, workdir, root, control, hubs,
                 shared_lun_nodes=0, lock_manager='lvmlockd',
                 drbd_disk_size=DRBD_DISK_SIZE):
    """The guests of one run; the hubs of their networks are added to
    ``hubs`` as they start.

    Cluster nodes have a cluster wire (DRBD, corosync: what the fault
    campaign cuts): a point-to-point link for the DRBD pair, a hub for the
    ``shared_lun_nodes`` nodes that share one disk and run no DRBD. With
    ``control``, every node also reaches the host's Cinder services through
    qemu's user network, restricted to those forwards, and shares a
    storage network (iSCSI) with one more guest, a compute host.
    """
    count = shared_lun_nodes or 2
    numbers = range(1, count + 1)
    if shared_lun_nodes:
        wire = _started_hub(hubs, numbers)
        networks = {number: [(WIRE_MAC, wire(number))] for number in numbers}
        lun = os.path.join(workdir, 'shared-lun.img')
        with open(lun, 'wb') as handle:
            handle.truncate(SHARED_LUN_SIZE)
        options = dict(shared_lun=lun, nodes=count, lock_manager=lock_manager)
    else:
        ports = [_free_udp_port(), _free_udp_port()]
        wires = {1: ports, 2: ports[::-1]}
        networks = {number: [(WIRE_MAC, _udp_netdev(*wires[number]))]
                    for number in numbers}
        options = {'disk_size': drbd_disk_size}
    compute = count + 1
    if control:
        storage = _started_hub(hubs, list(numbers) + [compute])
        user = ','.join(['user,restrict=on,net=10.0.2.0/24'] +
                        ['guestfwd=%s' % rule for rule in control])
        for number in numbers:
            networks[number] += [(STORAGE_MAC, storage(number)),
                                 (CONTROL_MAC, user)]
        options['memory'] = 1536
    guests = [Guest(number, image_dir, workdir, root, networks[number],
                    **options) for number in numbers]
    if control:
        guests.append(Guest(compute, image_dir, workdir, root, [
            (STORAGE_MAC, storage(compute))], role='compute', memory=768))
    return guests


def _started_hub(hubs, numbers):
    """A started hub for the guests ``numbers``, added to ``hubs``; the
    netdev of each guest by its number.
    """
    ports = {number: _free_udp_port() for number in numbers}
    hub = UdpHub(ports.values())
    hub.start()
    hubs.append(hub)
    return lambda number: hub.netdev(ports[number])


def _udp_netdev(local, remote):
    return 'socket,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d' % (remote, local)


#: lvmlockd's complaint when a command commits VG metadata while holding
#: the VG's lock only shared: another node may have committed at once
SHARED_LOCK_COMMIT = re.compile(
    r'^.*lvmlockd\[\d+\]:.* res_update .*version on non-ex lock.*$',
    re.MULTILINE)


def shared_lock_commits(console_logs):
    """``(console log, line)`` for each metadata commit lvmlockd saw made
    under a shared VG lock.
    """
    found = []
    for path in console_logs:
        with open(path, errors='replace') as handle:
            found.extend((path, line.strip()) for line in
                         SHARED_LOCK_COMMIT.findall(handle.read()))
    return found


def check_lock_discipline(console_logs):
    """Raise if any node committed LVM metadata under a shared VG lock."""
    found = shared_lock_commits(console_logs)
    if found:
        raise GuestError(
            '%d LVM metadata change(s) committed under a shared VG lock, '
            'where two nodes can overwrite each other\'s changes; first: '
            '%s: %s' % ((len(found),) + found[0]))


@contextlib.contextmanager
def booted(image_dir, log=print, logs_dir=None, control=None, wheels=(),
           shared_lun_nodes=0, lock_manager='lvmlockd',
           drbd_disk_size=DRBD_DISK_SIZE):
    """Boot the guests, yield a :class:`RealCluster` once the stack is up
    on both nodes, and stop the guests and remove their files on every exit.

    The cluster's :attr:`~RealCluster.fence_device` serves the guests'
    fence requests for as long as they run.

    :param logs_dir: where to keep the guests' console logs, if anywhere.
    :param control: for Cinder's services: the ``guestfwd`` rules through
        which the cluster nodes reach the host's controller. A compute host
        then boots too (:attr:`RealCluster.compute`), on a storage network
        with both nodes.
    :param wheels: Python wheels to put into /opt/drbd-clvm/wheels.
    :param shared_lun_nodes: instead of the DRBD pair, this many nodes on
        one shared disk (:data:`SHARED_LUN_DEVICE`), their stack on
        ``lock_manager``.
    :param drbd_disk_size: bytes of each DRBD node's (sparse) disk.
    """
    from tests.cluster import fencing
    workdir = tempfile.mkdtemp(prefix='drbd-clvm-gate-')
    guests = []
    cluster = None
    device = None
    hubs = []
    try:
        root = _prepare_root(image_dir, workdir, wheels)
        guests = _make_guests(image_dir, workdir, root, control, hubs,
                              shared_lun_nodes, lock_manager, drbd_disk_size)
        for guest in guests:
            guest.power_on()
        members = [guest for guest in guests if guest.role == 'cluster']
        lab = None
        if shared_lun_nodes:
            lab = {'replication': 'shared_lun', 'target': SHARED_LUN_DEVICE,
                   'lock_manager': lock_manager,
                   'fencing': lock_manager != 'sanlock'}
        cluster = RealCluster((RealNode(guest.name, guest.agent_path)
                               for guest in members), lab)
        cluster.compute = [RealNode(guest.name, guest.agent_path)
                           for guest in guests if guest.role == 'compute']
        device = fencing.FenceDevice(members, cluster, log=log)
        cluster.fence_device = device
        device.start()
        log('cluster ready %.0f s after boot' % wait_ready(
            cluster.hosts, guests=guests))
        yield cluster
        check_lock_discipline(guest.console_log for guest in guests)
    except BaseException:
        for guest in guests:
            path = guest._path('console.log')
            if os.path.exists(path):
                with open(path, errors='replace') as handle:
                    log('--- %s console (last lines)\n%s' % (
                        guest.name, ''.join(handle.readlines()[-40:])))
        raise
    finally:
        if device is not None:
            device.stop()
        for hub in hubs:
            hub.stop()
        if cluster is not None:
            cluster.release()
        for guest in guests:
            guest.power_off()
        if logs_dir:
            os.makedirs(logs_dir, exist_ok=True)
            for name in os.listdir(workdir):
                if name.endswith('.log'):
                    shutil.copy(os.path.join(workdir, name), logs_dir)
        shutil.rmtree(workdir, ignore_errors=True)
