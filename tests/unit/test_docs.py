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

"""The documentation against the code and the committed results, without
Sphinx: every option has help text; the pages name only options that exist,
configuration pages by their current names; what the pages generate
(cinder.conf examples, the error reference, the benchmark and fault tables)
follows the code and ``bench/results``; README's set-up commands are the
ones CI runs.
"""

import json
import os
import re
import tempfile

import testtools

from tests.unit import source_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'doc', 'source')
CONFIGURATION = os.path.join(DOC, 'configuration')
RESULTS = os.path.join(ROOT, 'bench', 'results')

docgen = source_file.load('drbd_clvm_docgen', 'doc', 'source', '_exts',
                          'drbd_clvm_docgen.py')

_OPT_ROLE = re.compile(r':opt:`([^`]+)`')
_RESULT_ROLE = re.compile(r':result:`([^`]+)`')
_LITERAL = re.compile(r'(?<![`:])``([^`]+)``(?!`)')
_SNAKE = re.compile(r'^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$')
_DIRECTIVE = re.compile(r'^\.\. (drbd-clvm-[a-z-]+)::\s*(\S*)\s*$')
#: snake_case names the configuration pages may write as literals that are
#: no option: the package (also the options' entry point) and the groups
NOT_OPTIONS = frozenset(['drbd_clvm_driver', 'drbd_clvm_privileged'])


def _pages(directory=DOC):
    for root, _, files in os.walk(directory):
        if '_exts' in root.split(os.sep):
            continue
        for name in sorted(files):
            if name.endswith('.rst'):
                yield os.path.join(root, name)


def _read(path):
    with open(path) as handle:
        return handle.read()


def _directives(path):
    """``[(name, argument, [content lines])]`` of the page's drbd-clvm
    directives, the content unindented.
    """
    lines = _read(path).splitlines()
    found = []
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        content = []
        for following in lines[index + 1:]:
            if following.strip() and not following.startswith(' '):
                break
            content.append(following)
        indent = min((len(line) - len(line.lstrip())
                      for line in content if line.strip()), default=0)
        found.append((match.group(1), match.group(2),
                      [line[indent:] for line in content]))
    return found


def _list_table_rows(lines):
    """The rows of the first ``list-table`` in ``lines``, header first."""
    rows = []
    for line in lines:
        if line.startswith('   * - '):
            rows.append([line[len('   * - '):]])
        elif line.startswith('     - ') and rows:
            rows[-1].append(line[len('     - '):])
        elif rows and not line.strip():
            break
    return rows


class OptionsTest(testtools.TestCase):

    def test_every_option_has_help_text(self):
        options = docgen.options()
        self.assertNotEqual({}, options)
        for (group, name), option in sorted(options.items()):
            self.assertTrue((option.help or '').strip(),
                            '[%s] %s has no help text' % (group, name))

    def test_every_option_role_names_an_option(self):
        for path in list(_pages()) + [os.path.join(ROOT, 'README.rst')]:
            for text in _OPT_ROLE.findall(_read(path)):
                try:
                    group, name, old = docgen.resolve_option(text)
                except KeyError as error:
                    self.fail('%s: %s' % (os.path.relpath(path, ROOT), error))
                self.assertFalse(old, '%s: :opt:`%s` is the old name of %s'
                                 % (os.path.relpath(path, ROOT), text, name))

    def test_configuration_pages_name_current_options(self):
        current = {name for _, name in docgen.options()}
        groups = {group for group, _ in docgen.options()}
        for path in _pages(CONFIGURATION):
            for literal in _LITERAL.findall(_read(path)):
                if not _SNAKE.match(literal):
                    continue
                known = (literal in current or literal in groups
                         or literal in docgen.OTHER_OPTIONS
                         or literal in NOT_OPTIONS)
                self.assertTrue(known, '%s names ``%s``, which is no option '
                                '(write options as :opt:`name`)' % (
                                    os.path.relpath(path, ROOT), literal))

    def test_no_page_names_an_option_by_its_old_name(self):
        old = docgen.deprecated_names()
        for path in list(_pages()) + [os.path.join(ROOT, 'README.rst')]:
            for literal in _LITERAL.findall(_read(path)):
                self.assertNotIn(literal, old, '%s writes ``%s``: the option '
                                 'is %s now (or write :opt:`%s`)' % (
                                     os.path.relpath(path, ROOT), literal,
                                     old.get(literal, ('', ''))[1],
                                     literal))

    def test_resolve_any_name_to_the_current_one(self):
        for (group, name), option in docgen.options().items():
            self.assertEqual((group, name, False),
                             docgen.resolve_option(name if group == 'drbd'
                                                   else group + '.' + name))
            for old in option.deprecated_opts or []:
                if old.name and old.name != name:
                    self.assertEqual((group, name, True),
                                     docgen.resolve_option(old.name))
        self.assertRaises(KeyError, docgen.resolve_option, 'no_such_option')

    def test_cinder_conf_examples_name_only_known_options(self):
        examples = 0
        for path in _pages():
            for name, _, content in _directives(path):
                if name != 'drbd-clvm-cinder-conf':
                    continue
                examples += 1
                lines, problems = docgen.cinder_conf(content)
                self.assertEqual([], problems, path)
                # The example is written as it is shown: current names.
                self.assertEqual(content, lines, path)
        self.assertGreater(examples, 0)

    def test_an_unknown_key_in_an_example_is_a_problem(self):
        _, problems = docgen.cinder_conf(['[drbd]', 'no_such_option = 1'])
        self.assertEqual(1, len(problems))


