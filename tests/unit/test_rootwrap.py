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

"""The shipped rootwrap filter lets the driver's privileged daemon start,
and nothing else.
"""

import os

import fixtures
from oslo_rootwrap import wrapper
import testtools

from drbd_clvm_driver import privileged

FILTERS = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                       'drbd_clvm_driver', 'rootwrap.d')
#: what cinder-volume runs through its root helper to start the daemon
START = ['privsep-helper', '--config-file', '/etc/cinder/cinder.conf',
         '--privsep_context', privileged.default.pypath,
         '--privsep_sock_path', '/tmp/tmpa1b2c3/privsep.sock']


class RootwrapFiltersTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.filters = wrapper.load_filters([FILTERS])
        # This host may have no privsep-helper on rootwrap's path; give it
        # a stand-in to find.
        self.bin = self.useFixture(fixtures.TempDir()).path
        for command in {f.exec_path for f in self.filters}:
            path = os.path.join(self.bin, command)
            open(path, 'w').close()
            os.chmod(path, 0o755)

    def _allowed(self, argv):
        try:
            wrapper.match_filter(self.filters, list(argv),
                                 exec_dirs=[self.bin])
        except wrapper.NoFilterMatched:
            return False
        return True

    def test_the_daemon_starts(self):
        self.assertTrue(self._allowed(START))

    def test_the_start_line_is_the_contexts_own(self):
        command = privileged.default.helper_command(START[-1])
        self.assertEqual(START[3:], command[-4:])

    def test_our_filter_names_our_context_only(self):
        # (oslo.rootwrap itself admits any privsep-helper line; the filter
        # says what this driver needs.)
        ours = next(f for f in self.filters
                    if f.name == 'privsep-rootwrap-drbd-clvm')
        self.assertTrue(ours.match(START))
        for argv in (START[:4] + ['cinder.privsep.sys_admin_pctxt']
                     + START[5:],
                     START[:2] + ['/tmp/evil.conf'] + START[3:],
                     START[:6] + ['/run/other.sock']):
            self.assertFalse(ours.match(argv), ' '.join(argv))

    def test_other_commands_refused(self):
        for argv in (['lvcreate', '-y', '-an', '-L', '4m', '-n', 'x', 'vgc'],
                     ['dd', 'if=/dev/zero', 'of=/dev/sda'],
                     ['cat', '/etc/shadow']):
            self.assertFalse(self._allowed(argv), ' '.join(argv))
