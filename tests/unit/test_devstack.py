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

"""The cluster-stack functions of devstack/lib/drbd_clvm, by the files they
write: the same functions the gate runs in its guests, and the legacy
(cman + clvmd) path, which no current distribution can run.
"""

import configparser
import os
import subprocess
from xml.etree import ElementTree

import fixtures
import testtools

from drbd_clvm_driver.cmd import fence
from drbd_clvm_driver import opts
from tests.unit import recorded

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LIB = os.path.join(ROOT, 'devstack', 'lib', 'drbd_clvm')

SETTINGS = {
    'DRBD_CLVM_CLUSTER_NAME': 'pair', 'DRBD_CLVM_NODE1_NAME': 'alpha',
    'DRBD_CLVM_NODE1_ADDR': '192.0.2.1', 'DRBD_CLVM_NODE2_NAME': 'beta',
    'DRBD_CLVM_NODE2_ADDR': '192.0.2.2', 'DRBD_CLVM_RESOURCE': 'r7',
    'DRBD_CLVM_DEVICE': '/dev/drbd7', 'DRBD_CLVM_DISK': '/dev/sdz',
    'DRBD_CLVM_PORT': '7790', 'DRBD_CLVM_VG': 'cinder-drbd',
    'DRBD_CLVM_LOCAL_NODE': 'beta',
    'DRBD_CLVM_FENCE_AGENT': '/usr/sbin/fence_ipmilan',
    'DRBD_CLVM_FENCE_AGENT_ARGS': 'lanplus=1 username=admin',
    'DRBD_CLVM_NODE1_FENCE_ARGS': 'ip=198.51.100.1',
    'DRBD_CLVM_NODE2_FENCE_ARGS': 'ip=198.51.100.2',
    'DRBD_CLVM_FENCE_DELAY_NODE': 'beta', 'DRBD_CLVM_FENCE_DELAY': '15',
    'DRBD_CLVM_FENCE_TIMEOUT': '60',
    'DRBD_CLVM_FENCE_PROGRAM': '/usr/local/bin/drbd-clvm-fence'}
#: the shape of Debian 12's lvm.conf around the settings that get changed
LVM_CONF = ('config {\n}\ndevices {\n\tdir = "/dev"\n\t# global_filter = '
            '[ "a|.*|" ]\n}\nglobal {\n\t# use_lvmlockd = 0\n}\n')

#: the shape of Debian 12's lvmlocal.conf
LVMLOCAL_CONF = ('# comments\nlocal {\n\t# system_id = ""\n'
                 '\t# host_id = 0\n}\n')


class ConfigureFailed(Exception):
    pass


