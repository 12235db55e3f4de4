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

"""bench/drbd_settings.py: its readings of what DRBD printed in the gate's
guests, its rows, and that the settings it compares are the ones the
DevStack plugin and the gate write.
"""

import json
import os
import re

import testtools

from bench import drbd_settings
from tests.unit import recorded

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def _read(*path):
    with open(os.path.join(*path)) as handle:
        return handle.read()


class ReadingsTest(testtools.TestCase):

    def test_counts_of_a_recorded_proc_drbd(self):
        text = _read(recorded.FIXTURES, 'gate-faults', 'double-fault',
                     'node1-01-cat_proc_drbd.txt')
        self.assertEqual(142, drbd_settings.activity_log_writes(text))
        self.assertEqual(8836, drbd_settings.out_of_sync_kib(text, 'r0'))

    def test_proc_drbd_without_the_count_is_an_error(self):
        self.assertRaises(ValueError, drbd_settings.activity_log_writes,
                          'version: 8.4.11 (api:1/proto:86-101)\n')


class SettingsComparedTest(testtools.TestCase):

    def test_the_plugin_s_and_the_gate_s_activity_log(self):
        settings = _read(ROOT, 'devstack', 'settings')
        self.assertIn('DRBD_CLVM_AL_EXTENTS=${DRBD_CLVM_AL_EXTENTS:-%d}'
                      % drbd_settings.PLUGIN_AL_EXTENTS, settings)
        self.assertIn('export DRBD_CLVM_AL_EXTENTS=%d'
                      % drbd_settings.SMALL_AL_EXTENTS,
                      _read(ROOT, 'tools', 'cluster', 'guest-init'))

    def test_drbd_s_defaults_differ_from_the_plugin_s_in_each_setting(self):
        plugin = _read(ROOT, 'devstack', 'lib', 'drbd_clvm')
        for option in drbd_settings.DRBD_DEFAULTS:
            name = re.match(r'--([a-z-]+)=', option).group(1)
            self.assertRegex(plugin, r'\n\s+%s \$\{' % name)


class RowsTest(testtools.TestCase):

    def test_the_activity_log_row(self):
        row = drbd_settings.al_row(
            {'257': [6100, 6000, 6200], '1237': [5300, 5200, 5400]},
            {'257': [740, 750, 745], '1237': [200, 170, 190]},
            {'257': {'al-extents': '257'}, '1237': {}})
        self.assertEqual({'257': 6100, '1237': 5300}, row['write_us'])
        self.assertEqual({'257': 745, '1237': 190},
                         row['log_writes_per_1000'])
        self.assertEqual({'257': 1028, '1237': 4948}, row['crash_resync_mib'])
        self.assertTrue(row['met'])
        self.assertEqual(3, row['rounds'])
        slower = drbd_settings.al_row({'257': [5000], '1237': [5100]},
                                      {'257': [0], '1237': [0]}, {})
        self.assertFalse(slower['met'])

    def test_the_resync_row_against_its_target(self):
        writes = {drbd_settings.PAUSED: [4000, 4200],
                  drbd_settings.DEFAULTS: [4300, 4500],
                  drbd_settings.PLUGIN: [9000, 9400]}
        row = drbd_settings.resync_row(
            writes, {drbd_settings.NO_WRITES: [10000],
                     drbd_settings.DEFAULTS: [250, 300],
                     drbd_settings.PLUGIN: [8000, 8400]}, {})
        self.assertEqual(0.82, row['plugin_over_no_writes'])
        self.assertTrue(row['met'])
        self.assertEqual(9200, row['write_us'][drbd_settings.PLUGIN])
        slow = drbd_settings.resync_row(
            writes, {drbd_settings.NO_WRITES: [10000],
                     drbd_settings.DEFAULTS: [250],
                     drbd_settings.PLUGIN: [7000]}, {})
        self.assertFalse(slow['met'])
        text = drbd_settings.format_rows(
            drbd_settings.al_row({'257': [6000], '1237': [5000]},
                                 {'257': [700], '1237': [150]}, {}), slow)
        self.assertIn('0.70 (MISSED >= 0.80)', text)
        self.assertIn('1237: 5000 us, 150 log writes per 1000', text)


