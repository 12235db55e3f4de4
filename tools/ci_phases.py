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

"""The table .ci/run prints near its end: each phase's seconds against the
figure last measured for it, and the whole run against CI's limit, so that
a phase's growth shows long before the limit is reached.

.ci/run appends "phase seconds status core-seconds" to a file as each
phase ends (core-seconds: the CPU its processes used, the emulated guests
among them), and "elapsed seconds" once every phase has ended (phases may
run side by side, so the run's own clock, not the sum, is what CI's limit
counts), then runs ``python3 tools/ci_phases.py TIMINGS_FILE``. It also
records the host's ``cpu`` line of /proc/stat at its start and end
("cpu-start ..." and "cpu-end ..."): the table's last line says how busy
the host's cores were, which tells a run bound by the emulated guests' CPU
from one that waits. Standard library only.
"""

import argparse
import json
import os
import sys

FIGURES_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    '.ci', 'phase-figures.json')
CI_LIMIT_SECONDS = 5400
TARGET_SECONDS = 2700
# A phase more than this much over its figure is flagged.
GROWTH_FLAGGED_PERCENT = 20
# What a gate prints when it fails, with the reason (tests/cluster/gate.py).
GATE_FAILED = '[gate] FAILED: '
# A failure line is cut here: the table must stay near the end of the log.
FAILURE_CHARACTERS = 600
# .ci/run's /proc/stat lines, at its start and at its end
CPU_MARKS = ('cpu-start', 'cpu-end')


def load_figures(path=FIGURES_PATH):
    """The committed figures: {'source': str, 'phases': {phase: seconds}},
    phases in the order CI runs them.
    """
    with open(path) as figures_file:
        return json.load(figures_file)


def read_timings(path):
    """({phase: (seconds, exit status)}, the run's elapsed seconds or None)
    from .ci/run's timings file.
    """
    timings = {}
    elapsed = None
    with open(path) as timings_file:
        for line in timings_file:
            fields = line.split()
            if fields and fields[0] in CPU_MARKS:
                continue
            if len(fields) == 2 and fields[0] == 'elapsed':
                elapsed = int(fields[1])
            elif fields:
                phase, seconds, status = fields[:3]
                timings[phase] = (int(seconds), int(status))
    return timings, elapsed


def read_phase_cpu(path):
    """{phase: core-seconds} for each phase whose line in .ci/run's
    timings file has them.
    """
    cpu = {}
    with open(path) as timings_file:
        for line in timings_file:
            fields = line.split()
            if len(fields) == 4 and fields[0] not in CPU_MARKS:
                cpu[fields[0]] = int(fields[3])
    return cpu


def read_cpu(path):
    """(busy, all) clock ticks of the host's cores between .ci/run's
    "cpu-start" and "cpu-end" lines, or None without both.
    """
    marks = {}
    with open(path) as timings_file:
        for line in timings_file:
            fields = line.split()
            if fields and fields[0] in CPU_MARKS:
                # "cpu-start cpu user nice system idle iowait irq ..."
                ticks = [int(field) for field in fields[2:]]
                marks[fields[0]] = (sum(ticks) - ticks[3] - ticks[4],
                                    sum(ticks))
    if len(marks) != len(CPU_MARKS):
        return None
    (busy_start, all_start), (busy_end, all_end) = (
        marks[mark] for mark in CPU_MARKS)
    return busy_end - busy_start, all_end - all_start


def cpu_line(busy, total, ticks_per_second):
    """The host's cores over the run: their busy share and core-seconds."""
    return ('host CPU over the run: %d %% of every core busy, %d '
            'core-seconds (near 100 %%: the emulated guests\' CPU bounds '
            'the run, not its waits)' % (
                round(busy * 100 / total) if total else 0,
                round(busy / ticks_per_second)))


