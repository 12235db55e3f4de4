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

"""The DRBD settings the DevStack plugin writes, measured against DRBD's
own defaults on the gate's pair (``tools/cluster/gate --bench``).

- **The activity log's size** (``al-extents``): 4 KiB random writes at
  queue depth 1 spread over :data:`AL_SPREAD_MIB` of a volume on node1,
  with :data:`SMALL_AL_EXTENTS` extents (a shorter resync after a crash)
  and with the plugin's :data:`PLUGIN_AL_EXTENTS`, round after round: the
  time per write, and how many writes also wrote the activity log (its
  ``al:`` count in /proc/drbd).
- **The resync controller** (``c-fill-target``, ``c-min-rate``,
  ``c-max-rate``): node2 resyncs the whole device from node1 (``drbdadm
  invalidate`` on node2) while the same writes go on on node1. Each round
  runs three windows - the resync paused (what the writes cost without
  it), DRBD's defaults (:data:`DRBD_DEFAULTS`), the plugin's settings -
  and reads each window's resync rate from the out-of-sync count. One
  window without writes gives what the link and the guests carry; the
  target is a resync under the plugin's settings at
  :data:`RESYNC_TARGET` of that while the writes go on.

The plugin's resync controller is the one its resource file sets in the
gate's guests (``drbdadm adjust`` applies the file again); what ran is
read back from ``drbdsetup show``.
"""

import json
import re
import statistics

from bench import data_path
from drbd_clvm_driver import drbd

#: the volume the writes go to, MiB: past what 257 extents (4 MiB each)
#: cover, so that the log's size shows
AL_SPREAD_MIB = 4096
#: the DevStack plugin's default (devstack/settings), DRBD's own
PLUGIN_AL_EXTENTS = 1237
#: the gate's guests' (tools/cluster/guest-init): a shorter resync after
#: a crash
SMALL_AL_EXTENTS = 257
#: seconds of writes before each timed window of the activity log rows,
#: so that the log holds its new size's extents
AL_WARM_SECONDS = 6
WINDOW_SECONDS = 15
#: seconds for the resync controller to settle on a change (it plans 2 s
#: ahead)
SETTLE_SECONDS = 3
ROUNDS = 3
#: DRBD 8.4's defaults (drbd_limits.h): 100 sectors in flight, 250 KiB/s
#: kept while the application writes, 100 MiB/s at most
DRBD_DEFAULTS = ('--c-fill-target=50k', '--c-min-rate=250k',
                 '--c-max-rate=100M')
#: the plugin's resync while writing, over the resync without writes
RESYNC_TARGET = 0.8
WRITES = ('--rw=randwrite', '--bs=4k')
PAUSED = 'paused'
DEFAULTS = 'drbd defaults'
PLUGIN = 'plugin'
NO_WRITES = 'no writes'
#: the resync controller's settings the plugin sets and DRBD's defaults
#: leave unshown
RESYNC_CONTROLLER = ('c-fill-target', 'c-min-rate', 'c-max-rate')
#: what ``drbdsetup show`` is read for
SHOWN = ('al-extents', 'c-plan-ahead') + RESYNC_CONTROLLER

_ACTIVITY_LOG_WRITES = re.compile(r'\bal:(\d+)')


def activity_log_writes(proc_drbd):
    """The activity log's write count of device 0 in /proc/drbd."""
    match = _ACTIVITY_LOG_WRITES.search(proc_drbd)
    if not match:
        raise ValueError('no al: count in /proc/drbd: %r' % proc_drbd)
    return int(match.group(1))


def out_of_sync_kib(proc_drbd, resource):
    """KiB device 0 still has to resync, from /proc/drbd."""
    return drbd.parse_proc_drbd(proc_drbd, 0, resource).out_of_sync_kib


def shown_settings(show):
    """The settings of :data:`SHOWN` ``drbdsetup show`` gives, as it
    gives them (a setting left at DRBD's default is not shown).
    """
    found = {}
    for name in SHOWN:
        match = re.search(r'^\s*%s\s+([^;\s]+)' % re.escape(name), show,
                          re.MULTILINE)
        if match:
            found[name] = match.group(1)
    return found