class GeneratedTest(testtools.TestCase):

    def test_pages_use_only_known_generators(self):
        used = set()
        for path in _pages():
            for name, argument, _ in _directives(path):
                if name == 'drbd-clvm-table':
                    self.assertIn(argument, docgen.TABLES, path)
                elif name == 'drbd-clvm-generated':
                    self.assertIn(argument, docgen.GENERATED, path)
                used.add((name, argument))
        for table in docgen.TABLES:
            self.assertIn(('drbd-clvm-table', table), used)
        for generated in docgen.GENERATED:
            self.assertIn(('drbd-clvm-generated', generated), used)
        for generated in docgen.GENERATED.values():
            self.assertTrue(generated())

    def test_every_error_has_advice_and_no_advice_is_stale(self):
        pages = [(path, content) for path in _pages()
                 for name, _, content in _directives(path)
                 if name == 'drbd-clvm-errors']
        self.assertEqual(1, len(pages))
        actions = docgen.parse_actions(pages[0][1])
        lines, problems = docgen.error_catalogue(actions)
        self.assertEqual([], problems)
        from drbd_clvm_driver import exception
        self.assertIn('ClusterUnsafe', actions)
        self.assertIn('.. _error-clusterunsafe:', lines)
        self.assertIn(exception.ClusterUnsafe.__doc__.strip(),
                      '\n'.join(lines))

    def test_error_messages_come_from_the_classes(self):
        entries = {entry['name']: entry for entry in docgen.error_entries()}
        self.assertIn('<reasons>', entries['ClusterUnsafe']['message'])
        self.assertEqual('VolumeIsBusy', entries['VolumeBusy']['cinder'])
        self.assertEqual('VolumeBackendAPIException',
                         entries['ClusterUnsafe']['cinder'])
        self.assertIsNone(entries['VolumeGroupNotFound']['message'])

    def test_gate_reasons_are_read_from_the_plugins(self):
        text = '\n'.join(docgen.gate_reasons())
        self.assertIn('not confirmed fenced', text)
        self.assertIn('never promote this copy by force', text)
        self.assertIn('lvmlockd is not running', text)

    def test_every_result_role_resolves(self):
        for path in _pages():
            for spec in _RESULT_ROLE.findall(_read(path)):
                try:
                    docgen.result_value(spec)
                except (KeyError, IndexError, ValueError) as error:
                    self.fail('%s: :result:`%s`: %s' % (
                        os.path.relpath(path, ROOT), spec, error))

    def test_devstack_table_lists_every_setting(self):
        with open(docgen.DEVSTACK_SETTINGS) as handle:
            assigned = set(re.findall(r'^(DRBD_CLVM_[A-Z0-9_]+)=',
                                      handle.read(), re.MULTILINE))
        listed = {name for _, settings in docgen.devstack_settings()
                  for name, _ in settings}
        self.assertLessEqual(assigned, listed)