class ConfigureNodeTest(testtools.TestCase):

    def _configure(self, lock_manager, root=None, **extra):
        """Configure a node under ``root`` (a new one unless given: a
        given one is a node configuring itself again after a reboot).
        """
        if root is None:
            root = self.useFixture(fixtures.TempDir()).path
            os.makedirs(os.path.join(root, 'etc', 'lvm'))
            with open(os.path.join(root, 'etc', 'lvm', 'lvm.conf'),
                      'w') as f:
                f.write(LVM_CONF)
        env = dict(os.environ, DRBD_CLVM_LOCK_MANAGER=lock_manager,
                   **dict(SETTINGS, **extra))
        result = subprocess.run(['bash', '-c', 'source "$0" && '
                                 'drbd_clvm_configure_node "$1"', LIB, root],
                                env=env, capture_output=True, text=True)
        if result.returncode:
            raise ConfigureFailed(result.stderr)
        return root

    def _read(self, root, *path):
        name = os.path.join(root, *path)
        if not os.path.exists(name):
            return None
        with open(name) as handle:
            return handle.read()

    def test_lvmlockd_corosync(self):
        text = self._read(self._configure('lvmlockd'), 'etc', 'corosync',
                          'corosync.conf')
        self.assertIn('two_node: 1', text)
        self.assertIn('transport: knet', text)
        self.assertIn('cluster_name: pair', text)
        self.assertIn('ring0_addr: 192.0.2.2', text)
        # corosync rejects anything after '{' on the same line.
        for line in text.splitlines():
            if '{' in line:
                self.assertTrue(line.rstrip().endswith('{'), line)

    def test_fencing_on_unless_turned_off(self):
        root = self._configure('lvmlockd')
        dlm_conf = self._read(root, 'etc', 'dlm', 'dlm.conf')
        self.assertIn('enable_fencing=1', dlm_conf)
        # DLM and DRBD fence through the one program.
        self.assertIn('device drbdclvm /usr/local/bin/drbd-clvm-fence\n'
                      'connect drbdclvm node=1\nconnect drbdclvm node=2\n',
                      dlm_conf)
        res = self._read(root, 'etc', 'drbd.d', 'r7.res')
        self.assertIn('fencing resource-and-stonith;', res)
        self.assertIn('fence-peer "/usr/local/bin/drbd-clvm-fence '
                      'drbd-peer";', res)
        self.assertEqual(res.count('{'), res.count('}'))

        root = self._configure('lvmlockd', DRBD_CLVM_FENCING='0')
        self.assertIn('enable_fencing=0',
                      self._read(root, 'etc', 'dlm', 'dlm.conf'))
        self.assertNotIn('device', self._read(root, 'etc', 'dlm',
                                              'dlm.conf'))
        self.assertNotIn('fencing', self._read(root, 'etc', 'drbd.d',
                                               'r7.res'))
        self.assertIsNone(self._read(root, 'etc', 'drbd-clvm',
                                     'fence.conf'))

    def test_fence_conf_is_what_drbd_clvm_fence_reads(self):
        text = self._read(self._configure('lvmlockd'), 'etc', 'drbd-clvm',
                          'fence.conf')
        config = fence.FenceConfig(text)
        self.assertEqual('beta', config.local_node)
        self.assertEqual('alpha', config.peer())
        self.assertEqual('/usr/sbin/fence_ipmilan', config.agent)
        self.assertEqual([('lanplus', '1'), ('username', 'admin')],
                         config.agent_args)
        self.assertEqual({'alpha': (1, [('ip', '198.51.100.1')]),
                          'beta': (2, [('ip', '198.51.100.2')])},
                         config.nodes)
        self.assertEqual((15, 60), (config.delay, config.timeout))

    def test_only_the_delay_node_waits(self):
        text = self._read(self._configure(
            'lvmlockd', DRBD_CLVM_LOCAL_NODE='alpha'), 'etc', 'drbd-clvm',
            'fence.conf')
        self.assertEqual(0, fence.FenceConfig(text).delay)

    def test_fencing_without_an_agent_is_refused(self):
        error = self.assertRaises(ConfigureFailed, self._configure,
                                  'lvmlockd', DRBD_CLVM_FENCE_AGENT='')
        self.assertIn('DRBD_CLVM_FENCE_AGENT is empty', str(error))

    def test_drbd_dual_primary(self):
        text = self._read(self._configure('lvmlockd'), 'etc', 'drbd.d',
                          'r7.res')
        for expected in ('resource r7 {', 'protocol C;',
                         'allow-two-primaries yes;',
                         'after-sb-0pri discard-zero-changes;',
                         'after-sb-1pri discard-secondary;',
                         'after-sb-2pri disconnect;', 'on alpha {',
                         'on beta {', 'disk /dev/sdz;',
                         'address 192.0.2.1:7790;', 'device /dev/drbd7;'):
            self.assertIn(expected, text)
        self.assertEqual(text.count('{'), text.count('}'))

    def test_drbd_settings_default_and_overridden(self):
        for setting, keyword, default, value in (
                ('DRBD_CLVM_PING_TIMEOUT', 'ping-timeout', '5', '20'),
                ('DRBD_CLVM_AL_EXTENTS', 'al-extents', '1237', '257')):
            for settings, expected in (({}, default),
                                       ({setting: value}, value)):
                text = self._read(self._configure('lvmlockd', **settings),
                                  'etc', 'drbd.d', 'r7.res')
                self.assertIn('%s %s;' % (keyword, expected), text)

    def test_lvm_for_lvmlockd(self):
        text = self._read(self._configure('lvmlockd'), 'etc', 'lvm',
                          'lvm.conf')
        self.assertIn('global {\n\tuse_lvmlockd = 1\n', text)
        self.assertIn('devices {\n\tglobal_filter = [ "a|^/dev/drbd|", '
                      '"r|.*|" ]\n', text)
        self.assertNotIn('locking_type', text)

    def test_lvm_configured_once_on_a_rebooted_node(self):
        root = self._configure('lvmlockd')
        self._configure('lvmlockd', root)
        text = self._read(root, 'etc', 'lvm', 'lvm.conf')
        self.assertEqual(1, text.count('use_lvmlockd = 1'))
        self.assertEqual(1, text.count('global_filter = [ "a|^/dev/drbd|"'))

    def test_legacy_cman_clvmd(self):
        root = self._configure('clvmd')
        cluster = ElementTree.fromstring(self._read(root, 'etc', 'cluster',
                                                    'cluster.conf'))
        self.assertEqual('pair', cluster.get('name'))
        cman = cluster.find('cman')
        self.assertEqual(('1', '1'), (cman.get('two_node'),
                                      cman.get('expected_votes')))
        self.assertEqual(['alpha', 'beta'], [
            node.get('name') for node in cluster.iter('clusternode')])
        lvm_conf = self._read(root, 'etc', 'lvm', 'lvm.conf')
        self.assertIn('global {\n\tlocking_type = 3\n', lvm_conf)
        self.assertNotIn('use_lvmlockd = 1', lvm_conf)
        self.assertIsNone(self._read(root, 'etc', 'corosync',
                                     'corosync.conf'))

    THREE_ON_A_LUN = {
        'DRBD_CLVM_REPLICATION': 'shared_lun',
        'DRBD_CLVM_SHARED_LUN': '/dev/disk/by-id/wwn-0x6001405abc',
        'DRBD_CLVM_NODE3_NAME': 'gamma', 'DRBD_CLVM_NODE3_ADDR': '192.0.2.3',
        'DRBD_CLVM_NODE3_FENCE_ARGS': 'ip=198.51.100.3'}

    def test_three_nodes_on_a_shared_lun(self):
        root = self._configure('lvmlockd', **self.THREE_ON_A_LUN)
        corosync = self._read(root, 'etc', 'corosync', 'corosync.conf')
        self.assertIn('ring0_addr: 192.0.2.3\n        name: gamma\n'
                      '        nodeid: 3\n', corosync)
        # three nodes: a majority, not two_node's "either alone"
        self.assertNotIn('two_node', corosync)
        self.assertEqual(corosync.count('{'), corosync.count('}'))
        self.assertIn('connect drbdclvm node=3\n',
                      self._read(root, 'etc', 'dlm', 'dlm.conf'))
        self.assertEqual(
            ['alpha', 'beta', 'gamma'],
            sorted(fence.FenceConfig(self._read(
                root, 'etc', 'drbd-clvm', 'fence.conf')).nodes))
        self.assertIsNone(self._read(root, 'etc', 'drbd.d', 'r7.res'))
        self.assertIn('devices {\n\tglobal_filter = [ '
                      '"a|^/dev/disk/by-id/wwn-0x6001405abc$|", "r|.*|" ]\n',
                      self._read(root, 'etc', 'lvm', 'lvm.conf'))

    def test_sanlock_host_id_is_the_node_number(self):
        root = self._configure('sanlock', DRBD_CLVM_FENCING='0',
                               DRBD_CLVM_LOCAL_NODE='gamma',
                               **self.THREE_ON_A_LUN)
        # no corosync, no dlm: sanlock's leases are on the disk
        self.assertIsNone(self._read(root, 'etc', 'corosync',
                                     'corosync.conf'))
        self.assertIsNone(self._read(root, 'etc', 'dlm', 'dlm.conf'))
        self.assertEqual('local {\n\thost_id = 3\n}\n',
                         self._read(root, 'etc', 'lvm', 'lvmlocal.conf'))
        self.assertIn('global {\n\tuse_lvmlockd = 1\n',
                      self._read(root, 'etc', 'lvm', 'lvm.conf'))
        # a rebooted node: the host id stays, once
        self._configure('sanlock', root, DRBD_CLVM_FENCING='0',
                        DRBD_CLVM_LOCAL_NODE='gamma', **self.THREE_ON_A_LUN)
        self.assertEqual(1, self._read(root, 'etc', 'lvm',
                                       'lvmlocal.conf').count('host_id'))

    def test_sanlock_host_id_kept_in_the_distro_file(self):
        root = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(root, 'etc', 'lvm'))
        for name, text in (('lvm.conf', LVM_CONF),
                           ('lvmlocal.conf', LVMLOCAL_CONF)):
            with open(os.path.join(root, 'etc', 'lvm', name), 'w') as f:
                f.write(text)
        self._configure('sanlock', root, DRBD_CLVM_FENCING='0',
                        **self.THREE_ON_A_LUN)
        self.assertEqual(LVMLOCAL_CONF.replace(
            'local {\n', 'local {\n\thost_id = 2\n'),
            self._read(root, 'etc', 'lvm', 'lvmlocal.conf'))

    def test_unnamed_local_node_is_refused(self):
        error = self.assertRaises(ConfigureFailed, self._configure,
                                  'sanlock', DRBD_CLVM_FENCING='0',
                                  DRBD_CLVM_LOCAL_NODE='delta',
                                  **self.THREE_ON_A_LUN)
        self.assertIn('delta is none of the nodes named', str(error))

    def test_node_numbers_stop_at_the_first_unnamed(self):
        result = subprocess.run(
            ['bash', '-c', 'source "$0" && drbd_clvm_node_numbers', LIB],
            env=dict(os.environ, DRBD_CLVM_NODE1_NAME='a',
                     DRBD_CLVM_NODE2_NAME='b', DRBD_CLVM_NODE4_NAME='d'),
            capture_output=True, text=True, check=True)
        self.assertEqual('1\n2\n', result.stdout)


