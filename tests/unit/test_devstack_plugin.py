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

"""devstack/plugin.sh through DevStack's phases, in the order stack.sh,
unstack.sh and clean.sh source it, against a stand-in of the DevStack
functions and variables it uses (and of configure_cinder's backend loop, the
contract that puts the backend in enabled_backends). The cluster-starting
functions of devstack/lib/drbd_clvm are stubbed and nothing touches the
host: the stand-in sudo only records, but for a copy into the test's own
directory and the stack-up's ``bash -c`` against the stubbed library.
"""

import configparser
import os
import shutil
import subprocess

import fixtures
import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTERS = os.path.join('etc', 'drbd_clvm_driver', 'rootwrap.d',
                       'drbd_clvm.filters')

#: appended to a copy of devstack/lib/drbd_clvm: no corosync, DRBD or LVM
STUBS = r'''
function drbd_clvm_configure_node {
    echo "configure_node $1 disk=$DRBD_CLVM_DISK" \
        "fence=$DRBD_CLVM_FENCE_PROGRAM" >>"$STANDIN_LOG"
}
function drbd_clvm_start_node {
    echo "start_node $1" >>"$STANDIN_LOG"
}
'''

#: DevStack, as far as plugin.sh, settings and the lib use it
DEVSTACK = r'''
set -o errexit
function log { echo "$*" >>"$STANDIN_LOG"; }
function define_plugin { :; }
function die { shift; echo "die: $*" >&2; exit 1; }
function warn { log "warn: $2"; }
function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ,$ENABLED_SERVICES, == *,$service,* ]] && return 0
        [[ $service == cinder && ,$ENABLED_SERVICES == *,c-* ]] && return 0
    done
    return 1
}
function install_package { log "install_package $*"; }
function pip_install { log "pip_install $*"; }
# Records; runs only a copy into this test's directory and a bash -c (the
# stack-up, against the stubbed library).
function sudo {
    log "sudo $*"
    [[ $1 == -E ]] && shift
    case $1 in
        cp) if [[ ${!#} == "$STANDIN_ROOT"/* ]]; then "$@"; fi ;;
        bash) "$@" ;;
        losetup)
            if [[ $2 == --show || $2 == -l ]]; then echo /dev/loop9; fi ;;
    esac
}
function iniset {
    python3 - "$@" <<'PYTHON'
import configparser
import sys
path, section, key, value = sys.argv[1:5]
conf = configparser.ConfigParser(interpolation=None, default_section='-')
conf.optionxform = str
conf.read(path)
if not conf.has_section(section):
    conf.add_section(section)
conf.set(section, key, value)
with open(path, 'w') as handle:
    conf.write(handle)
PYTHON
}
# lib/cinder: its defaults, sourced before the plugin's settings
CINDER_CONF_DIR=$STANDIN_ROOT/etc/cinder
CINDER_CONF=$CINDER_CONF_DIR/cinder.conf
CINDER_ENABLED_BACKENDS=${CINDER_ENABLED_BACKENDS:-lvm:lvmdriver-1}
CINDER_VOLUME_CLEAR=${CINDER_VOLUME_CLEAR:-zero}
# lib/cinder_backends/lvm, which lib/cinder sources for lvm:NAME
function configure_cinder_backend_lvm {
    iniset "$CINDER_CONF" "$1" volume_driver \
        cinder.volume.drivers.lvm.LVMVolumeDriver
    iniset "$CINDER_CONF" "$1" volume_backend_name "$1"
}
# lib/cinder's configure_cinder, as far as backends go
function configure_cinder {
    mkdir -p "$CINDER_CONF_DIR/rootwrap.d"
    rm -f "$CINDER_CONF"
    iniset "$CINDER_CONF" DEFAULT debug True
    if is_service_enabled etcd3; then
        iniset "$CINDER_CONF" coordination backend_url \
            "etcd3+http://${SERVICE_HOST}:${ETCD_PORT:-2379}"
    fi
    if is_service_enabled c-vol && [[ -n $CINDER_ENABLED_BACKENDS ]]; then
        local enabled_backends="" default_name="" be be_name be_type
        for be in ${CINDER_ENABLED_BACKENDS//,/ }; do
            be_type=${be%%:*}
            be_name=${be##*:}
            if type "configure_cinder_backend_${be_type}" >/dev/null 2>&1; then
                "configure_cinder_backend_${be_type}" "$be_name"
            fi
            if [[ -z $default_name ]]; then
                default_name=$be_name
            fi
            enabled_backends+=$be_name,
        done
        iniset "$CINDER_CONF" DEFAULT enabled_backends "${enabled_backends%,*}"
        iniset "$CINDER_CONF" DEFAULT default_volume_type "$default_name"
    fi
}
'''

