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

"""Copies and wipes: the commands they send, and what a copy does where
the target's device cannot zero itself."""

import fixtures
import testtools

from drbd_clvm_driver import data
from drbd_clvm_driver import exception
from drbd_clvm_driver import runner


class _Scripted(runner.CommandRunner):
    """Answers each program with its scripted exit code and stderr."""

    def __init__(self, **answers):
        super().__init__(default_timeout=30)
        self.answers = answers
        self.seen = []

    def _execute(self, argv, timeout):
        self.seen.append(list(argv))
        exit_code, stderr = self.answers.get(argv[0], (0, ''))
        return exit_code, '', stderr


class CopyTest(testtools.TestCase):

    def test_target_zeroed_in_its_device_then_only_data_written(self):
        commands = _Scripted()
        data.copy(commands, '/dev/vgc/a', '/dev/vgc/b', 1024, 60,
                  target_mib=2048)
        self.assertEqual(
            [['fallocate', '--punch-hole', '--keep-size', '--offset', '0',
              '--length', str(2048 * 1024 * 1024), '/dev/vgc/b'],
             ['dd', 'if=/dev/vgc/a', 'of=/dev/vgc/b', 'bs=1M', 'count=1024',
              'iflag=direct', 'oflag=direct', 'conv=sparse,fdatasync']],
            commands.seen)

    def test_target_that_cannot_zero_itself_gets_every_block(self):
        log = self.useFixture(fixtures.FakeLogger())
        commands = _Scripted(fallocate=(
            1, 'fallocate: fallocate failed: Operation not supported\n'))
        data.copy(commands, '/dev/vgc/a', '/dev/vgc/b', 16, 60)
        self.assertEqual(
            ['dd', 'if=/dev/vgc/a', 'of=/dev/vgc/b', 'bs=1M', 'count=16',
             'iflag=direct', 'oflag=direct', 'conv=fdatasync'],
            commands.seen[-1])
        self.assertIn('/dev/vgc/b cannot zero itself (fallocate: fallocate '
                      'failed: Operation not supported); writing every '
                      'block', log.output)

    def test_operator_can_have_every_block_written(self):
        commands = _Scripted()
        data.copy(commands, '/dev/vgc/a', '/dev/vgc/b', 16, 60,
                  in_device=False)
        self.assertEqual(
            [['dd', 'if=/dev/vgc/a', 'of=/dev/vgc/b', 'bs=1M', 'count=16',
              'iflag=direct', 'oflag=direct', 'conv=fdatasync']],
            commands.seen)

    def test_failed_copy_is_an_error(self):
        commands = _Scripted(dd=(1, 'dd: error writing: No space left\n'))
        self.assertRaises(exception.CommandFailed, data.copy, commands,
                          '/dev/vgc/a', '/dev/vgc/b', 16, 60)

    def test_bad_sizes_run_nothing(self):
        commands = _Scripted()
        for size in (0, -1, 1.5, '16'):
            self.assertRaises(exception.InvalidInput, data.copy, commands,
                              '/dev/vgc/a', '/dev/vgc/b', size, 60)
        self.assertRaises(exception.InvalidInput, data.copy, commands,
                          '/dev/vgc/a', '/dev/vgc/b', 16, 60, target_mib=0)
        self.assertEqual([], commands.seen)


class WipeTest(testtools.TestCase):

    def test_device_zeroes_itself_and_nothing_is_written(self):
        commands = _Scripted()
        data.wipe(commands, '/dev/vgc/a', 1024, 60)
        self.assertEqual(
            [['fallocate', '--punch-hole', '--keep-size', '--offset', '0',
              '--length', str(1024 * 1024 * 1024), '/dev/vgc/a']],
            commands.seen)

    def test_device_that_cannot_zero_itself_gets_the_zeros_written(self):
        commands = _Scripted(fallocate=(
            1, 'fallocate: fallocate failed: Operation not supported\n'))
        data.wipe(commands, '/dev/vgc/a', 16, 60)
        self.assertEqual(
            ['dd', 'if=/dev/zero', 'of=/dev/vgc/a', 'bs=1M', 'count=16',
             'oflag=direct', 'conv=fdatasync'], commands.seen[-1])

    def test_operator_can_have_the_zeros_written(self):
        commands = _Scripted()
        data.wipe(commands, '/dev/vgc/a', 16, 60, in_device=False)
        self.assertEqual(
            [['dd', 'if=/dev/zero', 'of=/dev/vgc/a', 'bs=1M', 'count=16',
              'oflag=direct', 'conv=fdatasync']], commands.seen)

    def test_failed_wipe_is_an_error(self):
        commands = _Scripted(fallocate=(1, 'not supported\n'),
                             dd=(1, 'dd: error writing: I/O error\n'))
        self.assertRaises(exception.CommandFailed, data.wipe, commands,
                          '/dev/vgc/a', 16, 60)