class LockspaceStartedTest(testtools.TestCase):
    """When the functions take the VG's lockspace as started (after a
    node's start and after lvmlockd's restart), on recorded outputs.
    """

    SANLOCK = 'gate-shared-lun-sanlock/'
    JOINED = SANLOCK + 'node1-05-sanlock_client_gets.txt'
    LVMLOCKD_SANLOCK = SANLOCK + 'node1-07-lvmlockctl_info.txt'

    def _started(self, lock_manager, **outputs):
        """``_drbd_clvm_vg_lockspace_started`` with each named program
        printing its recording (or nothing, exiting 1, when it is None).
        """
        bin_dir = self.useFixture(fixtures.TempDir()).path
        for program, filename in outputs.items():
            path = os.path.join(bin_dir, program)
            with open(path, 'w') as handle:
                if filename is None:
                    handle.write('#!/bin/sh\nexit 1\n')
                else:
                    handle.write("#!/bin/sh\ncat <<'OUT'\n%s\nOUT\n"
                                 % recorded.load(filename).output)
            os.chmod(path, 0o755)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ['PATH'],
                   DRBD_CLVM_VG='vgc', DRBD_CLVM_LOCK_MANAGER=lock_manager)
        return subprocess.run(
            ['bash', '-c', 'source "$0" && _drbd_clvm_vg_lockspace_started',
             LIB], env=env, capture_output=True).returncode == 0

    def test_sanlock_joined_and_listed_by_lvmlockd(self):
        self.assertTrue(self._started(
            'sanlock', sanlock=self.JOINED,
            lvmlockctl=self.LVMLOCKD_SANLOCK))

    def test_sanlock_still_joining(self):
        self.assertFalse(self._started(
            'sanlock', sanlock=self.SANLOCK +
            'bytheagent-node2-sanlock_client_gets_joining.txt',
            lvmlockctl=self.LVMLOCKD_SANLOCK))

    def test_sanlock_joined_but_lvmlockd_not_back(self):
        # lvmlockd restarted, not yet rejoined: sanlock alone still lists
        # the lockspace it kept.
        self.assertFalse(self._started(
            'sanlock', sanlock=self.JOINED,
            lvmlockctl=None))

    def test_dlm(self):
        self.assertTrue(self._started(
            'lvmlockd', lvmlockctl='gate/node1-08-lvmlockctl_info.txt'))
        self.assertFalse(self._started(
            'lvmlockd', lvmlockctl=self.LVMLOCKD_SANLOCK))


