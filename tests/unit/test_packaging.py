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

"""What a release ships besides the Python package: bindep.txt naming the
distribution packages a node and the gate's host need, and setup.cfg's
data_files putting the rootwrap filter, the sample configuration and the
DevStack plugin into the wheel.
"""

import configparser
import os
import re
import subprocess

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTER = 'etc/drbd_clvm_driver/rootwrap.d/drbd_clvm.filters'
SAMPLE = 'etc/drbd_clvm_driver.conf.sample'

#: the packages every node of the default stack (DRBD, lvmlockd over dlm)
#: runs on, and a sanlock node's
NODE_PACKAGES = {'drbd-utils', 'lvm2', 'lvm2-lockd', 'corosync',
                 'dlm-controld'}
SANLOCK_PACKAGES = {'lvm2', 'lvm2-lockd', 'sanlock'}
#: the gate's host: the guest image's build and qemu
GATE_PACKAGES = {'qemu-system-x86', 'qemu-utils', 'debootstrap', 'e2fsprogs'}

#: drbd_clvm_install_packages of devstack/plugin.sh, outside DevStack
INSTALL_PACKAGES = r'''
function define_plugin { :; }
function is_service_enabled { return 1; }
function install_package { echo "$*"; }
source "$ROOT/devstack/settings"
source "$ROOT/devstack/plugin.sh"
drbd_clvm_install_packages
'''


def _read(path):
    with open(os.path.join(ROOT, path)) as handle:
        return handle.read()


def bindep_profiles(text):
    """{package: set of profiles} of a bindep file; a package whose
    selectors name no profile (platforms only) is in every profile, as
    ``{None}``.
    """
    packages = {}
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        match = re.match(r'^([A-Za-z0-9][\w.+-]*)\s*(?:[<>=!].*?)?'
                         r'(?:\[([^\]]*)\])?\s*$', line)
        if not match:
            raise ValueError('not a bindep line: %r' % line)
        selectors = (match.group(2) or '').split()
        profiles = {s for s in selectors
                    if ':' not in s and not s.startswith('!')}
        packages.setdefault(match.group(1), set()).update(profiles or {None})
    return packages


def in_profile(packages, profile):
    return {name for name, profiles in packages.items()
            if profile in profiles or None in profiles}


def data_files(config_text):
    """{installed path: source path} of setup.cfg's [files] data_files, with
    pbr's expansion: a source ending in ``*`` is every file under that
    directory, kept in its subdirectories.
    """
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(config_text)
    installed = {}
    target = None
    for line in config.get('files', 'data_files',
                           fallback='').splitlines():
        if not line.strip():
            continue
        if '=' in line:
            target, line = (part.strip() for part in line.split('=', 1))
        for source in line.split():
            if source.endswith('*'):
                top = source[:-1].rstrip('/')
                for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
                    relative = os.path.relpath(dirpath, os.path.join(ROOT,
                                                                     top))
                    for name in names:
                        path = os.path.normpath(
                            os.path.join(top, relative, name))
                        installed[os.path.normpath(os.path.join(
                            target, relative, name))] = path
            else:
                installed[os.path.join(
                    target, os.path.basename(source))] = source
    return installed


class BindepTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.packages = bindep_profiles(_read('bindep.txt'))

    def test_node_packages(self):
        self.assertEqual(set(), NODE_PACKAGES
                         - in_profile(self.packages, 'node'))
        self.assertEqual(set(), SANLOCK_PACKAGES
                         - in_profile(self.packages, 'sanlock'))
        # the default stack has no sanlock, a sanlock node no DRBD or dlm
        self.assertNotIn('sanlock', in_profile(self.packages, 'node'))
        self.assertEqual(set(), {'drbd-utils', 'corosync', 'dlm-controld'}
                         & in_profile(self.packages, 'sanlock'))

    def test_gate_host_packages(self):
        self.assertEqual(set(), GATE_PACKAGES
                         - in_profile(self.packages, 'gate'))
        # and what tools/cluster/build-image installs when missing
        needed = set(re.findall(r'need\+=\(([\w.+-]+)\)',
                                _read('tools/cluster/build-image')))
        self.assertTrue(needed)
        self.assertEqual(set(), needed - in_profile(self.packages, 'gate'))

    def _plugin_installs(self, **settings):
        env = dict(os.environ, ROOT=ROOT, **settings)
        result = subprocess.run(['bash', '-c', INSTALL_PACKAGES], env=env,
                                capture_output=True, text=True, timeout=60,
                                check=True)
        return set(result.stdout.split())

    def test_every_package_the_devstack_plugin_installs(self):
        # The plugin installs drbd-utils for every lock manager, and the
        # fence agents whenever fencing is on; sanlock runs on a shared LUN
        # (no DRBD) and fences nothing (its watchdog does).
        for manager, profile, fencing, unused in (
                ('lvmlockd', 'node', '1', set()),
                ('clvmd', 'clvmd', '1', set()),
                ('sanlock', 'sanlock', '0', {'drbd-utils'})):
            installs = self._plugin_installs(
                DRBD_CLVM_LOCK_MANAGER=manager, DRBD_CLVM_FENCING=fencing)
            self.assertTrue(installs)
            self.assertEqual(set(), installs - unused
                             - in_profile(self.packages, profile), manager)

    def test_every_profile_explained(self):
        text = _read('bindep.txt')
        profiles = set().union(*self.packages.values()) - {None}
        for profile in profiles:
            self.assertRegex(text, r'(?m)^#\s+%s\s' % re.escape(profile))


class DataFilesTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.installed = data_files(_read('setup.cfg'))

    def test_rootwrap_filter(self):
        # Where the DevStack plugin (drbd_clvm_data_file) looks for it
        # under the install prefix: the checkout's own path.
        self.assertEqual(FILTER, self.installed.get(FILTER))
        filters = os.listdir(os.path.join(ROOT, os.path.dirname(FILTER)))
        for name in filters:
            path = os.path.join(os.path.dirname(FILTER), name)
            self.assertEqual(path, self.installed.get(path))

    def test_sample_config(self):
        self.assertEqual(
            SAMPLE,
            self.installed.get('etc/drbd_clvm_driver/'
                               'drbd_clvm_driver.conf.sample'))

    def test_devstack_plugin_and_library(self):
        share = 'share/drbd-clvm-driver'
        for path in ('devstack/plugin.sh', 'devstack/settings',
                     'devstack/lib/drbd_clvm'):
            self.assertEqual(path,
                             self.installed.get(os.path.join(share, path)))

    def test_every_source_exists(self):
        for source in self.installed.values():
            self.assertTrue(os.path.isfile(os.path.join(ROOT, source)),
                            source)


#: the Apache-2.0 notice every Python and shell source file starts with
#: (after a shebang and shellcheck directives), as hacking's H103 checks it
HEADER = '''\
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
'''.splitlines()
SOURCE_DIRS = ('drbd_clvm_driver', 'tests', 'bench', 'tools', 'devstack',
               '.ci')
SKIP_DIRS = {'__pycache__', '.tox', '.stestr', 'build'}


def source_kind(path):
    """'python', 'shell' or None (a data file)."""
    with open(path, 'rb') as handle:
        first = handle.readline()
    if path.endswith('.py'):
        return 'python'
    if first.startswith(b'#!'):
        if b'python' in first:
            return 'python'
        if re.search(rb'\b(ba)?sh\b', first):
            return 'shell'
    return None


def source_files():
    """(relative path, kind) of the project's Python and shell sources."""
    found = [('setup.py', 'python')]
    for top in SOURCE_DIRS:
        for dirpath, dirnames, names in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS
                           and not d.endswith('.egg-info')]
            for name in names:
                path = os.path.join(dirpath, name)
                kind = source_kind(path)
                if kind:
                    found.append((os.path.relpath(path, ROOT), kind))
    return sorted(found)


def header_problem(text, kind):
    """Why ``text`` does not start with the header, or None."""
    lines = text.splitlines()
    if not text.strip():
        return None  # an empty __init__.py: nothing to license (H104)
    start = 1 if lines[0].startswith('#!') else 0
    directive = r'#\s*shellcheck\s' if kind == 'shell' else r'#.*coding[:=]'
    while start < len(lines) and re.match(directive, lines[start]):
        start += 1
    if lines[start:start + len(HEADER)] != HEADER:
        return 'no Apache-2.0 header at line %d' % (start + 1)
    return None


class LicenseTest(testtools.TestCase):

    def test_license_file_is_apache_2(self):
        self.assertTrue(os.path.isfile(os.path.join(ROOT, 'LICENSE')))
        text = _read('LICENSE')
        self.assertIn('Apache License', text)
        self.assertIn('Version 2.0, January 2004', text)
        self.assertIn('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND '
                      'DISTRIBUTION', text)
        self.assertIn('END OF TERMS AND CONDITIONS', text)
        # and the metadata says the same
        self.assertIn('License :: OSI Approved :: Apache Software License',
                      _read('setup.cfg'))

    def test_every_source_file_has_the_header(self):
        sources = source_files()
        kinds = dict(sources)
        # both kinds are found, wherever they live
        for path, kind in (('setup.py', 'python'),
                           ('drbd_clvm_driver/driver.py', 'python'),
                           ('tools/cluster/brick', 'python'),
                           ('devstack/plugin.sh', 'shell'),
                           ('devstack/lib/drbd_clvm', 'shell'),
                           ('tools/cluster/gate', 'shell')):
            self.assertEqual(kind, kinds.get(path), path)
        missing = {}
        for path, kind in sources:
            problem = header_problem(_read(path), kind)
            if problem:
                missing[path] = problem
        self.assertEqual({}, missing)

    def test_header_check_itself(self):
        header = '\n'.join(HEADER) + '\n'
        self.assertIsNone(header_problem(
            '#!/bin/bash\n# shellcheck shell=bash\n' + header + 'x=1\n',
            'shell'))
        self.assertIsNone(header_problem(header + '"""Doc."""\n', 'python'))
        self.assertIsNone(header_problem('', 'python'))
        self.assertIsNotNone(header_problem('"""Doc."""\n' + header,
                                            'python'))
        self.assertIsNotNone(header_problem(
            '#!/bin/bash\n' + header.replace('2.0', '3.0'), 'shell'))