def phase_runs(timings, figures):
    """[(phase, seconds or None, exit status or None)]: every phase with a
    figure, in the figures' order (None when it did not run), then any timed
    phase that has no figure yet.
    """
    phases = list(figures['phases'])
    phases += [phase for phase in timings if phase not in phases]
    return [(phase,) + timings.get(phase, (None, None)) for phase in phases]


def grew_too_much(seconds, reference):
    # Whole numbers, so that exactly 20 % over is not flagged by rounding.
    return seconds * 100 > reference * (100 + GROWTH_FLAGGED_PERCENT)


def _row(phase, seconds, status, reference, core_seconds):
    notes = []
    if seconds is None:
        notes.append('not run')
    elif status:
        notes.append('failed, exit %d' % status)
    if reference is None:
        notes.append('no figure yet')
    growth = '-'
    if seconds is not None and reference:
        growth = '%+d %%' % round((seconds - reference) * 100 / reference)
        if grew_too_much(seconds, reference):
            notes.append('GREW over %d %%' % GROWTH_FLAGGED_PERCENT)
    return (phase,
            '-' if seconds is None else str(seconds),
            '-' if reference is None else str(reference),
            growth,
            '-' if core_seconds is None else str(core_seconds),
            '; '.join(notes))


def table_lines(runs, figures, elapsed=None, phase_cpu=None):
    """The table's lines for runs [(phase, seconds or None, exit status)]
    against figures as load_figures() returns them; ``elapsed`` the run's
    own seconds where phases ran side by side; ``phase_cpu`` each phase's
    core-seconds where known.
    """
    phase_cpu = phase_cpu or {}
    rows = [('phase', 'seconds', 'figure', 'growth', 'core-s', '')]
    rows += [_row(phase, seconds, status, figures['phases'].get(phase),
                  phase_cpu.get(phase))
             for phase, seconds, status in runs]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = ['CI phases against the %s:' % figures['source']]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:5],
                                                           widths[1:])]
        lines.append('  '.join(cells + [row[5]]).rstrip())
    lines.append(_budget_line(runs, elapsed))
    return lines


def _budget_line(runs, elapsed):
    phase_total = sum(seconds for _, seconds, _ in runs
                      if seconds is not None)
    total = phase_total if elapsed is None else elapsed
    notes = []
    if total < phase_total:
        notes.append('%d s of phases side by side' % phase_total)
    not_run = sum(1 for _, seconds, _ in runs if seconds is None)
    if not_run:
        notes.append('%d not run' % not_run)
    within = 'within' if total <= TARGET_SECONDS else 'OVER'
    return ("total %d s of CI's %d s limit (%d %%%s), %s the project's "
            "%d s (%d min) target" % (
                total, CI_LIMIT_SECONDS,
                round(total * 100 / CI_LIMIT_SECONDS),
                ''.join('; ' + note for note in notes),
                within, TARGET_SECONDS, TARGET_SECONDS // 60))


def failures(log_path):
    """Each gate's failure line in the CI log, cut to FAILURE_CHARACTERS:
    the table then says why a phase failed, where CI's tail shows it.
    """
    with open(log_path, errors='replace') as log_file:
        return [line.rstrip('\n')[:FAILURE_CHARACTERS] for line in log_file
                if line.startswith(GATE_FAILED)]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Prints .ci/run's phase table.")
    parser.add_argument('timings', help='"phase seconds status" lines')
    parser.add_argument('--figures', default=FIGURES_PATH)
    parser.add_argument('--log', help="CI's log, for the gates' failures")
    args = parser.parse_args(argv)
    figures = load_figures(args.figures)
    timings, elapsed = read_timings(args.timings)
    runs = phase_runs(timings, figures)
    for line in table_lines(runs, figures, elapsed,
                            read_phase_cpu(args.timings)):
        print(line)
    cpu = read_cpu(args.timings)
    if cpu:
        print(cpu_line(*cpu, os.sysconf('SC_CLK_TCK')))
    for line in failures(args.log) if args.log else ():
        print(line)


if __name__ == '__main__':
    sys.exit(main())
