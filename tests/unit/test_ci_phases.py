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

""".ci/run's phase table (tools/ci_phases.py): each phase's seconds against
its figure, growth over 20 % flagged, phases that did not run, the budget.
"""

import io
import json
import os
import re

import fixtures
import testtools

from tests.cluster import guests
from tests.unit import source_file


ci_phases = source_file.load('ci_phases', 'tools', 'ci_phases.py')

FIGURES = {'source': 'test run',
           'phases': {'tests': 100, 'drbd-gate': 1000}}


def _row(lines, phase):
    rows = [line for line in lines if line.split()[0] == phase]
    if len(rows) != 1:
        raise AssertionError('%d rows for %s in:\n%s'
                             % (len(rows), phase, '\n'.join(lines)))
    return rows[0]


class TableTest(testtools.TestCase):

    def test_each_phase_with_its_seconds_and_figure(self):
        lines = ci_phases.table_lines(
            [('tests', 104, 0), ('drbd-gate', 987, 0)], FIGURES)
        self.assertEqual(['tests', '104', '100', '+4', '%', '-'],
                         _row(lines, 'tests').split())
        self.assertEqual(['drbd-gate', '987', '1000', '-1', '%', '-'],
                         _row(lines, 'drbd-gate').split())
        self.assertIn('test run', lines[0])

    def test_21_percent_over_is_flagged(self):
        lines = ci_phases.table_lines(
            [('tests', 121, 0), ('drbd-gate', 1210, 0)], FIGURES)
        self.assertIn('GREW over 20 %', _row(lines, 'tests'))
        self.assertIn('GREW over 20 %', _row(lines, 'drbd-gate'))

    def test_19_percent_over_is_not_flagged(self):
        lines = ci_phases.table_lines(
            [('tests', 119, 0), ('drbd-gate', 1190, 0)], FIGURES)
        self.assertNotIn('GREW', '\n'.join(lines))

    def test_exactly_20_percent_over_is_not_flagged(self):
        lines = ci_phases.table_lines([('drbd-gate', 1200, 0)], FIGURES)
        self.assertNotIn('GREW', '\n'.join(lines))

    def test_a_failed_phase_shows_its_exit_status(self):
        lines = ci_phases.table_lines(
            [('tests', 90, 0), ('drbd-gate', 1300, 2)], FIGURES)
        row = _row(lines, 'drbd-gate')
        self.assertIn('failed, exit 2', row)
        self.assertIn('GREW', row)
        self.assertNotIn('failed', _row(lines, 'tests'))

    def test_a_phase_that_did_not_run_shows_so(self):
        lines = ci_phases.table_lines(
            [('tests', 90, 1), ('drbd-gate', None, None)], FIGURES)
        self.assertEqual(['drbd-gate', '-', '1000', '-', '-', 'not', 'run'],
                         _row(lines, 'drbd-gate').split())

    def test_a_phase_without_a_figure_shows_so(self):
        lines = ci_phases.table_lines([('new-gate', 50, 0)], FIGURES)
        self.assertEqual(
            ['new-gate', '50', '-', '-', '-', 'no', 'figure', 'yet'],
            _row(lines, 'new-gate').split())

    def test_each_phase_s_core_seconds_where_known(self):
        lines = ci_phases.table_lines(
            [('tests', 104, 0), ('drbd-gate', 987, 0)], FIGURES,
            phase_cpu={'drbd-gate': 1650})
        self.assertEqual('-', _row(lines, 'tests').split()[5])
        self.assertEqual('1650', _row(lines, 'drbd-gate').split()[5])
        header = lines[1]
        self.assertEqual(header.index('core-s') + len('core-s'),
                         _row(lines, 'drbd-gate').index('1650') + 4)

    def test_budget_line_total_and_percentage(self):
        lines = ci_phases.table_lines(
            [('tests', 180, 0), ('drbd-gate', 1980, 0)], FIGURES)
        # 2160 of 5400 s is 40 %
        self.assertEqual(
            "total 2160 s of CI's 5400 s limit (40 %), within the "
            "project's 2700 s (45 min) target", lines[-1])

    def test_budget_line_at_the_target_is_within(self):
        lines = ci_phases.table_lines(
            [('tests', 700, 0), ('drbd-gate', 2000, 0)], FIGURES)
        self.assertIn('(50 %), within', lines[-1])

    def test_budget_line_over_the_target_says_so(self):
        lines = ci_phases.table_lines(
            [('tests', 700, 0), ('drbd-gate', 2001, 0)], FIGURES)
        self.assertIn("total 2701 s of CI's 5400 s limit (50 %), OVER the "
                      "project's 2700 s (45 min) target", lines[-1])

    def test_budget_line_counts_phases_not_run(self):
        lines = ci_phases.table_lines(
            [('tests', 540, 3), ('drbd-gate', None, None)], FIGURES)
        self.assertIn('total 540 s', lines[-1])
        self.assertIn('(10 %; 1 not run)', lines[-1])

    def test_budget_line_counts_the_runs_own_clock(self):
        # Two gates side by side: 2400 s of phases in 1500 s.
        lines = ci_phases.table_lines(
            [('tests', 400, 0), ('drbd-gate', 2000, 0)], FIGURES,
            elapsed=1500)
        self.assertEqual(
            "total 1500 s of CI's 5400 s limit (28 %; 2400 s of phases side "
            "by side), within the project's 2700 s (45 min) target",
            lines[-1])

    def test_columns_line_up(self):
        lines = ci_phases.table_lines(
            [('tests', 5, 0), ('drbd-gate', 12345, 0)], FIGURES)
        header = lines[1]
        for phase in ('tests', 'drbd-gate'):
            # seconds right-aligned under their heading
            row = _row(lines, phase)
            self.assertEqual(header.index('seconds') + len('seconds'),
                             re.search(r'\d+', row).end())


class MainTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.timings = os.path.join(self.directory, 'timings')
        self.stdout = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))

    def _main(self, timings_text, log_text=None):
        with open(self.timings, 'w') as timings_file:
            timings_file.write(timings_text)
        figures = os.path.join(self.directory, 'figures.json')
        with open(figures, 'w') as figures_file:
            json.dump({'source': 'test run', 'phases': {
                'tests': 180, 'drbd-gate': 2000, 'cinder-gate': 700,
                'shared-lun-gate': 800}}, figures_file)
        argv = [self.timings, '--figures', figures]
        if log_text is not None:
            log = os.path.join(self.directory, 'ci.log')
            with open(log, 'w') as log_file:
                log_file.write(log_text)
            argv += ['--log', log]
        ci_phases.main(argv)
        return self.stdout.getvalue().splitlines()

    def test_each_gates_failure_follows_the_table(self):
        lines = self._main(
            'tests 175 0\ndrbd-gate 2600 1\ncinder-gate 700 1\n',
            '[gate] scenario tests FAILED after 3.0 s\n'
            'flows not ok: extend\n'
            '[gate] FAILED: fault cases missed: node-dead (2600 s)\n'
            '[gate] FAILED: flows not ok: %s (700 s)\n' % ('x' * 900))
        self.assertEqual('[gate] FAILED: fault cases missed: node-dead '
                         '(2600 s)', lines[-2])
        self.assertEqual(ci_phases.FAILURE_CHARACTERS, len(lines[-1]))
        self.assertTrue(lines[-1].startswith('[gate] FAILED: flows not ok: '))
        self.assertIn('OVER', lines[-3])

    def test_core_seconds_read_from_the_timings(self):
        lines = self._main('tests 175 0 260\ndrbd-gate 2600 1 2900\n')
        self.assertEqual(['tests', '175', '180', '-3', '%', '260'],
                         _row(lines, 'tests').split())
        self.assertEqual('2900', _row(lines, 'drbd-gate').split()[5])

    def test_a_log_without_failures_adds_nothing(self):
        lines = self._main('tests 175 0\n', '[gate] passed in 9 s\n')
        self.assertTrue(lines[-1].startswith('total 175 s'), lines[-1])

    def test_phases_after_a_failure_are_not_run(self):
        lines = self._main('tests 175 0\ndrbd-gate 2600 1\n')
        self.assertEqual(['tests', '175', '180', '-3', '%', '-'],
                         _row(lines, 'tests').split())
        self.assertIn('failed, exit 1', _row(lines, 'drbd-gate'))
        self.assertIn('GREW', _row(lines, 'drbd-gate'))
        self.assertIn('not run', _row(lines, 'cinder-gate'))
        self.assertIn('not run', _row(lines, 'shared-lun-gate'))
        self.assertIn('(51 %; 2 not run)', lines[-1])

    def test_the_elapsed_line_is_the_total(self):
        lines = self._main('tests 175 0\ndrbd-gate 2600 0\n'
                           'cinder-gate 700 0\nshared-lun-gate 800 0\n'
                           'elapsed 3000\n')
        self.assertNotIn('elapsed', '\n'.join(lines[:-1]))
        self.assertIn("total 3000 s of CI's 5400 s limit (56 %; 4275 s of "
                      "phases side by side), OVER", lines[-1])

    def test_every_phase_ci_runs_has_a_committed_figure(self):
        with open(os.path.join(guests.ROOT, '.ci', 'run')) as run_file:
            timed = re.findall(r'run_phase ([\w-]+) ', run_file.read())
        figures = ci_phases.load_figures()
        # Defined in .ci/run's order, not run in it: the fault campaign and
        # the shared-LUN gate run beside the scenarios and the Cinder gate.
        self.assertEqual({'tests', 'image-wait', 'gate-env', 'scenarios',
                          'fault-campaign', 'cinder-gate', 'shared-lun-gate'},
                         set(timed))
        self.assertEqual(len(timed), len(set(timed)))
        self.assertEqual(set(timed), set(figures['phases']))
        self.assertTrue(figures['source'])

    def test_ci_records_its_own_clock(self):
        with open(os.path.join(guests.ROOT, '.ci', 'run')) as run_file:
            self.assertIn('echo "elapsed $SECONDS" >>"$timings"',
                          run_file.read())