class ResultTablesTest(testtools.TestCase):
    """The tables are only ever generated, so they follow the committed
    JSON by construction; these tests read the JSON themselves and check
    what the generator makes of it, and that no page types a table of its
    own where a generated one belongs.
    """

    def _json(self, name):
        with open(os.path.join(RESULTS, name)) as handle:
            return json.load(handle)

    def _table_of(self, run, name, table):
        """``table``'s lines with ``run`` as the committed result ``name``."""
        with tempfile.TemporaryDirectory() as directory:
            with open(os.path.join(directory, docgen.RESULT_FILES[name]),
                      'w') as handle:
                json.dump(run, handle)
            self.patch(docgen, 'RESULTS', directory)
            return table()

    def test_cost_table_is_the_committed_counts(self):
        document = self._json('latest.json')
        lines = docgen.cost_table()
        self.assertIn(document['date'], lines[0])
        rows = _list_table_rows(lines)
        self.assertEqual(docgen.COST_HEADER, rows[0])
        self.assertEqual(len(document['invocations']), len(rows) - 1)
        for row, result in zip(rows[1:], document['invocations']):
            ours, cinder = result['ours'], result['cinder']
            self.assertEqual(
                [result['operation'], str(ours['counts']['lvm']),
                 str(ours['counts']['data']), str(ours['counts']['health']),
                 str(ours['processes']), str(ours['calls']),
                 str(cinder['counts']['lvm']), str(cinder['counts']['data']),
                 str(cinder['processes']), str(cinder['calls'])],
                row[:10])
            self.assertEqual('met' if result['target_met'] else 'missed',
                             row[-1])

    def test_stats_table_is_the_committed_scale(self):
        document = self._json('latest.json')
        rows = _list_table_rows(docgen.stats_table()[2:])
        self.assertEqual([str(row['volumes'])
                          for row in document['stats_scale']['rows']],
                         [row[0] for row in rows[1:]])

    def test_cluster_tables_are_the_committed_timings(self):
        document = self._json('cluster-latest.json')
        text = '\n'.join(docgen.cluster_table())
        self.assertIn(document['date'], text)
        for group, _ in docgen.TIMING_GROUPS:
            for row in document.get(group) or []:
                self.assertIn('%.3f' % row['driver_median_s'], text)
                self.assertIn('%.3f' % row['bare_median_s'], text)
                self.assertIn('%.2f' % row['ratio'], text)
        self.assertIn(str(document['throughput']['both_nodes_per_s']), text)
        text = '\n'.join(docgen.data_path_table())
        for row in document['data_path']:
            self.assertIn(row['job'], text)
            for place in docgen.DATA_PATH_PLACES:
                self.assertIn('%.1f' % row['medians'][place], text)
            self.assertIn('%.3f' % row['volume_over_drbd'], text)

    def test_drbd_settings_table_is_the_committed_run(self):
        settings = self._json('cluster-latest.json')['drbd_settings']
        text = '\n'.join(docgen.drbd_settings_table())
        for count, write_us in settings['activity_log']['write_us'].items():
            self.assertIn(str(write_us), text, count)
        for name, rate in settings['resync']['resync_kib_s'].items():
            self.assertIn(str(rate), text, name)
        self.assertIn('%.2f' % settings['resync']['plugin_over_no_writes'],
                      text)

    def test_scale_table_is_the_committed_run(self):
        scale = self._json('cluster-latest.json')['scale']
        text = '\n'.join(docgen.scale_table())
        for row in scale['rows']:
            for target in scale['targets']:
                self.assertIn('%.3f' % row[target['figure']], text)
                self.assertIn(target['what'], text)
        for target in scale['targets']:
            self.assertIn('%.2f' % target['ms_per_volume'], text)

    def test_hand_over_table_is_the_committed_run(self):
        text = '\n'.join(docgen.hand_over_table())
        moved = self._json('cluster-latest.json')['hand_over']
        self.assertEqual(3, len(moved['steps']))
        for step in moved['steps']:
            self.assertIn(step['what'], text)
            self.assertIn('%.1f' % step['longest_write_ms'], text)
        self.assertIn('%.1f' % moved['pause_ms'], text)

    def test_benchmark_pages_type_no_table_of_their_own(self):
        for page in ('benchmarks.rst', 'faults.rst', 'cinder-flows.rst'):
            text = _read(os.path.join(DOC, 'reference', page))
            self.assertNotIn('list-table', text, page)
            self.assertIsNone(re.search(r'^=+ +=+', text, re.MULTILINE),
                              page)

    def test_faults_table_from_the_committed_run_or_a_note(self):
        path = docgen.result_path('faults')
        lines = docgen.fault_table()
        if not os.path.exists(path):
            self.assertIn(docgen.NO_RUN, '\n'.join(lines))
            return
        document = self._json('faults-latest.json')
        rows = _list_table_rows(lines)
        self.assertEqual([case['case'] for case in document['cases']],
                         [row[0] for row in rows[1:]])

    def test_faults_table_of_a_run(self):
        # As tests/cluster/faults.py writes it.
        run = {'date': '2026-12-04T06:00:00Z',
               'command': 'tools/cluster/gate --faults',
               'stated_io_pause_seconds': 30,
               'cases': [{
                   'case': 'node-dead-for-good', 'fault': 'node2 off',
                   'outcomes': {'ok': 40, 'refused': 2},
                   'longest_answer_seconds': 12.25, 'unanswered': 0,
                   'split_brains': 0, 'lvs_lost': 0, 'half_made': [],
                   'acknowledged_writes_lost': 0,
                   'acknowledged_blocks': 900,
                   'survivor_io_pause_seconds': 6.5,
                   'first_accepted_seconds': 14.0,
                   'accepted_while_away': 38, 'accepted_after_return': 2,
                   'fenced': ['node2'], 'healed_after_seconds': 700.4,
                   'met': True}]}
        lines = self._table_of(run, 'faults', docgen.fault_table)
        self.assertIn('2026-12-04T06:00:00Z', lines[0])
        rows = _list_table_rows(lines)
        self.assertEqual(
            ['node-dead-for-good', 'node2 off', 'ok 40, refused 2', '12.2',
             '0', '0', '0', '0', '0 of 900', '6.5', '14.0', '38 / 2',
             'node2', '700', 'yes'], rows[1])

    def test_cinder_flow_table_of_a_run(self):
        # As tests/cluster/cinder_gate.py writes it.
        run = {'date': '2026-12-06T08:00:00Z',
               'command': 'tools/cluster/gate --cinder',
               'rows': [{'flow': 'attach on node1, in use on node2',
                         'served_by': 'node1', 'seconds': 12.34,
                         'status': 'ok', 'request_id': 'req-1',
                         'peer_calls': ['node1>node2 use 0.31 s',
                                        'node1>node2 run 1.05 s']},
                        {'flow': 'stream', 'served_by': 'node1,node2',
                         'seconds': 300.0, 'status': 'ok',
                         'request_id': 'req-2', 'peer_calls': [],
                         'outcome': '5 requests from 4 clients: ok 5'}]}
        lines = self._table_of(run, 'cinder', docgen.cinder_flow_table)
        self.assertIn('2026-12-06T08:00:00Z', lines[0])
        rows = _list_table_rows(lines)
        self.assertEqual(docgen.CINDER_FLOW_HEADER, rows[0])
        self.assertEqual(['attach on node1, in use on node2', 'node1',
                          '12.3', 'ok', '-',
                          'node1>node2 use, node1>node2 run'], rows[1])
        self.assertEqual('5 requests from 4 clients: ok 5', rows[2][4])
        self.assertEqual('-', rows[2][5])

    def test_ci_phase_table_is_the_committed_figures(self):
        with open(docgen.CI_FIGURES) as handle:
            figures = json.load(handle)
        lines = docgen.ci_phase_table()
        self.assertIn(figures['source'], lines[0])
        phases = _list_table_rows(lines)
        by_phase = figures['cpu']['core_seconds_by_phase']
        self.assertEqual(
            [[phase, str(seconds), str(by_phase.get(phase, '-'))]
             for phase, seconds in figures['phases'].items()], phases[1:])
        second = lines.index('', lines.index(
            '   * - %s' % phases[-1][0])) + 1
        runs = _list_table_rows(lines[second:])
        self.assertEqual([[run['source'], str(run['seconds']),
                           str(run['passed'])]
                          for run in figures['fresh_runs']],
                         [row[:3] for row in runs[1:]])

    def test_cinder_flow_table_from_the_committed_run_or_a_note(self):
        lines = docgen.cinder_flow_table()
        if not os.path.exists(docgen.result_path('cinder')):
            self.assertIn(docgen.NO_RUN, '\n'.join(lines))
            return
        document = self._json('cinder-latest.json')
        rows = _list_table_rows(lines)
        self.assertEqual([row['flow'] for row in document['rows']],
                         [row[0] for row in rows[1:]])