def check_controller(name, shown):
    """``shown`` (:func:`shown_settings`) is the resync controller that
    ``name`` stands for: DRBD's defaults show none of its settings, the
    plugin's shows each.

    :raises ValueError: it is not, and the window would measure another.
    """
    controller = set(RESYNC_CONTROLLER).intersection(shown)
    wanted = set() if name == DEFAULTS else set(RESYNC_CONTROLLER)
    if controller != wanted:
        raise ValueError('the resync controller for %s shows %s'
                         % (name, shown))


def writes_argv(path, size, seconds):
    return data_path.fio_argv(path, 0, size, WRITES, seconds=seconds)


def writes_done(output):
    """(microseconds per write, writes made) of the writes' fio report."""
    return (data_path.job_figure(output, 'us'),
            json.loads(output)['jobs'][0]['write']['total_ios'])


def _medians(figures):
    return {name: round(statistics.median(values), 1)
            for name, values in figures.items()}


def al_row(write_us, log_writes_per_1000, settings):
    """The activity log's row; ``write_us`` and ``log_writes_per_1000``
    map each extent count (a string, as JSON keys are) to its rounds'
    figures, ``settings`` to what ``drbdsetup show`` gave.
    """
    medians = _medians(write_us)
    other = str(SMALL_AL_EXTENTS)
    chosen = str(PLUGIN_AL_EXTENTS)
    return {'setting': 'al-extents', 'unit': 'us',
            'chosen': chosen, 'settings': settings,
            'write_us': medians,
            'log_writes_per_1000': _medians(log_writes_per_1000),
            # what a node that crashed while Primary resyncs at most
            'crash_resync_mib': {count: int(count) * 4
                                 for count in (other, chosen)},
            'met': medians[chosen] <= medians[other],
            'rounds': len(write_us[chosen])}


def resync_row(write_us, resync_kib_s, settings):
    """The resync controller's row; ``write_us`` maps :data:`PAUSED`,
    :data:`DEFAULTS` and :data:`PLUGIN` to the rounds' times per write,
    ``resync_kib_s`` :data:`DEFAULTS`, :data:`PLUGIN` and
    :data:`NO_WRITES` to the rates.
    """
    rates = _medians(resync_kib_s)
    ratio = rates[PLUGIN] / rates[NO_WRITES] if rates[NO_WRITES] else 0.0
    return {'setting': 'resync controller', 'unit': 'us',
            'settings': settings, 'write_us': _medians(write_us),
            'resync_kib_s': rates,
            'plugin_over_no_writes': round(ratio, 3),
            'target': RESYNC_TARGET, 'met': ratio >= RESYNC_TARGET,
            'rounds': len(write_us[PLUGIN])}


def format_rows(al, resync):
    lines = [
        'DRBD settings: 4 KiB random writes at queue depth 1 on node1, '
        'median of %d rounds' % resync['rounds'],
        'al-extents (writes over %d MiB): %s' % (AL_SPREAD_MIB, ', '.join(
            '%s: %.0f us, %.0f log writes per 1000, up to %d MiB to resync '
            'after a crash' % (count, al['write_us'][count],
                               al['log_writes_per_1000'][count],
                               al['crash_resync_mib'][count])
            for count in sorted(al['write_us'], key=int))),
        '  the plugin\'s %s: %s' % (
            al['chosen'], 'met (no slower)' if al['met'] else
            'MISSED (slower than %d)' % SMALL_AL_EXTENTS)]
    writes, rates = resync['write_us'], resync['resync_kib_s']
    lines.append(
        'resync while writing: paused %.0f us per write; DRBD defaults %.0f '
        'us, resync %.0f KiB/s; plugin %.0f us, resync %.0f KiB/s; no '
        'writes %.0f KiB/s' % (writes[PAUSED], writes[DEFAULTS],
                               rates[DEFAULTS], writes[PLUGIN],
                               rates[PLUGIN], rates[NO_WRITES]))
    lines.append('  the plugin\'s resync over the resync without writes: '
                 '%.2f (%s >= %.2f)' % (
                     resync['plugin_over_no_writes'],
                     'met' if resync['met'] else 'MISSED',
                     resync['target']))
    return '\n'.join(lines)