class WaitTest(testtools.TestCase):

    def test_wait_gives_up_with_a_message(self):
        result = subprocess.run(
            ['bash', '-c', 'source "$0" && drbd_clvm_wait 1 "the moon" false',
             LIB], capture_output=True, text=True)
        self.assertEqual(1, result.returncode)
        self.assertIn('timed out after 1s waiting for the moon',
                      result.stderr)


class StartWaitTest(testtools.TestCase):
    """Waits for the node's own daemons follow DRBD_CLVM_START_WAIT."""

    def _bound_of_dlm_wait(self, **settings):
        env = {name: value for name, value in os.environ.items()
               if name != 'DRBD_CLVM_START_WAIT'}
        env.update(settings)
        result = subprocess.run(
            ['bash', '-c', 'source "$0" && function dlm_controld { true; } '
             '&& function drbd_clvm_wait { echo "$1 $2"; } && '
             'drbd_clvm_start_dlm', LIB],
            env=env, capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def test_a_minute_unless_set(self):
        self.assertEqual('60 dlm_controld quorate',
                         self._bound_of_dlm_wait())

    def test_set_by_the_operator(self):
        self.assertEqual('240 dlm_controld quorate', self._bound_of_dlm_wait(
            DRBD_CLVM_START_WAIT='240'))


class PeerWaitTest(testtools.TestCase):
    """Waiting for what only the peer brings, in rounds."""

    def _wait(self, command, limit, state_file=''):
        env = dict(os.environ, DRBD_CLVM_PEER_WAIT=str(limit),
                   DRBD_CLVM_STATE_FILE=state_file, **SETTINGS)
        return subprocess.run(
            ['bash', '-c', 'source "$0" && drbd_clvm_wait_for_peer 1 '
             '"the peer\'s hello" ' + command, LIB], env=env,
            capture_output=True, text=True)

    def test_gives_up_after_its_limit_in_logged_rounds(self):
        result = self._wait('false', 2)
        self.assertEqual(1, result.returncode)
        self.assertEqual(2, result.stderr.count(
            "timed out after 1s waiting for the peer's hello (alpha)"))
        self.assertIn('the peer is not there after 1s; waiting on',
                      result.stderr)

    def test_without_a_limit_waits_until_the_peer_is_there(self):
        directory = self.useFixture(fixtures.TempDir()).path
        hello = os.path.join(directory, 'hello')
        state = os.path.join(directory, 'state')
        result = self._wait('test -e %s & sleep 2.5; touch %s; wait'
                            % (hello, hello), 0, state)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('the peer is not there after 2s', result.stderr)
        with open(state) as handle:
            self.assertEqual("waiting for the peer's hello (alpha)\n",
                             handle.read())


def stand_ins(directory, calls, programs):
    """Programs in ``directory``, each logging its command line to
    ``calls`` and then running its bash body (``programs``: name, body).
    """
    for program, body in programs.items():
        path = os.path.join(directory, program)
        with open(path, 'w') as handle:
            handle.write('#!/bin/bash\necho "${0##*/} $*" >>"%s"\n%s\n'
                         % (calls, body))
        os.chmod(path, 0o755)


class SyncWaitTest(testtools.TestCase):
    """Start-up waits for a resync as long as it moves."""

    def _wait(self, progress, stall):
        directory = self.useFixture(fixtures.TempDir()).path
        calls = os.path.join(directory, 'calls')
        env = dict(os.environ, CALLS=calls, **SETTINGS)
        # progress(N) is the stand-in's progress at its Nth reading; DRBD
        # reads UpToDate/UpToDate from the fifth
        return subprocess.run(
            ['bash', '-c', 'source "$0" && '
             'function _drbd_clvm_sync_progress { echo x >>"$CALLS"; '
             'local n; n=$(wc -l <"$CALLS"); ' + progress + '; } && '
             'function _drbd_clvm_drbd_state_is { [[ -e $CALLS ]] && '
             '(($(wc -l <"$CALLS") >= 5)); } && '
             'function _drbd_clvm_drbd_line { echo cs:SyncTarget; } && '
             'drbd_clvm_wait_for_sync ' + str(stall), LIB],
            env=env, capture_output=True, text=True)

    def test_waits_past_the_stall_bound_while_the_resync_moves(self):
        result = self._wait('echo "sync\'ed: $n%"', 2)
        self.assertEqual(0, result.returncode, result.stderr)

    def test_gives_up_once_nothing_moved_for_the_stall_bound(self):
        result = self._wait('echo "sync\'ed: 1.0%"', 2)
        self.assertEqual(1, result.returncode)
        self.assertIn("resync made no progress for 2s: cs:SyncTarget "
                      "sync'ed: 1.0%", result.stderr)


class PromoteDrbdTest(testtools.TestCase):
    """The first node skips the initial sync only of a new pair."""

    def _promote(self, first, new, line):
        directory = self.useFixture(fixtures.TempDir()).path
        calls = os.path.join(directory, 'calls')
        stand_ins(directory, calls, {'drbdadm': ''})
        env = dict(os.environ, PATH=directory + os.pathsep +
                   os.environ['PATH'], LINE=line, **SETTINGS)
        result = subprocess.run(
            ['bash', '-c', 'source "$0" && '
             'function _drbd_clvm_drbd_state_is { grep -q "$1" <<<"$LINE"; '
             '} && function drbd_clvm_wait_for_sync { true; } && '
             'drbd_clvm_wait() { true; } && '
             'drbd_clvm_promote_drbd ' + first + ' ' + new, LIB],
            env=env, capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stderr)
        with open(calls) as handle:
            return [line.split()[1:3] for line in handle]

    def test_a_new_pair_skips_its_initial_sync(self):
        self.assertEqual(
            [['--', '--clear-bitmap'], ['primary', 'r7']],
            self._promote('yes', 'yes', 'cs:Connected ro:Secondary/Secondary '
                          'ds:Inconsistent/Inconsistent'))

    def test_a_replaced_first_node_copies_its_peer(self):
        self.assertEqual(
            [['primary', 'r7']],
            self._promote('yes', 'yes', 'cs:SyncTarget ro:Secondary/Primary '
                          'ds:Inconsistent/UpToDate'))

    def test_a_returning_node_keeps_its_bitmap(self):
        self.assertEqual(
            [['primary', 'r7']],
            self._promote('yes', 'no', 'cs:Connected ro:Secondary/Secondary '
                          'ds:Inconsistent/Inconsistent'))


class AttachDrbdTest(testtools.TestCase):
    """New DRBD metadata only on a blank disk."""

    def _attach(self, signatures):
        directory = self.useFixture(fixtures.TempDir()).path
        self.calls = os.path.join(directory, 'calls')
        programs = {
            'drbdadm': '[[ $1 == dump-md ]] && echo "No valid meta data '
                       'found"; [[ $1 != apply-al ]]',
            'wipefs': 'echo -n "%s"' % signatures}
        stand_ins(directory, self.calls, programs)
        env = dict(os.environ, PATH=directory + os.pathsep +
                   os.environ['PATH'], **SETTINGS)
        return subprocess.run(
            ['bash', '-c', 'source "$0" && '
             'function _drbd_clvm_drbd_line { echo cs:WFConnection; } && '
             'drbd_clvm_attach_drbd', LIB],
            env=env, capture_output=True, text=True)

    def _drbdadm_called(self):
        with open(self.calls) as handle:
            return [line.split()[1] for line in handle
                    if line.startswith('drbdadm')]

    def test_blank_disk_gets_metadata(self):
        result = self._attach('')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('yes\n', result.stdout)
        self.assertEqual(['apply-al', 'dump-md', 'create-md', 'up'],
                         self._drbdadm_called())

    def test_disk_holding_data_is_not_touched(self):
        result = self._attach('ext4')
        self.assertEqual(1, result.returncode)
        self.assertEqual(['apply-al', 'dump-md'], self._drbdadm_called())
        self.assertIn('/dev/sdz has no DRBD metadata but holds data (ext4); '
                      'not touching it', result.stderr)


class CreateVgTest(testtools.TestCase):
    """The VG's metadata area is sized when it is made: it cannot grow."""

    def _vgcreate(self, lock_manager, **settings):
        directory = self.useFixture(fixtures.TempDir()).path
        calls = os.path.join(directory, 'calls')
        stand_ins(directory, calls, {'vgcreate': ''})
        env = dict(os.environ, PATH=directory + os.pathsep +
                   os.environ['PATH'], DRBD_CLVM_LOCK_MANAGER=lock_manager,
                   **dict(SETTINGS, **settings))
        result = subprocess.run(['bash', '-c', 'source "$0" && '
                                 'drbd_clvm_create_vg', LIB], env=env,
                                capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stderr)
        with open(calls) as handle:
            return handle.read()

    def test_default_holds_thousands_of_volumes(self):
        self.assertEqual(
            'vgcreate --shared --lock-type dlm --metadatasize 64m '
            'cinder-drbd /dev/drbd7\n', self._vgcreate('lvmlockd'))

    def test_set_by_the_operator(self):
        self.assertEqual(
            'vgcreate --clustered y --metadatasize 256m cinder-drbd '
            '/dev/drbd7\n',
            self._vgcreate('clvmd', DRBD_CLVM_METADATA_SIZE='256m'))


#: stand-ins for the stack's programs, each logging its command line;
#: corosync is quorate only where QUORATE=yes
STACK_PROGRAMS = {
    'corosync-quorumtool': '[ "$QUORATE" = yes ] && echo "Quorate: Yes"',
    'dlm_tool': 'echo "quorate 1"',
    'lvmlockctl': 'echo "LS dlm lvm_$DRBD_CLVM_VG"',
    'vgs': 'echo "  $DRBD_CLVM_VG"',
}


class StartNodeTest(testtools.TestCase):
    """drbd_clvm_start_node's order, on stand-ins of the stack's programs
    (DRBD's state read as connected, UpToDate and Primary throughout).
    """

    def _start(self, quorate, peer_wait):
        directory = self.useFixture(fixtures.TempDir()).path
        self.calls = os.path.join(directory, 'calls')
        self.state = os.path.join(directory, 'state')
        stand_ins(directory, self.calls, dict(
            dict.fromkeys(('corosync', 'dlm_controld', 'lvmlockd',
                           'drbdadm'), ''), **STACK_PROGRAMS))
        env = dict(os.environ, PATH=directory + os.pathsep +
                   os.environ['PATH'], DRBD_CLVM_LOCK_MANAGER='lvmlockd',
                   QUORATE=quorate, DRBD_CLVM_PEER_WAIT=str(peer_wait),
                   DRBD_CLVM_STATE_FILE=self.state, **SETTINGS)
        return subprocess.run(
            ['bash', '-c', 'source "$0" && '
             'function _drbd_clvm_drbd_state_is { true; } && '
             'function _drbd_clvm_drbd_line { echo cs:Connected; } && '
             'drbd_clvm_start_node no', LIB], env=env, capture_output=True,
            text=True)

    def _called(self):
        with open(self.calls) as handle:
            return [line.split()[:2] for line in handle
                    if not line.startswith(('corosync-quorumtool',
                                            'dlm_tool', 'lvmlockctl', 'vgs'))]

    def test_drbd_up_first_and_primary_once_the_peer_is_there(self):
        result = self._start('yes', 60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(
            [['drbdadm', 'apply-al'], ['drbdadm', 'up'], ['corosync'],
             ['dlm_controld'], ['lvmlockd', '-g'], ['drbdadm', 'primary']],
            self._called())

    def test_a_node_alone_waits_as_secondary_and_says_so(self):
        result = self._start('no', 2)
        self.assertEqual(1, result.returncode)
        self.assertEqual([['drbdadm', 'apply-al'], ['drbdadm', 'up'],
                          ['corosync']], self._called())
        with open(self.state) as handle:
            self.assertEqual(
                'waiting for corosync quorum with the peer (alpha)\n',
                handle.read())

    def test_never_forces_a_promotion_nor_discards_a_disk(self):
        with open(LIB) as handle:
            text = handle.read()
        self.assertNotIn('discard-my-data', text)
        self.assertEqual(['yes yes | drbdadm create-md --force "$res" '
                          '>/dev/null 2>&1 || return 1'],
                         [line.strip() for line in text.splitlines()
                          if '--force' in line])


class CinderConfTest(testtools.TestCase):
    """cinder.conf as the plugin and the gate's volume services get it."""

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'cinder.conf')

    def _bash(self, script, *args, **extra):
        env = dict(os.environ, **dict(SETTINGS, **extra))
        result = subprocess.run(['bash', '-c', 'source "$0" && ' + script,
                                 LIB] + list(args), env=env,
                                capture_output=True, text=True)
        if result.returncode:
            raise ConfigureFailed(result.stderr)

    def _parsed(self):
        # DEFAULT as a section of its own, as oslo.config reads it.
        parser = configparser.ConfigParser(interpolation=None,
                                           default_section='-')
        parser.read(self.conf)
        return parser

    def test_iniset_keeps_comments_and_other_sections(self):
        with open(self.conf, 'w') as handle:
            handle.write('# operator notes\n[DEFAULT]\n# why debug\n'
                         'debug = False\n\n[database]\nconnection = x\n')
        self._bash('drbd_clvm_iniset "$1" DEFAULT debug True && '
                   'drbd_clvm_iniset "$1" DEFAULT host node1 && '
                   'drbd_clvm_iniset "$1" new key value', self.conf)
        with open(self.conf) as handle:
            text = handle.read()
        self.assertIn('# operator notes\n[DEFAULT]\n# why debug\n'
                      'debug = True\nhost = node1\n\n[database]\n'
                      'connection = x\n', text)
        self.assertEqual('value', self._parsed()['new']['key'])

    def test_backend_section_and_cluster(self):
        self._bash('drbd_clvm_configure_cinder "$1"', self.conf,
                   DRBD_CLVM_LOCK_MANAGER='lvmlockd',
                   DRBD_CLVM_BACKEND_NAME='drbd',
                   DRBD_CLVM_TARGET_HELPER='lioadm',
                   DRBD_CLVM_TARGET_IP='198.51.100.9',
                   DRBD_CLVM_VOLUME_CLEAR='none')
        conf = self._parsed()
        self.assertEqual('pair', conf['DEFAULT']['cluster'])
        backend = conf['drbd']
        self.assertEqual('drbd_clvm_driver.driver.DrbdClvmVolumeDriver',
                         backend['volume_driver'])
        self.assertEqual(
            {'volume_backend_name': 'drbd', 'volume_group': 'cinder-drbd',
             'drbd_clvm_drbd_resource': 'r7',
             'drbd_clvm_lock_manager': 'lvmlockd',
             'drbd_clvm_cluster_node_name': 'beta',
             'drbd_clvm_cluster_peer_nodes': 'alpha',
             'target_helper': 'lioadm',
             'target_protocol': 'iscsi', 'volume_clear': 'none',
             'target_ip_address': '198.51.100.9'},
            {key: backend[key] for key in backend
             if key != 'volume_driver'})

    def test_shared_lun_backend_names_its_device_and_every_peer(self):
        self._bash('drbd_clvm_configure_cinder "$1"', self.conf,
                   DRBD_CLVM_LOCK_MANAGER='lvmlockd',
                   DRBD_CLVM_BACKEND_NAME='drbd',
                   DRBD_CLVM_TARGET_HELPER='lioadm', DRBD_CLVM_TARGET_IP='',
                   DRBD_CLVM_VOLUME_CLEAR='none',
                   **ConfigureNodeTest.THREE_ON_A_LUN)
        backend = self._parsed()['drbd']
        self.assertEqual('shared_lun', backend['drbd_clvm_replication'])
        self.assertEqual('/dev/disk/by-id/wwn-0x6001405abc',
                         backend['drbd_clvm_shared_lun_device'])
        self.assertNotIn('drbd_clvm_drbd_resource', backend)
        self.assertEqual('alpha,gamma',
                         backend['drbd_clvm_cluster_peer_nodes'])

    def test_driver_options_by_their_prefixed_names(self):
        deprecated = {old.name for option in opts.drbd_clvm_opts
                      for old in option.deprecated_opts}
        current = {option.name for option in opts.drbd_clvm_opts}
        for kind, lab in (('drbd', {}),
                          ('shared_lun', ConfigureNodeTest.THREE_ON_A_LUN)):
            self.conf = os.path.join(os.path.dirname(self.conf), kind)
            self._bash('drbd_clvm_configure_cinder "$1"', self.conf,
                       DRBD_CLVM_LOCK_MANAGER='lvmlockd',
                       DRBD_CLVM_BACKEND_NAME='drbd',
                       DRBD_CLVM_TARGET_HELPER='lioadm',
                       DRBD_CLVM_TARGET_IP='', DRBD_CLVM_VOLUME_CLEAR='none',
                       **lab)
            backend = set(self._parsed()['drbd'])
            self.assertEqual(set(), backend & deprecated)
            self.assertLessEqual(
                {'drbd_clvm_lock_manager', 'drbd_clvm_cluster_node_name',
                 'drbd_clvm_cluster_peer_nodes'}, backend & current)

    def test_no_target_address_leaves_cinder_default(self):
        self._bash('drbd_clvm_configure_cinder "$1"', self.conf,
                   DRBD_CLVM_LOCK_MANAGER='lvmlockd',
                   DRBD_CLVM_BACKEND_NAME='drbd',
                   DRBD_CLVM_TARGET_HELPER='lioadm', DRBD_CLVM_TARGET_IP='',
                   DRBD_CLVM_VOLUME_CLEAR='zero')
        self.assertNotIn('target_ip_address', self._parsed()['drbd'])