class CpuTest(testtools.TestCase):
    """The host's cores over the run, from .ci/run's two /proc/stat lines."""

    def setUp(self):
        super().setUp()
        self.timings = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'timings')

    def _write(self, text):
        with open(self.timings, 'w') as timings_file:
            timings_file.write(text)

    def test_busy_and_all_ticks_between_start_and_end(self):
        # user nice system idle iowait irq softirq steal guest guest_nice
        self._write('cpu-start cpu  100 0 50 1000 10 0 5 0 0 0\n'
                    'tests 175 0\n'
                    'elapsed 3000\n'
                    'cpu-end cpu  1100 0 450 1200 30 0 105 0 0 0\n')
        # busy 1655 - 155 = 1500, all 2885 - 1165 = 1720
        self.assertEqual((1500, 1720), ci_phases.read_cpu(self.timings))
        timings, elapsed = ci_phases.read_timings(self.timings)
        self.assertEqual({'tests': (175, 0)}, timings)
        self.assertEqual(3000, elapsed)

    def test_no_line_without_both_marks(self):
        self._write('cpu-start cpu  100 0 50 1000 10 0 5 0 0 0\n'
                    'tests 175 0\n')
        self.assertIsNone(ci_phases.read_cpu(self.timings))

    def test_the_line_gives_the_share_and_core_seconds(self):
        line = ci_phases.cpu_line(1500, 1720, 100)
        self.assertIn(' 87 % of every core busy', line)
        self.assertIn(' 15 core-seconds', line)

    def test_main_prints_it_after_the_budget_line(self):
        self._write('cpu-start cpu  0 0 0 0 0 0 0 0 0 0\n'
                    'tests 175 0\n'
                    'cpu-end cpu  9000 0 0 1000 0 0 0 0 0 0\n')
        stdout = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        ci_phases.main([self.timings])
        lines = stdout.getvalue().splitlines()
        self.assertTrue(lines[-2].startswith('total 175 s'), lines[-2])
        self.assertIn('90 % of every core busy', lines[-1])
