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

"""The driver's options: their prefixed names, the names before the prefix
still read from existing cinder.conf files, and the sample configuration."""

import os

import fixtures
from oslo_config import cfg
from oslo_config import generator
import testtools

from drbd_clvm_driver import opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PREFIX = 'drbd_clvm_'
#: prefixed from the start, so without a name from before the prefix
ALWAYS_PREFIXED = {'drbd_clvm_lock_path'}
#: a value other than the default for every option with an older name, as
#: an operator's cinder.conf spells it
NOT_THE_DEFAULT = {
    'drbd_clvm_replication': 'shared_lun',
    'drbd_clvm_drbd_resource': 'r7',
    'drbd_clvm_shared_lun_device': '/dev/mapper/mpatha',
    'drbd_clvm_lock_manager': 'sanlock',
    'drbd_clvm_lvm_command_timeout': '77',
    'drbd_clvm_lvm_shell': 'false',
    'drbd_clvm_cluster_check_timeout': '7',
    'drbd_clvm_data_copy_timeout': '700',
    'drbd_clvm_zero_in_device': 'false',
    'drbd_clvm_snapshot_chunk_kib': '16',
    'drbd_clvm_cluster_node_name': 'alpha',
    'drbd_clvm_cluster_peer_nodes': 'beta,gamma',
    'drbd_clvm_cluster_node_aliases': 'compute-a:alpha',
    'drbd_clvm_peer_call_timeout': '70',
    'drbd_clvm_peer_probe_timeout': '5',
}
#: options renamed after they were prefixed: every name they had, newest
#: first
RENAMED = {
    'drbd_clvm_zero_in_device': ['drbd_clvm_copy_skips_zeros',
                                 'copy_skips_zeros'],
}


def _old_names(name):
    return RENAMED.get(name, [name[len(PREFIX):]])


class NamesTest(testtools.TestCase):

    def test_every_option_is_prefixed_and_keeps_its_old_name(self):
        for option in opts.drbd_clvm_opts:
            self.assertTrue(option.name.startswith(PREFIX), option.name)
            old_names = [old.name for old in option.deprecated_opts]
            if option.name in ALWAYS_PREFIXED:
                self.assertEqual([], old_names)
            else:
                self.assertEqual(_old_names(option.name), old_names)

    def test_old_names_in_a_config_file_set_the_new_options(self):
        self._old_names_set_the_new_options(-1)

    def test_renamed_options_take_their_prefixed_old_names(self):
        self._old_names_set_the_new_options(0)

    def _old_names_set_the_new_options(self, which):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'cinder.conf')
        with open(path, 'w') as handle:
            handle.write('[drbd]\n' + ''.join(
                '%s = %s\n' % (_old_names(name)[which], value)
                for name, value in NOT_THE_DEFAULT.items()))
        conf = cfg.ConfigOpts()
        conf.register_opts(opts.drbd_clvm_opts, group='drbd')
        conf([], default_config_files=[path])
        with_old_names = {option.name: option for option in opts.drbd_clvm_opts
                          if option.deprecated_opts}
        self.assertEqual(set(with_old_names), set(NOT_THE_DEFAULT))
        for name, option in with_old_names.items():
            expected = option.type(NOT_THE_DEFAULT[name])
            self.assertNotEqual(option.default, expected, name)
            self.assertEqual(expected, conf.drbd[name], name)


class SampleConfigTest(testtools.TestCase):

    def test_sample_is_current(self):
        generated = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'sample')
        generator.main([
            '--config-file', os.path.join(
                ROOT, 'etc', 'oslo-config-generator', 'drbd_clvm_driver.conf'),
            '--output-file', generated])
        with open(generated) as handle:
            expected = handle.read()
        with open(os.path.join(ROOT, 'etc',
                               'drbd_clvm_driver.conf.sample')) as handle:
            self.assertEqual(expected, handle.read(),
                             'etc/drbd_clvm_driver.conf.sample is not what '
                             'the options make: run tox -e genconfig')