#: stack.sh's order: settings (run_phase source), pre-install, the services'
#: install and configure_cinder, install, post-config, (start), extra
STACK = r'''
source "$PLUGIN/devstack/settings"
source "$PLUGIN/devstack/plugin.sh" stack pre-install
if is_service_enabled cinder; then configure_cinder; fi
source "$PLUGIN/devstack/plugin.sh" stack install
source "$PLUGIN/devstack/plugin.sh" stack post-config
source "$PLUGIN/devstack/plugin.sh" stack extra
log "CINDER_ENABLED_BACKENDS=$CINDER_ENABLED_BACKENDS"
'''

UNSTACK = r'''
source "$PLUGIN/devstack/settings"
source "$PLUGIN/devstack/plugin.sh" unstack
'''

CLEAN = r'''
source "$PLUGIN/devstack/settings"
source "$PLUGIN/devstack/plugin.sh" clean
'''

#: a pair member's localrc, as in the README
LOCALRC = {
    'ENABLED_SERVICES': 'key,g-api,c-api,c-sch,c-vol,n-cpu',
    'HOST_IP': '192.0.2.2',
    'DRBD_CLVM_NODE1_NAME': 'alpha', 'DRBD_CLVM_NODE1_ADDR': '192.0.2.1',
    'DRBD_CLVM_NODE2_NAME': 'beta', 'DRBD_CLVM_NODE2_ADDR': '192.0.2.2',
    'DRBD_CLVM_LOCAL_NODE': 'beta', 'DRBD_CLVM_FIRST_NODE': 'yes',
    'DRBD_CLVM_DISK': '/dev/sdz', 'DRBD_CLVM_RESOURCE': 'r7',
    'DRBD_CLVM_FENCE_AGENT': 'fence_ipmilan',
    'DRBD_CLVM_NODE1_FENCE_ARGS': 'ip=198.51.100.1',
    'DRBD_CLVM_NODE2_FENCE_ARGS': 'ip=198.51.100.2',
}


class PhaseFailed(Exception):
    pass


class PluginPhasesTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.plugin = os.path.join(self.root, 'plugin')
        os.makedirs(os.path.join(self.plugin, 'devstack', 'lib'))
        for name in ('plugin.sh', 'settings'):
            shutil.copy(os.path.join(ROOT, 'devstack', name),
                        os.path.join(self.plugin, 'devstack', name))
        with open(os.path.join(ROOT, 'devstack', 'lib', 'drbd_clvm')) as f:
            lib = f.read()
        with open(os.path.join(self.plugin, 'devstack', 'lib', 'drbd_clvm'),
                  'w') as f:
            f.write(lib + STUBS)
        os.makedirs(os.path.dirname(os.path.join(self.plugin, FILTERS)))
        shutil.copy(os.path.join(ROOT, FILTERS),
                    os.path.join(self.plugin, FILTERS))
        # Host programs the plugin might reach without sudo: recorded only.
        bin_dir = os.path.join(self.root, 'bin')
        os.makedirs(bin_dir)
        for program in ('drbdadm', 'pkill', 'killall', 'losetup', 'corosync',
                        'dlm_controld', 'lvmlockd', 'systemctl',
                        'drbd-clvm-fence'):
            path = os.path.join(bin_dir, program)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\necho "%s $*" >>"$STANDIN_LOG"\n'
                        % program)
            os.chmod(path, 0o755)
        self.log = os.path.join(self.root, 'calls.log')
        self.env = {
            'PATH': bin_dir + os.pathsep + os.environ['PATH'],
            'HOME': self.root, 'LANG': 'C.UTF-8',
            'STANDIN_ROOT': self.root, 'STANDIN_LOG': self.log,
            'PLUGIN': self.plugin,
            'DATA_DIR': os.path.join(self.root, 'data'),
            # no drbd-clvm-fence here: the one pip installed is found
            'DRBD_CLVM_FENCE_PROGRAM': os.path.join(self.root, 'none'),
        }
        os.makedirs(self.env['DATA_DIR'])

    def _run(self, script, **localrc):
        env = dict(self.env, **dict(LOCALRC, **localrc))
        result = subprocess.run(['bash', '-c', DEVSTACK + script], env=env,
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise PhaseFailed(result.stderr)

    def _calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            return handle.read().splitlines()

    def _conf(self):
        conf = configparser.ConfigParser(interpolation=None,
                                         default_section='-')
        conf.read(os.path.join(self.root, 'etc', 'cinder', 'cinder.conf'))
        return conf

    def test_stack_enables_the_backend_beside_devstack_default(self):
        self._run(STACK)
        conf = self._conf()
        # DevStack's lvm backend stays, first: the default volume type
        self.assertEqual('lvmdriver-1,drbd',
                         conf['DEFAULT']['enabled_backends'])
        self.assertEqual('lvmdriver-1',
                         conf['DEFAULT']['default_volume_type'])
        self.assertEqual('cinder.volume.drivers.lvm.LVMVolumeDriver',
                         conf['lvmdriver-1']['volume_driver'])
        self.assertEqual('drbdclvm',
                         conf['DEFAULT']['cluster'])
        self.assertEqual(
            {'volume_driver': 'drbd_clvm_driver.driver.DrbdClvmVolumeDriver',
             'volume_backend_name': 'drbd',
             'volume_group': 'cinder-volumes-drbd',
             'drbd_clvm_drbd_resource': 'r7',
             'drbd_clvm_lock_manager': 'lvmlockd',
             'drbd_clvm_cluster_node_name': 'beta',
             'drbd_clvm_cluster_peer_nodes': 'alpha',
             'target_helper': 'lioadm',
             'target_protocol': 'iscsi', 'target_ip_address': '192.0.2.2',
             'volume_clear': 'zero'},
            dict(conf['drbd']))
        self.assertTrue(os.path.exists(os.path.join(
            self.root, 'etc', 'cinder', 'rootwrap.d', 'drbd_clvm.filters')))
        calls = self._calls()
        self.assertIn('install_package drbd-utils lvm2 corosync dlm-controld '
                      'lvm2-lockd fence-agents', calls)
        self.assertIn('pip_install -e %s' % self.plugin, calls)
        self.assertIn('configure_node / disk=/dev/sdz fence=%s'
                      % os.path.join(self.root, 'bin', 'drbd-clvm-fence'),
                      calls)
        # the cluster is up before c-vol starts (after post-config)
        self.assertEqual('start_node yes', calls[-2])
        self.assertEqual(
            'CINDER_ENABLED_BACKENDS=lvm:lvmdriver-1,drbd_clvm:drbd',
            calls[-1])

        self._run(UNSTACK)
        self.assertIn('sudo drbdadm down r7', self._calls())
        self.assertIn('sudo pkill corosync', self._calls())

    def test_coordination_on_etcd_as_devstack_writes_it(self):
        self._run(STACK, ENABLED_SERVICES='key,c-api,c-sch,c-vol,etcd3',
                  SERVICE_HOST='192.0.2.10')
        self.assertEqual('etcd3+http://192.0.2.10:2379',
                         self._conf()['coordination']['backend_url'])
        self.assertEqual([], [call for call in self._calls()
                              if call.startswith('warn:')])

    def test_without_etcd_the_file_locks_are_warned_of(self):
        self._run(STACK, ENABLED_SERVICES='key,c-api,c-sch,c-vol')
        self.assertNotIn('coordination', self._conf())
        [warning] = [call for call in self._calls()
                     if call.startswith('warn:')]
        self.assertIn('enable_service etcd3', warning)

    def test_backend_named_in_local_conf_is_not_added_again(self):
        self._run(STACK, CINDER_ENABLED_BACKENDS='drbd_clvm:pair1')
        conf = self._conf()
        self.assertEqual('pair1', conf['DEFAULT']['enabled_backends'])
        self.assertEqual('pair1', conf['DEFAULT']['default_volume_type'])
        self.assertEqual('pair1', conf['pair1']['volume_backend_name'])
        self.assertEqual('drbd_clvm_driver.driver.DrbdClvmVolumeDriver',
                         conf['pair1']['volume_driver'])
        self.assertNotIn('drbd', conf)
        self.assertEqual('CINDER_ENABLED_BACKENDS=drbd_clvm:pair1',
                         self._calls()[-1])

    def test_api_node_gets_the_volume_type_but_no_cluster(self):
        self._run(STACK, ENABLED_SERVICES='key,c-api,c-sch')
        calls = self._calls()
        # DevStack makes the volume type from CINDER_ENABLED_BACKENDS
        self.assertEqual(
            ['CINDER_ENABLED_BACKENDS=lvm:lvmdriver-1,drbd_clvm:drbd'],
            calls)
        self.assertNotIn('drbd', self._conf())

    def test_fencing_without_an_agent_stops_before_installing(self):
        error = self.assertRaises(PhaseFailed, self._run, STACK,
                                  DRBD_CLVM_FENCE_AGENT='')
        self.assertIn('set DRBD_CLVM_FENCE_AGENT', str(error))
        self.assertEqual([], self._calls())
        self._run(STACK, DRBD_CLVM_FENCE_AGENT='', DRBD_CLVM_FENCING='0')
        self.assertNotIn('fence-agents', ' '.join(self._calls()))

    def test_missing_peer_address_stops_before_installing(self):
        error = self.assertRaises(PhaseFailed, self._run, STACK,
                                  DRBD_CLVM_NODE2_ADDR='')
        self.assertIn('Set DRBD_CLVM_NODE1_ADDR and DRBD_CLVM_NODE2_ADDR',
                      str(error))
        self.assertEqual([], self._calls())

    def test_loop_file_made_at_stack_and_released_at_clean(self):
        image = os.path.join(self.env['DATA_DIR'], 'drbd-clvm.img')
        self._run(STACK, DRBD_CLVM_DISK='', DRBD_CLVM_BACKING_SIZE='1M')
        self.assertEqual(1 << 20, os.path.getsize(image))
        self.assertIn('configure_node / disk=/dev/loop9 fence=%s'
                      % os.path.join(self.root, 'bin', 'drbd-clvm-fence'),
                      self._calls())
        # clean.sh runs unstack.sh first
        self._run(UNSTACK, DRBD_CLVM_DISK='')
        self._run(CLEAN, DRBD_CLVM_DISK='')
        self.assertIn('sudo losetup -d /dev/loop9', self._calls())
        self.assertFalse(os.path.exists(image))

    def _copied_filter(self):
        with open(os.path.join(self.root, 'etc', 'cinder', 'rootwrap.d',
                               'drbd_clvm.filters')) as handle:
            return handle.read()

    def _installed_filter(self, prefix):
        """The filter as setup.cfg's data_files put it under ``prefix``,
        marked apart from the checkout's.
        """
        path = os.path.join(prefix, FILTERS)
        os.makedirs(os.path.dirname(path))
        with open(os.path.join(ROOT, FILTERS)) as handle:
            text = '# installed\n' + handle.read()
        with open(path, 'w') as handle:
            handle.write(text)
        return text

    def test_checkout_filter_when_none_is_installed(self):
        self._run(STACK)
        with open(os.path.join(ROOT, FILTERS)) as handle:
            self.assertEqual(handle.read(), self._copied_filter())

    def test_filter_installed_from_the_wheel_preferred(self):
        # pip's prefix (a virtualenv): bin/drbd-clvm-health beside etc/
        prefix = os.path.join(self.root, 'venv')
        os.makedirs(os.path.join(prefix, 'bin'))
        program = os.path.join(prefix, 'bin', 'drbd-clvm-health')
        with open(program, 'w') as handle:
            handle.write('#!/bin/sh\n')
        os.chmod(program, 0o755)
        installed = self._installed_filter(prefix)
        self.env['PATH'] = (os.path.join(prefix, 'bin') + os.pathsep
                            + self.env['PATH'])
        self._run(STACK)
        self.assertEqual(installed, self._copied_filter())

    def test_plugin_run_from_the_wheel_share_directory(self):
        # The wheel's copy of devstack/, with no checkout around it and no
        # console script on PATH: the filter from the same prefix.
        prefix = os.path.join(self.root, 'prefix')
        share = os.path.join(prefix, 'share', 'drbd-clvm-driver')
        shutil.copytree(os.path.join(self.plugin, 'devstack'),
                        os.path.join(share, 'devstack'))
        installed = self._installed_filter(prefix)
        self.env['PLUGIN'] = share
        self._run(STACK)
        self.assertEqual(installed, self._copied_filter())
        self.assertIn('start_node yes', self._calls())
