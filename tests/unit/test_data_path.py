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

"""bench/data_path.py on the reports fio and LVM printed in the gate's
guest (tests/unit/fixtures/recorded/fio), and the committed results'
coverage of its jobs.
"""

import json
import os

import testtools

from bench import data_path

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = os.path.join(HERE, 'fixtures', 'recorded', 'fio')
RESULTS = os.path.join(HERE, '..', '..', 'bench', 'results',
                       'cluster-latest.json')


def recorded(what):
    with open(os.path.join(RECORDED, '%s.json' % what.replace(' ', '-'))) \
            as handle:
        return handle.read()


class JobFigureTest(testtools.TestCase):

    def test_each_recorded_report_gives_its_figure(self):
        for job, options, unit in data_path.JOBS:
            output = recorded(job)
            report = json.loads(output)['jobs'][0]
            side = report['write' if 'write' in options[0] else 'read']
            figure = data_path.job_figure(output, unit)
            if unit == 'us':
                self.assertAlmostEqual(1e6 / side['iops'], figure)
            else:
                self.assertAlmostEqual(side['bw_bytes'] / 2 ** 20, figure)
            self.assertGreater(figure, 0, job)

    def test_a_report_without_io_is_an_error(self):
        report = json.loads(recorded('1M read'))
        for side in ('read', 'write'):
            report['jobs'][0][side]['total_ios'] = 0
        self.assertRaises(ValueError, data_path.job_figure,
                          json.dumps(report), 'mib_s')


class VolumeExtentsTest(testtools.TestCase):

    def test_the_first_extent_s_byte_offset_on_drbd(self):
        asked = []

        def run(argv):
            asked.append(argv)
            return recorded(argv[0])

        device, offset = data_path.volume_extents(run, 'vgc/volume-1')
        pv = json.loads(recorded('pvs'))['report'][0]['pv'][0]
        extent = int(pv['vg_extent_size'].rstrip('B'))
        pe_start = int(pv['pe_start'].rstrip('B'))
        self.assertTrue(device.startswith('/dev/drbd'), device)
        self.assertEqual(0, (offset - pe_start) % extent)
        self.assertGreaterEqual(offset, pe_start)
        self.assertEqual('vgc/volume-1', asked[0][-1])
        self.assertEqual(device, asked[1][-1])

    def test_an_lv_in_two_segments_is_refused(self):
        segments = json.loads(recorded('lvs'))
        rows = segments['report'][0]['seg']
        rows.append(dict(rows[0]))

        def run(argv):
            return json.dumps(segments) if argv[0] == 'lvs' else \
                recorded(argv[0])

        error = self.assertRaises(ValueError, data_path.volume_extents, run,
                                  'vgc/volume-1')
        self.assertIn('2 segments', str(error))


class SummaryTest(testtools.TestCase):

    def _figures(self, volume, drbd):
        return {data_path.VOLUME: volume, data_path.DRBD: drbd,
                data_path.BACKING: [1.0], data_path.SNAPSHOT_ORIGIN: [1.0]}

    def test_time_per_io_lower_is_better(self):
        row = data_path.summary('4k', 'us', self._figures([105, 106, 104],
                                                          [100, 90, 101]))
        self.assertEqual(105, row['medians'][data_path.VOLUME])
        self.assertEqual(round(100 / 105, 3), row['volume_over_drbd'])
        self.assertFalse(row['met'])
        self.assertEqual(3, row['rounds'])

    def test_throughput_higher_is_better(self):
        row = data_path.summary('1M', 'mib_s', self._figures([99], [100]))
        self.assertEqual(0.99, row['volume_over_drbd'])
        self.assertTrue(row['met'])


class FakeVG:
    vg_name = 'vgc'

    def lv_path(self, name):
        return '/dev/vgc/%s' % name


class FakeOps:

    def __init__(self, calls):
        self.calls = calls
        self.vg = FakeVG()

    def __getattr__(self, operation):
        return lambda *args: self.calls.append((operation,) + args)


class MeasureTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.calls = []
        self.ops = FakeOps(self.calls)

    def _run(self, fail_on=None):
        def run(argv):
            self.calls.append(('run', argv))
            if argv[0] == 'fio':
                if fail_on and fail_on in argv[2]:
                    raise RuntimeError('fio failed')
                for job, options, _ in data_path.JOBS:
                    if argv[-len(options):] == list(options):
                        return recorded(job)
            return recorded(argv[0]) if argv[0] in ('lvs', 'pvs') else ''
        return run

    def _fio_targets(self):
        return [argv[2] for operation, *rest in self.calls
                if operation == 'run' for argv in rest
                if argv[0] == 'fio']

    def test_every_job_on_every_place_each_round_then_cleaned_up(self):
        rows, reports = data_path.measure(self.ops, self._run(), '/dev/vdb',
                                          'b-', 2)
        self.assertEqual([job for job, _, _ in data_path.JOBS],
                         [row['job'] for row in rows])
        self.assertEqual({2}, {row['rounds'] for row in rows})
        targets = self._fio_targets()
        self.assertEqual(2 * len(data_path.JOBS) * 4, len(targets))
        # one round's job: the volume, DRBD, the backing disk, the origin
        self.assertEqual(['--filename=/dev/vgc/b-fio',
                          '--filename=/dev/drbd0', '--filename=/dev/vdb',
                          '--filename=/dev/vgc/b-fio'], targets[:4])
        snapshots = [call[0] for call in self.calls
                     if call[0].endswith('_snapshot')]
        self.assertEqual(['create_snapshot', 'delete_snapshot'] *
                         (2 * len(data_path.JOBS)), snapshots)
        self.assertEqual(['create_volume', 'use'],
                         [call[0] for call in self.calls[:2]])
        self._assert_zeroed_released_deleted()
        self.assertEqual(
            sorted([job for job, _, _ in data_path.JOBS] + ['lvs', 'pvs']),
            sorted(reports))

    def test_a_failed_job_still_zeroes_releases_and_deletes(self):
        self.assertRaises(RuntimeError, data_path.measure, self.ops,
                          self._run(fail_on='/dev/vdb'), '/dev/vdb', 'b-', 2)
        self._assert_zeroed_released_deleted()

    def _assert_zeroed_released_deleted(self):
        (operation, dd), release, delete = self.calls[-3:]
        self.assertEqual('dd', dd[0])
        self.assertIn('of=/dev/vgc/b-fio', dd)
        self.assertIn('oflag=direct', dd)
        self.assertEqual([('release', 'b-fio'), ('delete_volume', 'b-fio')],
                         [release, delete])


class CommittedResultsTest(testtools.TestCase):
    """CI's check of the bench's coverage: the committed results hold a
    row of every job, with every place's median and its verdict.
    """

    def test_every_job_has_its_row(self):
        with open(RESULTS) as handle:
            rows = json.load(handle)['data_path']
        self.assertEqual([job for job, _, _ in data_path.JOBS],
                         [row['job'] for row in rows])
        for row in rows:
            self.assertEqual(
                {data_path.VOLUME, data_path.DRBD, data_path.BACKING,
                 data_path.SNAPSHOT_ORIGIN}, set(row['medians']))
            self.assertIsInstance(row['met'], bool)
            self.assertGreater(row['volume_over_drbd'], 0)