class ReadmeTest(testtools.TestCase):

    def test_set_up_commands_are_what_ci_runs(self):
        readme = _read(os.path.join(ROOT, 'README.rst'))
        ci = _read(os.path.join(ROOT, '.ci', 'run'))
        phases = re.findall(r'run_phase \S+ (.+?)(?: &&| \|\||;| \\|\)|$)',
                            ci, re.MULTILINE)
        self.assertIn('tools/run-tests', phases)
        self.assertIn('\n    tools/run-tests\n', readme)
        # The gates CI runs side by side run in the environment the first
        # made: the module tools/cluster/gate runs through tox.
        self.assertIn('gate=(.tox/cluster/bin/python -m tests.cluster.gate)',
                      ci)
        self.assertIn('python -m tests.cluster.gate {posargs}',
                      _read(os.path.join(ROOT, 'tox.ini')))
        self.assertIn('yielding=(nice -n 5 "${gate[@]}")', ci)
        gates = [phase for phase in (
            re.sub(r'"\$\{(gate|yielding)\[@\]\}"', 'tools/cluster/gate',
                   phase) for phase in phases) if 'gate' in phase]
        # CI runs the two-node gate's scenarios and its fault campaign apart
        halves = ['tools/cluster/gate --no-faults',
                  'tools/cluster/gate --no-scenarios']
        for half in halves:
            gates.remove(half)
        main_job = re.search(r'\n    (tools/cluster/gate.*)\n', readme)
        self.assertEqual(sorted(gates + ['tools/cluster/gate']),
                         sorted(main_job.group(1).split(' && ')))

    def test_ci_figures_are_the_committed_ones(self):
        readme = _read(os.path.join(ROOT, 'README.rst'))
        with open(os.path.join(ROOT, '.ci', 'phase-figures.json')) as handle:
            committed = json.load(handle)
        for phase, seconds in committed['phases'].items():
            if seconds:
                self.assertIn(' %d s' % seconds, readme, phase)
        cpu = committed['cpu']
        words = ' '.join(readme.split())
        self.assertIn('%d-%d %% busy' % tuple(
            cpu['busy_percent_each_five_minutes_every_lane']), words)
        self.assertIn('%d %% over the whole run, sampled every %d s' % (
            cpu['busy_percent_whole_run'], cpu['sampled_every_seconds']),
            words)
        self.assertIn('about {:,} core-seconds'.format(cpu['core_seconds']),
                      words)
        self.assertIn('at least {:,} s on two cores'.format(
            cpu['least_seconds_on_two_cores']), words)
        for phase, core_seconds in cpu['core_seconds_by_phase'].items():
            if core_seconds >= 100:
                self.assertIn(' {:,}'.format(core_seconds), words, phase)
        # The run the figures are: the README cites it; every fresh
        # machine's run is tabled in the contributor guide (ci-phases).
        self.assertIn('took %d s, %d passed' % (
            committed['seconds'], committed['passed']), words)
        target = source_file.load(
            'ci_phases', 'tools', 'ci_phases.py').TARGET_SECONDS
        self.assertIn('%s the target by %d s' % (
            'within' if committed['seconds'] <= target else 'over',
            abs(committed['seconds'] - target)), words)

    def test_stream_figures_are_the_committed_run(self):
        with open(os.path.join(RESULTS, 'cinder-latest.json')) as handle:
            rows = json.load(handle)['rows']
        stream, = [row for row in rows if 'rolling restart' in row['flow']]
        outcome = stream['outcome']
        requests = int(re.match(r'(\d+) requests', outcome).group(1))
        succeeded = int(re.search(r'\bok (\d+)', outcome).group(1))
        lost = re.search(r'; (\d+) left in a transitional status', outcome)
        words = ' '.join(_read(os.path.join(ROOT, 'README.rst')).split())
        self.assertIn('%d of %d succeeded' % (succeeded, requests), words)
        said = re.search(r'(\d+) (?:requests? )?reached no volume service',
                         words)
        self.assertEqual(int(lost.group(1)) if lost else 0,
                         int(said.group(1)))

    def test_run_tests_builds_the_docs(self):
        script = _read(os.path.join(ROOT, 'tools', 'run-tests'))
        envs = re.search(r'TOX_ENVS:-([^}]+)}', script).group(1).split(',')
        self.assertIn('docs', envs)
        self.assertIn('releasenotes', envs)
