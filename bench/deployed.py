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

"""The benchmark through the deployed root path, run inside a cluster guest.

``tools/cluster/gate --bench`` runs this in each gate guest, as root, with
the volume service's own Python (``/opt/cinder``) and configuration
(``/etc/cinder/cinder.conf``): the driver's operations get root the way
``cinder-volume`` gives it to them, through the driver's privsep daemon
started by ``sudo cinder-rootwrap``; Cinder's own ``LVMVolumeDriver`` gets
it its own way, ``sudo cinder-rootwrap`` per command. The bare commands run
directly, as root, with no helper at all.

Modes (each prints one JSON object):

- ``timing``: create, extend and delete against bare ``lvcreate``,
  ``lvextend``, ``lvremove``, interleaved; wipe and copy against plain
  ``dd``; the three again with the daemon's LVM shell turned off (each
  change an LVM program); then the same three operations through Cinder's
  driver.
- ``data-path``: fio on a volume attached locally through the driver, on
  the DRBD device and backing disk under it, and as a snapshot's origin
  (:mod:`bench.data_path`).
- ``scale``: start-up, stats refresh and the manageable listing with
  hundreds of volumes in use (:mod:`bench.scale_on_cluster`).
- ``creates N``: N creates one after another (``--bare``: bare
  ``lvcreate``), timed from the moment the file ``--go`` names appears;
  ``GO.NODE.ready`` says the daemon is up, so that the gate can start both
  nodes at once.
- ``hand-over STEP VOLUME``: one step of a volume's move between the nodes
  on this node (``make``, ``use``, ``release``, ``delete``), with ``--go``
  as for ``creates`` (:mod:`bench.hand_over`).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

from cinder.common import config as cinder_config  # noqa: F401
from cinder import utils as cinder_utils
from oslo_config import cfg
from oslo_privsep import priv_context

from bench import cinder_on_cluster
from bench import cluster_timing
from bench import data_path
from bench import scale_on_cluster
from drbd_clvm_driver import runner as runner_module
from drbd_clvm_driver import stack

CINDER_CONF = '/etc/cinder/cinder.conf'
#: the moving volume's size: room for the writer's 64 MiB
HAND_OVER_MIB = 128


class DirectRunner(runner_module.CommandRunner):
    """Runs commands straight from this (root) process: the bare side."""

    def _execute(self, argv, timeout):
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, '', ''
        return done.returncode, done.stdout, done.stderr


def _configure():
    """The volume service's configuration and root helper."""
    cfg.CONF(['--config-file', CINDER_CONF], project='cinder')
    priv_context.init(root_helper=shlex.split(
        cinder_utils.get_root_helper()))


def _operations(args, lvm_shell=True):
    """The driver's operations over the privsep runner, warm before
    anything is timed, as in a volume service that has been running: its
    daemon started, and one change made (the daemon learns DRBD's minor and
    LVM's lock directory at its first, and starts its LVM shell).
    """
    ours = runner_module.PrivsepCommandRunner(node=args.node,
                                              lvm_shell=lvm_shell)
    node = stack.build(ours, args.vg, args.resource,
                       lock_path=args.lock_path, volume_clear='none')
    warm_up = 'bench%d-%s-warm' % (int(time.time()), args.node)
    node.ops.create_volume(warm_up, cluster_timing.SIZE_MIB, warm_up)
    node.ops.delete_volume(warm_up)
    return node.ops


def timing(args, ops):
    bare = DirectRunner(node=args.node)
    prefix = 'bench%d-' % int(time.time())
    rows = cluster_timing.lvm_rows(ops, bare, prefix, args.repeats)
    rows += cluster_timing.data_rows(ops, bare, prefix, args.data_repeats)
    # the same, each change an LVM program (drbd_clvm_lvm_shell = false)
    without_shell = cluster_timing.lvm_rows(
        _operations(args, lvm_shell=False), bare, prefix + 'p',
        args.repeats)
    return {'lvm': rows[:3], 'data': rows[3:],
            'lvm_without_shell': without_shell,
            'overhead': cluster_timing.overhead(ops, bare, args.repeats),
            'cinder_lvm': cinder_on_cluster.measure(bare, args.vg,
                                                    args.repeats)}


