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

"""Every program the driver starts runs in the C locale, whatever the
operator's: the driver reads LVM's refusals in their English words
(:mod:`drbd_clvm_driver.lvm`).

Each way the driver starts a program runs a real one here, from a process
in a German locale.
"""

import os

import fixtures
import testtools

from drbd_clvm_driver import exception
from drbd_clvm_driver import lvm
from drbd_clvm_driver.privileged import held
from drbd_clvm_driver.privileged import lvm_shell
from drbd_clvm_driver.privileged import programs
from drbd_clvm_driver import runner
from tests.unit import recorded
from tests.unit import test_privileged

#: prints the environment it was given, a NUL after each variable
PRINT_ENVIRONMENT = ['env', '-0']

#: LVM with its German translation installed: the recorded refusal where
#: its messages are in C, German words elsewhere (gettext's order of the
#: locale variables)
_TRANSLATED_LVM = '''#!/bin/sh
case "${LC_ALL:-${LC_MESSAGES:-$LANG}}" in
C|POSIX) cat "$(dirname "$0")/recorded" >&2 ;;
*) echo '  LV von anderem Host gesperrt: vgc/volume-0001' >&2 ;;
esac
exit %d
'''


def environment_of(printed):
    return dict(variable.split('=', 1)
                for variable in printed.split('\0') if variable)


class GermanOperator(fixtures.Fixture):
    """This process in a German locale, as an operator's shell or a service
    started from it would be.
    """

    def _setUp(self):
        for name, value in (('LANG', 'de_DE.UTF-8'),
                            ('LC_ALL', 'de_DE.UTF-8'),
                            ('LANGUAGE', 'de')):
            self.useFixture(fixtures.EnvironmentVariable(name, value))
        # the rest of the environment must reach the programs
        self.useFixture(fixtures.EnvironmentVariable('DRBD_CLVM_KEPT',
                                                     'kept'))


class StartPathsTest(testtools.TestCase):
    """The environment each way of starting a program gives it."""

    def setUp(self):
        super().setUp()
        self.useFixture(GermanOperator())

    def assertInCLocale(self, printed):
        environment = environment_of(printed)
        self.assertEqual(('C', 'C'), (environment.get('LC_ALL'),
                                      environment.get('LANG')))
        self.assertEqual(os.environ['PATH'], environment.get('PATH'))
        self.assertEqual('kept', environment.get('DRBD_CLVM_KEPT'))
        return environment

    def test_the_operators_runner(self):
        result = runner.RootCommandRunner(default_timeout=10).run(
            PRINT_ENVIRONMENT)
        self.assertInCLocale(result.stdout)

    def test_a_program_in_the_daemon(self):
        self.assertInCLocale(programs.run(PRINT_ENVIRONMENT, 10)[1])

    def test_a_reading_in_the_daemon(self):
        [(_, printed, _)] = programs.take_readings([PRINT_ENVIRONMENT], 10)
        self.assertInCLocale(printed)

    def test_a_change_held_in_the_daemon(self):
        lock_file = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'V_vgc')
        change = held.HeldCommand(PRINT_ENVIRONMENT, 10, lock_file,
                                  shell=False)
        change.start()
        self.assertTrue(change.held)
        self.assertInCLocale(change.finish()[1])

    def test_the_daemons_lvm_shell(self):
        self.useFixture(fixtures.MockPatchObject(lvm_shell, 'PROGRAM',
                                                 PRINT_ENVIRONMENT))
        shell = lvm_shell.Shell.start(stamp=None)
        self.addCleanup(os.close, shell.report)
        printed, _ = shell.process.communicate(timeout=10)
        environment = self.assertInCLocale(printed.decode())
        self.assertEqual('lvmdbusd', environment['LVM_COMMAND_PROFILE'])
        self.assertIn('LVM_REPORT_FD', environment)


class GermanOperatorRefusalTest(testtools.TestCase):
    """A refusal of an LVM that speaks German reaches a German operator as
    the driver's error, through each runner.
    """

    def setUp(self):
        super().setUp()
        recording = recorded.load('node2-16-lvchange_aey_vgc_volume_0001.txt')
        programs = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(programs, 'recorded'), 'w') as handle:
            handle.write(recording.output)
        lvchange = os.path.join(programs, 'lvchange')
        with open(lvchange, 'w') as handle:
            handle.write(_TRANSLATED_LVM % recording.exit_code)
        os.chmod(lvchange, 0o755)
        self.useFixture(GermanOperator())
        self.useFixture(fixtures.EnvironmentVariable(
            'PATH', programs + os.pathsep + os.environ['PATH']))

    def assertLockedByOtherNode(self, command_runner):
        vg = lvm.ClusteredVG(command_runner, 'vgc')
        error = self.assertRaises(exception.LockedByOtherNode, vg.activate,
                                  'volume-0001', lvm.Activation.EXCLUSIVE)
        self.assertIn('LV locked by other host: vgc/volume-0001', str(error))

    def test_the_operators_runner(self):
        self.assertLockedByOtherNode(
            runner.RootCommandRunner(default_timeout=10))

    def test_the_volume_services_runner(self):
        self.useFixture(test_privileged.InDaemon())
        self.assertLockedByOtherNode(runner.PrivsepCommandRunner(
            default_timeout=10, lvm_shell=False))