class WritesDoneTest(testtools.TestCase):

    def test_a_recorded_fio_report_of_random_writes(self):
        output = _read(recorded.FIXTURES, 'fio', '4k-randwrite-qd1.json')
        write_us, writes = drbd_settings.writes_done(output)
        self.assertEqual(
            json.loads(output)['jobs'][0]['write']['total_ios'], writes)
        self.assertGreater(writes, 0)
        self.assertAlmostEqual(
            1e6 / json.loads(output)['jobs'][0]['write']['iops'], write_us)


class RecordedDuringTheBenchTest(testtools.TestCase):
    """What DRBD printed on node1 while the bench measured
    (tests/unit/fixtures/recorded/drbd-settings).
    """

    def _recorded(self, name):
        return _read(recorded.FIXTURES, 'drbd-settings', name)

    def test_the_controller_shown_with_each_setting(self):
        plugin = drbd_settings.shown_settings(
            self._recorded('settings-the-plugin-s'))
        # the gate's resource file: its al-extents, the plugin's controller
        self.assertEqual({'al-extents': '257', 'c-fill-target': '2048s',
                          'c-min-rate': '20480k', 'c-max-rate': '1048576k'},
                         plugin)
        drbd_settings.check_controller(drbd_settings.PLUGIN, plugin)
        defaults = drbd_settings.shown_settings(
            self._recorded('settings-drbd-s-defaults'))
        drbd_settings.check_controller(drbd_settings.DEFAULTS, defaults)
        self.assertRaises(ValueError, drbd_settings.check_controller,
                          drbd_settings.DEFAULTS, plugin)
        self.assertRaises(ValueError, drbd_settings.check_controller,
                          drbd_settings.PLUGIN, defaults)
        small = drbd_settings.shown_settings(
            self._recorded('settings-al-extents-257'))
        self.assertEqual('257', small['al-extents'])

    def test_a_resync_paused_and_running_is_read(self):
        for name in ('resync-paused', 'resync-plugin',
                     'resync-drbd-defaults', 'resync-no-writes'):
            text = self._recorded(name)
            self.assertIn('SyncS', text, name)
            self.assertGreater(drbd_settings.out_of_sync_kib(text, 'r0'), 0)
            self.assertGreater(drbd_settings.activity_log_writes(text), 0)


class CommittedResultTest(testtools.TestCase):
    """bench/results/cluster-latest.json holds both rows, each figure its
    table and the docs read (a bench that lost one fails here, in CI).
    """

    def test_both_rows_with_every_figure(self):
        with open(os.path.join(ROOT, 'bench', 'results',
                               'cluster-latest.json')) as handle:
            settings = json.load(handle)['drbd_settings']
        al, resync = settings['activity_log'], settings['resync']
        counts = {str(drbd_settings.SMALL_AL_EXTENTS),
                  str(drbd_settings.PLUGIN_AL_EXTENTS)}
        for figures in ('write_us', 'log_writes_per_1000',
                        'crash_resync_mib'):
            self.assertEqual(counts, set(al[figures]), figures)
        self.assertEqual({drbd_settings.PAUSED, drbd_settings.DEFAULTS,
                          drbd_settings.PLUGIN}, set(resync['write_us']))
        self.assertEqual({drbd_settings.NO_WRITES, drbd_settings.DEFAULTS,
                          drbd_settings.PLUGIN}, set(resync['resync_kib_s']))
        self.assertEqual(drbd_settings.RESYNC_TARGET, resync['target'])
        for row in (al, resync):
            self.assertIsInstance(row['met'], bool)
            self.assertEqual(drbd_settings.ROUNDS, row['rounds'])
