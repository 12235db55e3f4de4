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

"""On a real node: a change started before the safety gate's check waits
for LVM's own VG lock, and a refused one changes nothing.

What :mod:`drbd_clvm_driver.privileged.held` rests on is LVM's behaviour,
so the Cinder gate shows it on the guests with the deployed driver
(``/opt/cinder``'s Python, the volume service's configuration), before the
flows:

- for each kind of change the driver makes (create, extend, tag,
  activate, deactivate, rename, remove) of one LV in turn, the daemon's
  code holds LVM's lock file and types the real command into its LVM shell
  (:mod:`~drbd_clvm_driver.privileged.lvm_shell`; the guests have LVM's
  profile for it), or, for an activation, starts it as a program: three
  seconds later it still runs, waiting for that very lock in
  ``/proc/locks``;
  killed (a refused check), it changed nothing ``lvs`` shows; held again
  and let go, it makes its change;
- through the privileged daemon the volume service starts
  (``root.lvm_guarded``), a change whose gate cannot pass (its target does
  not exist) is refused and leaves nothing."""

import concurrent.futures
import json
import time

from tests.cluster import guests

#: runs in the guest as root; prints one JSON object
_SCRIPT = r'''
import json, os, shlex, subprocess, sys, time
from cinder.common import config  # noqa: F401
from cinder import utils
from oslo_config import cfg
from oslo_privsep import priv_context
from drbd_clvm_driver.privileged import held, lvm_shell, root

vg, name, replication, target, lock_manager, holding = sys.argv[1:7]
lv = '%s/%s' % (vg, name)
create = ['lvcreate', '-y', '-an', '-L', '4m', '-n', name, vg]
found = {'lock_dir': held.lvm_lock_dir()}
lock_file = os.path.join(found['lock_dir'], 'V_' + vg)


def state():
    # what LVM says of the check's LVs, a line each
    listed = subprocess.run(
        ['lvs', '--noheadings', '--units', 'b', '-o',
         'lv_name,lv_size,lv_tags,lv_active', vg],
        capture_output=True, text=True, check=True).stdout
    return [line.split() for line in listed.splitlines()
            if line.split()[0].startswith(name)]


def waiting_for_the_lock(pid):
    # a blocked flock shows in /proc/locks as "N: -> FLOCK ... PID ..."
    # (a shell just started may take seconds under TCG to reach it)
    deadline = time.monotonic() + 20
    while True:
        with open('/proc/locks') as locks:
            if any(line.split()[1:3] == ['->', 'FLOCK']
                   and line.split()[5] == str(pid) for line in locks):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def held_command(argv):
    for _ in range(50):  # the volume service's reports take it briefly
        command = held.HeldCommand(argv, 60, lock_file)
        command.start()
        if command.held:
            return command
        time.sleep(0.2)
    raise SystemExit('LVM\'s lock file %s stayed busy' % lock_file)


# each change the driver makes: held 3 s, then killed (LVM must say
# what it said before), then held 1 s and let go (LVM must say otherwise)
for argv in (create, ['lvextend', '-L', '8m', lv],
             ['lvchange', '--addtag', 'held-check', lv],
             ['lvchange', '-aey', lv], ['lvchange', '-an', lv],
             ['lvrename', vg, name, name + '-renamed'],
             ['lvremove', '-y', lv + '-renamed']):
    before = state()
    command = held_command(argv)
    if argv is create:
        open(holding, 'w').close()
    time.sleep(3)
    running = command.running
    seen = {'still_running_after_3_s': running.alive,
            'waiting_for_the_lock': waiting_for_the_lock(running.pid),
            'typed_unless_an_activation': isinstance(
                running, lvm_shell.ShellRun) == lvm_shell.takes_exclusive_lock(
                    argv)}
    command.cancel()
    if argv is create:
        os.unlink(holding)
    time.sleep(2)
    seen['cancelled_changed_nothing'] = state() == before
    command = held_command(argv)
    time.sleep(1)
    seen['let_go_changed'] = command.finish()[0] == 0 and state() != before
    found[' '.join(argv[:2])] = seen

cfg.CONF(['--config-file', '/etc/cinder/cinder.conf'], project='cinder')
priv_context.init(root_helper=shlex.split(utils.get_root_helper()))
verdict = root.lvm_guarded(create, 60, {
    'vg_name': vg, 'replication': replication, 'target': target,
    'lock_manager': lock_manager, 'timeout': 10})
found['daemon_refused'] = list(verdict[0])
found['daemon_left_nothing'] = verdict[2] is None and not state()
print(json.dumps(found))
'''
#: a target no lab has, for each replication plugin
_MISSING_TARGET = {'drbd': 'no-such-resource',
                   'shared_lun': '/dev/disk/by-id/no-such-lun'}
#: made in the guest while its lvcreate is held
_HOLDING = '/run/drbd-clvm-held-check'
#: the changes held, each killed once and let go once (program and first
#: argument)
_CHANGES = ('lvcreate -y', 'lvextend -L', 'lvchange --addtag',
            'lvchange -aey', 'lvchange -an', 'lvrename vgc', 'lvremove -y')


def run(cluster, log=print):
    """Run the check on the first node; raise unless every finding holds.

    While the first node's ``lvcreate`` is held, the second node creates
    an LV too, timed, and reported: were the held command to hold the
    VG's cluster lock, the other nodes' changes would wait for the check
    (on the gate they do not: LVM takes it after its file lock).
    """
    node, other = cluster.nodes[0], cluster.nodes[1]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        checking = pool.submit(node.runner.run, [
            '/opt/cinder/bin/python', '-c', _SCRIPT, 'vgc', 'held-check',
            cluster.replication, _MISSING_TARGET[cluster.replication],
            cluster.lock_manager, _HOLDING], timeout=300)
        while not checking.done() and node.run(
                'test', '-e', _HOLDING).exit_code != 0:
            time.sleep(0.1)
        started = time.monotonic()
        other.run('lvcreate', '-y', '-an', '-L', '4m', '-n',
                  'held-check-other', 'vgc')
        other_seconds = time.monotonic() - started
        other.run('lvremove', '-y', 'vgc/held-check-other')
        result = checking.result()
    found = json.loads(result.stdout.strip().splitlines()[-1])
    found['other_node_create_s'] = round(other_seconds, 2)
    log('held start on %s: %s' % (node.name, json.dumps(found)))
    missed = ['%s %s' % (program, name) for program in _CHANGES
              for name, held in found[program].items() if not held]
    if not found['daemon_left_nothing']:
        missed.append('the daemon\'s refused change left something')
    if missed or not found['daemon_refused']:
        raise guests.GuestError('a held change on %s: %s' % (
            node.name, ', '.join(missed) or 'the daemon did not refuse'))
    for each in cluster.nodes[1:]:
        if each.run('lvs', 'vgc/held-check').exit_code == 0:
            raise guests.GuestError('held-check exists on %s' % each.name)
    return found