def data_path_rows(args, ops):
    bare = DirectRunner(node=args.node)

    def run(argv):
        return bare.run(argv, timeout=data_path.FIO_TIMEOUT).stdout

    backing = run(['drbdadm', 'sh-ll-dev', args.resource]).strip()
    rows, reports = data_path.measure(
        ops, run, backing, 'bench%d-' % int(time.time()), args.rounds)
    return {'data_path': rows, 'fio_reports': reports}


def scale(args, ops):
    return scale_on_cluster.measure(args.vg, cfg.CONF.enabled_backends[0],
                                    args.node, args.sizes)


def _wait_for_go(args):
    """Say this node is ready (``GO.NODE.ready``), then wait for the file
    ``--go`` names, which the gate makes to start the nodes together.
    """
    open('%s.%s.ready' % (args.go, args.node), 'w').close()
    while not os.path.exists(args.go):
        time.sleep(0.01)


def creates(args, ops):
    """Timed creates through the driver, or with ``--bare`` the bare
    ``lvcreate`` (what LVM itself allows two nodes to do at once).
    """
    names = ['bench%d-%s-%d' % (int(time.time()), args.node, index)
             for index in range(args.count)]
    if args.bare:
        bare = DirectRunner(node=args.node)

        def create(name):
            bare.run(['lvcreate', '-y', '-an', '-L',
                      '%dm' % cluster_timing.SIZE_MIB, '-n', name, args.vg])
    else:
        def create(name):
            ops.create_volume(name, cluster_timing.SIZE_MIB, name)
    _wait_for_go(args)
    started = time.monotonic()
    for name in names:
        create(name)
    seconds = time.monotonic() - started
    for name in names:
        ops.delete_volume(name)
    return {'node': args.node, 'creates': args.count, 'seconds': seconds,
            'bare': args.bare}


def hand_over(args, ops):
    """One step of a volume's move between the nodes, on this node: make
    it and use it here, use it here (join), release it here (leave), or
    delete it. With ``--go``, the step waits for that file first (its
    ready file says the driver is warm).

    :returns: the step's seconds.
    """
    def make(name):
        ops.create_volume(name, HAND_OVER_MIB, name)
        ops.use(name)

    def delete(name):
        ops.release(name)
        ops.delete_volume(name)

    step = {'make': make, 'use': ops.use, 'release': ops.release,
            'delete': delete}[args.step]
    if args.go:
        _wait_for_go(args)
    started = time.monotonic()
    step(args.volume)
    return {'step': args.step, 'seconds': time.monotonic() - started}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--vg', default='vgc')
    parser.add_argument('--resource', default='r0')
    parser.add_argument('--node', required=True)
    parser.add_argument('--repeats', type=int, default=5,
                        help='times each LVM operation is timed')
    parser.add_argument('--data-repeats', type=int, default=5,
                        help='times each data operation is timed')
    modes = parser.add_subparsers(dest='mode', required=True)
    modes.add_parser('timing')
    data_parser = modes.add_parser('data-path')
    data_parser.add_argument('--rounds', type=int, default=5,
                             help='times each fio job runs on each device')
    scale_parser = modes.add_parser('scale')
    scale_parser.add_argument('--sizes', type=int, nargs='+',
                              default=scale_on_cluster.SIZES,
                              help='volumes in the VG at each measurement')
    creates_parser = modes.add_parser('creates')
    creates_parser.add_argument('count', type=int)
    creates_parser.add_argument('--go', required=True)
    creates_parser.add_argument('--bare', action='store_true',
                                help='bare lvcreate instead of the driver')
    hand_over_parser = modes.add_parser('hand-over')
    hand_over_parser.add_argument('step', choices=('make', 'use', 'release',
                                                   'delete'))
    hand_over_parser.add_argument('volume')
    hand_over_parser.add_argument('--go', help='wait for this file first')
    args = parser.parse_args(argv)
    _configure()
    with tempfile.TemporaryDirectory(prefix='bench-locks-') as lock_path:
        args.lock_path = lock_path
        ops = _operations(args)
        mode = {'timing': timing, 'creates': creates,
                'data-path': data_path_rows, 'scale': scale,
                'hand-over': hand_over}[args.mode]
        result = mode(args, ops)
    json.dump(result, sys.stdout)
    print()


if __name__ == '__main__':
    main()
