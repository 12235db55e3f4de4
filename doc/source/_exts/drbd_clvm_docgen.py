"""What the documentation generates from the code and the committed results.

Plain functions that return reStructuredText lines, so that the unit tests
(``tests/unit/test_docs.py``) can run them without Sphinx; the Sphinx side
is :mod:`drbd_clvm_sphinx`. Nothing here invents a figure: every number in
a generated table is read from a JSON file under ``bench/results``, and a
file that is not there gives a note saying so.

* Benchmark tables: ``bench/results/latest.json`` (``tox -e bench``) and
  ``bench/results/cluster-latest.json`` (``tools/cluster/gate --bench``).
* The fault campaign: ``bench/results/faults-latest.json`` once a run is
  committed there (the gate itself writes ``results/faults-latest.json``,
  which git ignores).
* Options: :func:`options` from ``drbd_clvm_driver.opts.list_opts``, with
  their deprecated names, so pages can name an option by either and show
  its current name (:func:`resolve_option`, :func:`cinder_conf`).
* Errors: the exception classes of ``drbd_clvm_driver`` with their
  messages (:func:`error_entries`), what the driver turns them into for
  Cinder (:func:`cinder_mapping`, read from ``driver.py`` without importing
  Cinder), and the safety gate's refusal reasons (:func:`gate_reasons`).
"""

import ast
import functools
import importlib
import inspect
import json
import os
import pkgutil
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
RESULTS = os.path.join(REPO, 'bench', 'results')
PACKAGE = 'drbd_clvm_driver'
PACKAGE_DIR = os.path.join(REPO, PACKAGE)

#: the committed result files, by the short name pages use
RESULT_FILES = {
    'bench': 'latest.json',
    'cluster': 'cluster-latest.json',
    'faults': 'faults-latest.json',
    'cinder': 'cinder-latest.json',
}

#: options of Cinder and oslo that the configuration pages name; anything
#: else in a backend section must be one of this driver's options
OTHER_OPTIONS = frozenset([
    # [DEFAULT]
    'enabled_backends', 'cluster', 'host', 'default_volume_type',
    'rootwrap_config', 'rpc_response_timeout', 'transport_url',
    # a backend section: Cinder's own
    'volume_driver', 'volume_backend_name', 'volume_group',
    'target_helper', 'target_protocol', 'target_ip_address',
    'target_port', 'use_chap_auth', 'chap_username', 'chap_password',
    'volume_clear', 'volume_clear_size', 'reserved_percentage',
    'volume_dd_blocksize',
    # [coordination], [oslo_concurrency]
    'backend_url', 'lock_path',
])

NO_RUN = 'No run is committed yet'
#: the CI phases' committed figures (tools/ci_phases.py reads them too)
CI_FIGURES = os.path.join(REPO, '.ci', 'phase-figures.json')


# Committed results.

def result_path(name):
    return os.path.join(RESULTS, RESULT_FILES[name])


def load_result(name):
    """The committed JSON named ``name`` (a key of :data:`RESULT_FILES`),
    or None where no run is committed.
    """
    path = result_path(name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def provenance(document):
    """One line: when, at which commit, on what machine and by which
    command the figures were taken, as far as the JSON says.
    """
    machine = document.get('machine')
    if isinstance(machine, dict):
        machine = ', '.join('%s %s' % (key, machine[key])
                            for key in sorted(machine))
    parts = ['date %s' % (document.get('date') or 'not recorded'),
             'commit %s' % (document.get('commit') or 'not recorded'),
             'machine: %s' % (machine or 'not recorded'),
             'command ``%s``' % (document.get('command') or 'not recorded')]
    return 'Source: ``bench/results/%s``; %s.' % (
        os.path.basename(document['_path']), '; '.join(parts))


def _loaded(name):
    document = load_result(name)
    if document is not None:
        document['_path'] = result_path(name)
    return document


def _cell(value):
    text = '' if value is None else str(value)
    return text.replace('|', '\\|') or '-'


def list_table(title, header, rows, widths=None):
    """A ``list-table`` directive's lines."""
    lines = ['.. list-table:: %s' % title, '   :header-rows: 1']
    if widths:
        lines.append('   :widths: %s' % ' '.join(str(w) for w in widths))
    lines.append('')
    for row in [header] + rows:
        lines.append('   * - %s' % _cell(row[0]))
        lines.extend('     - %s' % _cell(cell) for cell in row[1:])
    lines.append('')
    return lines


def _no_run(name):
    return ['.. note::', '',
            '   %s in ``bench/results/%s``; the figures appear here once '
            'one is.' % (NO_RUN, RESULT_FILES[name]), '']


def _ratio(value):
    return '-' if value is None else '%.2f' % value


def cost_rows(document):
    """The cost model's rows: operation, then ours (LVM, data, health,
    processes, calls), Cinder's (LVM, data, processes, calls), the LVM
    ratio and whether the target was met.
    """
    rows = []
    for row in document['invocations']:
        ours, theirs = row['ours'], row['cinder']
        rows.append([row['operation'],
                     ours['counts']['lvm'], ours['counts']['data'],
                     ours['counts']['health'], ours['processes'],
                     ours['calls'],
                     theirs['counts']['lvm'], theirs['counts']['data'],
                     theirs['processes'], theirs['calls'],
                     _ratio(row['lvm_ratio']),
                     'met' if row['target_met'] else 'missed'])
    return rows


COST_HEADER = ['operation', 'ours: LVM', 'data', 'health', 'procs', 'calls',
               'Cinder LVM: LVM', 'data', 'procs', 'calls', 'LVM ratio',
               'target']


def _from_results(name):
    """A table over the committed result ``name``: the function gets the
    document and its lines follow the run's provenance; where no run is
    committed, the page says so instead.
    """
    def wrap(body):
        @functools.wraps(body)
        def table():
            document = _loaded(name)
            if document is None:
                return _no_run(name)
            return [provenance(document), ''] + body(document)
        return table
    return wrap


@_from_results('bench')
def cost_table(document):
    lines = list_table('Commands per operation: this driver on the '
                       'simulator against Cinder\'s LVM driver',
                       COST_HEADER, cost_rows(document))
    lines += ['What each missed target says:', '']
    lines += ['* %s: %s' % (row['operation'], row['target'])
              for row in document['invocations'] if not row['target_met']]
    lines.append('')
    return lines


STATS_HEADER = ['volumes', 'reported', 'processes', 'privileged calls',
                'output bytes', 'parse us per volume', 'per-volume ratio']


def stats_rows(document):
    return [[row['volumes'], row['reported_volumes'], row['commands'],
             row['trips'], row['output_bytes'],
             '%.2f' % row['parse_us_per_volume'],
             _ratio(row['per_volume_ratio'])]
            for row in document['stats_scale']['rows']]


@_from_results('bench')
def stats_table(document):
    lines = list_table('A stats refresh at each size', STATS_HEADER,
                       stats_rows(document))
    for name, goal in sorted(document['stats_scale']['goals'].items()):
        lines.append('* %s: %s (%s)' % (
            name.replace('_', ' '), 'met' if goal['met'] else 'missed',
            goal['detail']))
    lines.append('')
    return lines


TIMING_HEADER = ['operation', 'repeats', 'driver median s', 'spread s',
                 'bare median s', 'spread s', 'ratio', 'target', 'met']
#: the cluster benchmark's row groups, in the order the page shows them
TIMING_GROUPS = (
    ('lvm', 'Metadata changes, the daemon typing them into its LVM shell'),
    ('lvm_without_shell', 'The same changes as LVM programs '
                          '(lvm_shell = false)'),
    ('cinder_lvm', 'Cinder\'s own LVM driver on the same volume group'),
    ('data', 'Data: throughput over raw dd (higher is better)'),
)


#: bench/data_path.py's places, in the table's order
DATA_PATH_PLACES = ('volume', 'drbd', 'backing', 'snapshot origin')
DATA_PATH_HEADER = ['job', 'volume (local attach)', 'DRBD device',
                    'backing disk', 'snapshot\'s origin',
                    'volume vs DRBD (higher is better)', 'target', 'met']


def _spread(values):
    return '%.3f-%.3f' % tuple(values) if values else '-'


def timing_rows(document, group):
    return [[row['operation'], row['repeats'],
             '%.3f' % row['driver_median_s'],
             _spread(row.get('driver_spread_s')),
             '%.3f' % row['bare_median_s'],
             _spread(row.get('bare_spread_s')),
             '%.2f' % row['ratio'], row['target'],
             'yes' if row['met'] else 'no']
            for row in document.get(group) or []]


@_from_results('cluster')
def cluster_table(document):
    lines = []
    for group, title in TIMING_GROUPS:
        rows = timing_rows(document, group)
        if rows:
            lines += list_table(title, TIMING_HEADER, rows)
    throughput = document.get('throughput')
    if throughput:
        lines += list_table(
            'Creates per second, %s per node' % throughput['creates_per_node'],
            ['', 'one node', 'both nodes at once', 'ratio', 'target',
             'met'],
            [['this driver', throughput['one_node_per_s'],
              throughput['both_nodes_per_s'], throughput['ratio'],
              throughput['target'], 'yes' if throughput['met'] else 'no'],
             ['bare lvcreate', throughput['bare_one_node_per_s'],
              throughput['bare_both_nodes_per_s'], throughput['bare_ratio'],
              '-', '-']])
    overhead = document.get('overhead')
    if overhead:
        lines += list_table(
            'What the driver adds around one change (median of %s)'
            % overhead['repeats'], ['part', 'ms'],
            [['round trip to the privileged daemon',
              overhead['round_trip_ms']],
             ['the safety gate\'s check with its round trip',
              overhead['gate_check_ms']],
             ['the rest of a change\'s call', overhead['command_extra_ms']]])
    return lines


@_from_results('cluster')
def data_path_table(document):
    rows = document['data_path']
    return list_table(
        'fio, direct I/O, queue depth 1, median of %s rounds (4k jobs: '
        'microseconds per I/O, lower is better; 1M jobs: MiB/s)'
        % rows[0]['rounds'], DATA_PATH_HEADER,
        [[row['job']] + ['%.1f' % row['medians'][place]
                         for place in DATA_PATH_PLACES] +
         ['%.3f' % row['volume_over_drbd'], row['target'],
          'yes' if row['met'] else 'no'] for row in rows])


@_from_results('cluster')
def drbd_settings_table(document):
    settings = document.get('drbd_settings')
    if not settings:
        return ['The committed run predates this measure.']
    al, resync = settings['activity_log'], settings['resync']
    counts = sorted(al['write_us'], key=int)
    lines = list_table(
        'al-extents: 4 KiB random writes at queue depth 1 over 4 GiB, '
        'median of %s rounds' % al['rounds'],
        ['al-extents', 'us per write', 'activity-log writes per 1000',
         'MiB to resync after a crash, at most', 'the plugin\'s'],
        [[count, al['write_us'][count], al['log_writes_per_1000'][count],
          al['crash_resync_mib'][count],
          'yes' if count == al['chosen'] else '-'] for count in counts])
    writes, rates = resync['write_us'], resync['resync_kib_s']
    lines += list_table(
        'A whole-device resync while node1 writes (4 KiB random, queue '
        'depth 1), median of %s rounds' % resync['rounds'],
        ['resync', 'us per write', 'resync KiB/s'],
        [['paused', writes['paused'], '-'],
         ['DRBD\'s defaults', writes['drbd defaults'],
          rates['drbd defaults']],
         ['the plugin\'s settings', writes['plugin'], rates['plugin']],
         ['the plugin\'s settings, no writes', '-', rates['no writes']]])
    lines += list_table(
        'Targets', ['target', 'measured', 'goal', 'met'],
        [['the plugin\'s al-extents no slower than %s' % counts[0],
          '%s against %s us' % (al['write_us'][al['chosen']],
                                al['write_us'][counts[0]]), '<=',
          'yes' if al['met'] else 'no'],
         ['the resync while writing over the resync without',
          _ratio(resync['plugin_over_no_writes']),
          '>= %s' % resync['target'], 'yes' if resync['met'] else 'no']])
    return lines


@_from_results('cluster')
def scale_table(document):
    scale = document.get('scale')
    if not scale:
        return ['The committed run predates this measure.']
    targets = scale['targets']
    lines = _measured_alone(scale)
    lines += list_table(
        'node1 with this many volumes in use, seconds',
        ['volumes in use'] + [target['what'] for target in targets],
        [[row['volumes']] + ['%.3f' % row[target['figure']]
                             for target in targets]
         for row in scale['rows']])
    lines += list_table(
        'Targets', ['target', 'seconds', 'ms more per volume', 'met'],
        [['%s at %d volumes in at most %.0f s%s' % (
            target['what'], target['volumes'], target['target_s'],
            ' (fitted line)' if target['projected'] else ''),
          '%.2f' % target['seconds'], '%.2f' % target['ms_per_volume'],
          'yes' if target['met'] else 'no']
         for target in targets])
    return lines


def _measured_alone(rows):
    """The line naming the run that measured ``rows`` alone, if one did."""
    measured = rows.get('measured')
    if not measured:
        return []
    return ['These rows: ``%s`` at commit %s, %s; the other tables\' rows '
            'come from the run above.' % (
                measured['command'], (measured['commit'] or '?')[:7],
                measured['date']), '']


@_from_results('cluster')
def hand_over_table(document):
    moved = document.get('hand_over')
    if not moved:
        return ['The committed run predates this measure.']
    return _measured_alone(moved) + list_table(
        'The longest 4 KiB direct write while each step ran',
        ['while', 'longest write ms', 'the step took s'],
        [[step['what'], '%.1f' % step['longest_write_ms'],
          '-' if step['step_seconds'] is None
          else '%.2f' % step['step_seconds']]
         for step in moved['steps']] +
        [['the volume moved: at most %.0f ms' % moved['target_ms'],
          '%.1f' % moved['pause_ms'], 'met' if moved['met'] else 'missed']])


FAULT_HEADER = ['case', 'fault', 'answers', 'longest s', 'unanswered',
                'split-brains', 'LVs lost', 'half-made',
                'acked writes lost', 'survivor I/O pause s',
                'first change accepted s', 'accepted away / after return',
                'fenced', 'healed after s', 'met']


def fault_rows(document):
    rows = []
    for case in document['cases']:
        first = case.get('first_accepted_seconds')
        rows.append([
            case['case'], case['fault'],
            ', '.join('%s %d' % item
                      for item in sorted(case['outcomes'].items())),
            '%.1f' % case['longest_answer_seconds'], case['unanswered'],
            case['split_brains'], case['lvs_lost'], len(case['half_made']),
            '%d of %d' % (case['acknowledged_writes_lost'],
                          case['acknowledged_blocks']),
            '%.1f' % case['survivor_io_pause_seconds'],
            '-' if first is None else '%.1f' % first,
            '%d / %d' % (case.get('accepted_while_away', 0),
                         case.get('accepted_after_return', 0)),
            ', '.join(case['fenced']) or '-',
            '%.0f' % case['healed_after_seconds'],
            'yes' if case['met'] else 'no'])
    return rows


@_from_results('faults')
def fault_table(document):
    return list_table('The fault campaign, case by case', FAULT_HEADER,
                      fault_rows(document))


CINDER_FLOW_HEADER = ['flow', 'served by', 'seconds', 'status', 'outcome',
                      'peer calls']


def _peer_call_names(calls):
    """``node1>node2 use 0.31 s`` items as ``node1>node2 use`` (their
    seconds are in the gate's log).
    """
    return ', '.join(call.rsplit(' ', 2)[0] for call in calls) or '-'


@_from_results('cinder')
def cinder_flow_table(document):
    return list_table(
        'Real Cinder\'s flows through cinder-api, in the order they ran',
        CINDER_FLOW_HEADER,
        [[row['flow'], row['served_by'], '%.1f' % row['seconds'],
          row['status'], row.get('outcome', '-'),
          _peer_call_names(row.get('peer_calls', []))]
         for row in document['rows']])


def ci_phase_table():
    """CI's phases in the run ``.ci/phase-figures.json`` keeps as the
    figures each run is set against, then every fresh machine's run.
    """
    with open(CI_FIGURES) as handle:
        figures = json.load(handle)
    by_phase = figures['cpu']['core_seconds_by_phase']
    lines = ['Source: ``.ci/phase-figures.json``: %s.' % figures['source'],
             '']
    lines += list_table(
        'CI\'s phases (three lanes side by side after the first three)',
        ['phase', 'seconds', 'core-seconds'],
        [[phase, seconds, by_phase.get(phase, '-')]
         for phase, seconds in figures['phases'].items()])
    lines += list_table(
        'Clean-clone runs on a fresh machine (image cache removed)',
        ['run', 'seconds', 'tests passed', 'core-seconds', 'cores busy'],
        [[run['source'], run['seconds'], run['passed'],
          run['core_seconds'], '%d %% (%d-%d %% each five minutes)' % (
              (run['busy_percent_whole_run'],)
              + tuple(run['busy_percent_each_five_minutes']))]
         for run in figures.get('fresh_runs', [])])
    return lines


TABLES = {
    'ci-phases': ci_phase_table,
    'cinder-flows': cinder_flow_table,
    'cost': cost_table,
    'stats-scale': stats_table,
    'cluster-timing': cluster_table,
    'data-path': data_path_table,
    'drbd-settings': drbd_settings_table,
    'scale-on-nodes': scale_table,
    'hand-over': hand_over_table,
    'faults': fault_table,
}


_SELECTOR = re.compile(r'^(?P<list>\w+)\[(?P<key>\w+)=(?P<value>[^\]]+)\]$')


def result_value(spec):
    """The value at ``NAME:key.key.N`` in a committed result, as text: a
    part on a list is an index, ``list[key=value]`` picks the one
    item of a list whose ``key`` is ``value``. A ``KeyError`` where there is
    none.
    """
    name, _, path = spec.partition(':')
    document = load_result(name)
    if document is None:
        raise KeyError('%s: %s' % (NO_RUN, RESULT_FILES[name]))
    value = document
    for part in path.split('.'):
        selector = _SELECTOR.match(part)
        if selector:
            key, wanted = selector.group('key'), selector.group('value')
            matches = [item for item in value[selector.group('list')]
                       if str(item.get(key)) == wanted]
            if len(matches) != 1:
                raise KeyError('%d items with %s = %s in %s' % (
                    len(matches), key, wanted, selector.group('list')))
            value = matches[0]
        else:
            value = (value[int(part)] if isinstance(value, list)
                     else value[part])
    if isinstance(value, float):
        return ('%.3f' % value).rstrip('0').rstrip('.')
    return str(value)


# Options.

def options():
    """``{(group, name): option}`` of every option ``list_opts`` gives."""
    from drbd_clvm_driver import opts
    return {(group, option.dest): option
            for group, listed in opts.list_opts() for option in listed}


def deprecated_names():
    """``{old name: (group, current name)}`` of every option's deprecated
    names (an old name whose group is not given is in the same group).
    """
    old = {}
    for (group, name), option in options().items():
        for deprecated in option.deprecated_opts or []:
            if deprecated.name and deprecated.name != name:
                old[deprecated.name] = (group, name)
    return old


def resolve_option(text):
    """``(group, current name, deprecated)`` of the option ``text`` names
    (``name`` or ``group.name``, current or deprecated); a ``KeyError``
    where it names none.
    """
    group, _, name = text.rpartition('.')
    known = options()
    matches = [(g, n) for g, n in known if n == name and group in ('', g)]
    if matches:
        return matches[0] + (False,)
    old = deprecated_names().get(name)
    if old and group in ('', old[0]):
        return old + (True,)
    raise KeyError('%s is not an option of %s' % (text, PACKAGE))


_INI_SECTION = re.compile(r'^\s*\[(?P<section>[^\]]+)\]\s*$')
_INI_SETTING = re.compile(r'^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.]+)'
                          r'(?P<rest>\s*=.*)$')


def cinder_conf(lines):
    """A cinder.conf example with each of this driver's options spelled
    by its current name: ``(lines, problems)``. A key that is neither a
    driver option (by any of its names) nor in :data:`OTHER_OPTIONS` is a
    problem, as is a driver option outside a backend section.
    """
    problems = []
    out = []
    groups = {group for group, _ in options()}
    section = None
    for line in lines:
        header = _INI_SECTION.match(line)
        if header:
            section = header.group('section')
            out.append(line)
            continue
        setting = _INI_SETTING.match(line)
        if not setting or line.lstrip().startswith('#'):
            out.append(line)
            continue
        key = setting.group('key')
        try:
            group, name, _ = resolve_option(key)
        except KeyError:
            if key not in OTHER_OPTIONS:
                problems.append('[%s] %s is not an option of this driver, '
                                'nor one of Cinder\'s this page may name'
                                % (section, key))
            out.append(line)
            continue
        if group != 'drbd' and section != group:
            problems.append('%s belongs in [%s], not [%s]'
                            % (key, group, section))
        if group == 'drbd' and section in groups - {'drbd'} | {'DEFAULT'}:
            problems.append('%s belongs in a backend section, not [%s]'
                            % (key, section))
        out.append(setting.group('indent') + name + setting.group('rest'))
    return out, problems


# Errors.

def _imported_modules():
    """Every module of the package that imports without Cinder."""
    modules = []
    for info in pkgutil.walk_packages([PACKAGE_DIR], PACKAGE + '.'):
        path = os.path.join(REPO, *info.name.split('.'))
        path = os.path.join(path, '__init__.py') if info.ispkg else (
            path + '.py')
        with open(path) as handle:
            tree = ast.parse(handle.read())
        if any(isinstance(node, ast.ImportFrom) and node.module
               and node.module.split('.')[0] == 'cinder'
               for node in tree.body):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def error_classes():
    """Every subclass of ``DrbdClvmError`` in the package, the base first,
    then by module and source order.
    """
    from drbd_clvm_driver import exception
    _imported_modules()
    found = []

    def walk(cls):
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(exception.DrbdClvmError)

    def where(cls):
        return (cls.__module__ != exception.__name__, cls.__module__,
                inspect.getsourcelines(cls)[1])

    return sorted(set(found), key=where)


class _Placeholder(str):
    """An argument's name standing in for its value: iterates as one item,
    so ``' '.join(argv)`` and ``'; '.join(reasons)`` show the name once.
    """

    def __iter__(self):
        return iter([self])


def message_template(cls):
    """The message ``cls`` builds, with ``<argument>`` for each argument of
    its own ``__init__``; None where it takes the caller's message as it is.
    """
    init = next((klass.__dict__['__init__'] for klass in cls.__mro__
                 if '__init__' in klass.__dict__
                 and klass.__module__.startswith(PACKAGE)), None)
    if init is None:
        return None
    parameters = list(inspect.signature(init).parameters)[1:]
    arguments = {name: _Placeholder('<%s>' % name) for name in parameters}
    return str(cls(**arguments))


def cinder_mapping():
    """``{class name: Cinder exception}`` as ``driver._translated`` maps
    this project's errors, read from ``driver.py``'s source.
    """
    with open(os.path.join(PACKAGE_DIR, 'driver.py')) as handle:
        tree = ast.parse(handle.read())
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef)
                    and node.name == '_translated')
    mapping = {}
    for handler in (node for node in ast.walk(function)
                    if isinstance(node, ast.ExceptHandler)):
        caught = (handler.type.elts if isinstance(handler.type, ast.Tuple)
                  else [handler.type])
        raised = next(node.exc.func.attr for node in handler.body
                      if isinstance(node, ast.Raise))
        for name in caught:
            mapping[name.attr] = raised
    return mapping


def cinder_exception_of(cls, mapping):
    for klass in cls.__mro__:
        if klass.__name__ in mapping:
            return mapping[klass.__name__]
    return None


def raisers():
    """``{class name: [module paths]}``: the modules that make each error
    (name it anywhere but in an ``except``: a ``raise``, a factory, LVM's
    words mapped onto it in ``lvm.py``), read from the package's source.
    """
    found = {}
    for root, _, files in os.walk(PACKAGE_DIR):
        for filename in sorted(files):
            if not filename.endswith('.py'):
                continue
            path = os.path.join(root, filename)
            relative = os.path.relpath(path, REPO)
            with open(path) as handle:
                tree = ast.parse(handle.read())
            caught = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ExceptHandler) and node.type:
                    caught.update(id(sub) for sub in ast.walk(node.type))
            for node in ast.walk(tree):
                if id(node) in caught:
                    continue
                if isinstance(node, ast.Attribute) and getattr(
                        node.value, 'id', None) == 'exception':
                    name = node.attr
                elif isinstance(node, ast.Raise) and isinstance(
                        getattr(node.exc, 'func', None), ast.Name):
                    name = node.exc.func.id
                else:
                    continue
                if relative not in found.setdefault(name, []):
                    found[name].append(relative)
    return {name: sorted(paths) for name, paths in found.items()}


def error_entries():
    """One dict per error class: name, module, base, cause (docstring),
    message template, whether a retry may succeed, Cinder's exception,
    the modules that raise it.
    """
    mapping = cinder_mapping()
    raised = raisers()
    entries = []
    for cls in error_classes():
        entries.append({
            'name': cls.__name__,
            'module': cls.__module__,
            'base': cls.__bases__[0].__name__,
            'cause': inspect.cleandoc(cls.__doc__ or ''),
            'message': message_template(cls),
            'retriable': cls.retriable,
            'cinder': cinder_exception_of(cls, mapping),
            'raised_by': raised.get(cls.__name__, []),
        })
    return entries


def parse_actions(lines):
    """``{class name: [lines]}`` from a definition list written as
    ``Name`` lines followed by indented text.
    """
    actions = {}
    current = None
    for line in lines:
        if line and not line[0].isspace():
            current = line.strip()
            actions[current] = []
        elif current is not None:
            actions[current].append(line[3:] if line.startswith('   ')
                                    else line.strip())
    return {name: _trimmed(text) for name, text in actions.items()}


def _trimmed(lines):
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def error_catalogue(actions):
    """The error reference: each class with its cause, message, what Cinder
    makes of it and ``actions[name]`` (the operator's part, typed on the
    page): ``(lines, problems)``; a class without an action, or an action
    for a class the code no longer has, is a problem.
    """
    entries = error_entries()
    names = [entry['name'] for entry in entries]
    problems = ['no action is written for %s' % name
                for name in names if name not in actions]
    problems += ['an action is written for %s, which the code does not '
                 'have' % name for name in actions if name not in names]
    lines = []
    for entry in entries:
        title = entry['name']
        lines += ['.. _error-%s:' % title.lower(), '', title,
                  '-' * len(title), '']
        facts = ['Defined in ``%s``' % entry['module']]
        if entry['base'] != 'Exception':
            facts.append('a kind of :ref:`%s <error-%s>`' % (
                entry['base'], entry['base'].lower()))
        if entry['raised_by']:
            facts.append('made in %s' % ', '.join(
                '``%s``' % path for path in entry['raised_by']))
        lines += ['; '.join(facts) + '.', '']
        lines += entry['cause'].splitlines() + ['']
        if entry['message']:
            lines += ['Message::', '']
            lines += ['    ' + line for line in
                      _wrapped(entry['message'])] + ['']
        lines += ['In Cinder: %s. %s' % (
            '``%s``' % entry['cinder'] if entry['cinder']
            else 'not raised to Cinder as such',
            'Trying again later may succeed.' if entry['retriable']
            else 'Trying again will not help until the cause is fixed.'),
            '']
        action = actions.get(entry['name'])
        if action:
            lines += ['What to do:', '']
            lines += ['    ' + line if line else '' for line in action]
            lines.append('')
    return lines, problems


def _wrapped(text, width=72):
    words, lines, line = text.split(' '), [], ''
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = '%s %s' % (line, word) if line else word
    return lines + [line]


#: where the safety gate's refusal reasons come from: module, the
#: functions (``Class.method`` or ``function``) whose strings they are
REASON_SOURCES = (
    ('cluster', ('parse_quorumtool', 'SafetyGate._quorum_reasons')),
    ('replication/drbd', ('DrbdReplication.reasons',)),
    ('replication/shared_lun', ('SharedLun.reasons',)),
    ('locking/lvmlockd', ('LvmLockd.health_from',)),
    ('locking/sanlock', ('Sanlock.health_from',)),
    ('locking/clvmd', ('Clvmd.health_from',)),
)
DEGRADED_SOURCES = (
    ('replication/drbd', ('DrbdReplication.degraded',)),
)
_FORMAT = re.compile(r'%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdrif]')


def _functions(tree, wanted):
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (
                        '%s.%s' % (node.name, item.name) in wanted):
                    yield item
        elif isinstance(node, ast.FunctionDef) and node.name in wanted:
            yield node


def _phrases(function):
    """The string constants a function builds its messages from: the
    left of ``%`` or ``+``, an argument of ``append``, an item of a
    returned list, the value of a ``return``.
    """
    found = []
    for node in ast.walk(function):
        candidates = []
        if isinstance(node, ast.BinOp):
            candidates = [node.left]
        elif isinstance(node, ast.Call) and getattr(
                node.func, 'attr', None) == 'append':
            candidates = node.args
        elif isinstance(node, (ast.List, ast.ListComp)):
            candidates = getattr(node, 'elts', [getattr(node, 'elt', None)])
        elif isinstance(node, ast.Return):
            candidates = [node.value]
        for candidate in candidates:
            if isinstance(candidate, ast.Constant) and isinstance(
                    candidate.value, str) and len(candidate.value) > 12:
                found.append((candidate.lineno, candidate.value))
    seen = set()
    phrases = []
    for _, text in sorted(found):
        if text not in seen:
            seen.add(text)
            phrases.append(_FORMAT.sub('…', text).strip())
    return phrases


def _module_doc_line(tree):
    doc = ast.get_docstring(tree) or ''
    return doc.split('\n\n')[0].replace('\n', ' ')


def phrases_of(sources):
    """``[(module path, its docstring's first paragraph, [phrase])]``."""
    result = []
    for module, wanted in sources:
        path = os.path.join(PACKAGE_DIR, module + '.py')
        with open(path) as handle:
            tree = ast.parse(handle.read())
        phrases = []
        for function in _functions(tree, set(wanted)):
            phrases += _phrases(function)
        result.append((module, _module_doc_line(tree), phrases))
    return result


def phrase_lines(sources):
    lines = []
    for module, doc, phrases in phrases_of(sources):
        lines += ['``%s/%s.py``: %s' % (PACKAGE, module, doc), '']
        lines += ['* ``%s``' % phrase.replace('`', "'") for phrase in phrases]
        lines.append('')
    return lines


def gate_reasons():
    return phrase_lines(REASON_SOURCES)


def degraded_reasons():
    return phrase_lines(DEGRADED_SOURCES)


# The DevStack plugin's settings.

DEVSTACK_SETTINGS = os.path.join(REPO, 'devstack', 'settings')
DEVSTACK_LIB = os.path.join(REPO, 'devstack', 'lib', 'drbd_clvm')
_SETTING = re.compile(r'^(?P<name>DRBD_CLVM_[A-Z0-9_]+)='
                      r'\$\{(?P=name):-(?P<default>.*)\}$')
_INLINE_DEFAULT = re.compile(r'\$\{(?P<name>DRBD_CLVM_[A-Z0-9_]+):-'
                             r'(?P<default>[^}]*)\}')


def devstack_settings():
    """``[(comment, [(name, default)])]``: each comment block of
    ``devstack/settings`` with the settings under it, in the file's order;
    then the settings only ``devstack/lib/drbd_clvm`` gives a default.
    """
    groups = []
    comment = []
    with open(DEVSTACK_SETTINGS) as handle:
        lines = handle.read().splitlines()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith('#') and not stripped.startswith('#!'):
            comment.append(stripped.lstrip('#').strip())
            continue
        match = _SETTING.match(stripped)
        if match:
            setting = (match.group('name'), match.group('default'))
            if comment or not groups:
                groups.append((' '.join(comment), [setting]))
            else:
                groups[-1][1].append(setting)
            comment = []
        elif not stripped or not groups:
            comment = [] if not stripped else comment
    known = {name for _, settings in groups for name, _ in settings}
    extra = []
    with open(DEVSTACK_LIB) as handle:
        lib = handle.read()
    for match in _INLINE_DEFAULT.finditer(lib):
        name = match.group('name')
        if name not in known:
            known.add(name)
            extra.append((name, match.group('default')))
    if extra:
        groups.append(('Not in devstack/settings: defaults written where '
                       'devstack/lib/drbd_clvm uses them.', extra))
    return groups


def devstack_table():
    rows = []
    for comment, settings in devstack_settings():
        cell = ' '.join('``%s=%s``' % (name, default)
                        for name, default in settings)
        rows.append([cell, comment.replace('*', '\\*') or '-'])
    return list_table('The plugin\'s settings and their defaults, as '
                      'devstack/settings groups and explains them',
                      ['settings', 'what the file says'], rows,
                      widths=[45, 55])


TABLES['devstack-settings'] = devstack_table


# What drbd-clvm-fence writes to its log.

FENCE_MODULE = 'cmd/fence'
#: the calls whose first argument is a line of the fence log
FENCE_CALLS = ('log', 'FenceError')


def _first_string(node):
    """The string constant a call's first argument starts from (the left
    of a ``%``), or None.
    """
    while isinstance(node, ast.BinOp):
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def fence_messages():
    """Every line ``drbd-clvm-fence`` may log, in source order (its
    refusals are logged as they are raised).
    """
    with open(os.path.join(PACKAGE_DIR, FENCE_MODULE + '.py')) as handle:
        tree = ast.parse(handle.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and getattr(
                node.func, 'id', None) in FENCE_CALLS:
            text = _first_string(node.args[0])
            letters = re.sub(r'[^A-Za-z]', '', _FORMAT.sub('', text or ''))
            if len(letters) > 3:
                found.append((node.lineno, _FORMAT.sub('…', text)))
    return [text for _, text in sorted(set(found))]


def fence_message_lines():
    return ['* ``%s``' % text.replace('`', "'") for text in
            fence_messages()] + ['']


GENERATED = {
    'gate-reasons': gate_reasons,
    'degraded-reasons': degraded_reasons,
    'fence-messages': fence_message_lines,
}


def lvm_refusal_lines():
    """LVM's words the driver reads a refusal from, with the error it
    becomes and what the driver says it means (``lvm._REFUSALS``).
    """
    from drbd_clvm_driver import lvm
    rows = [['``%s``' % words, ':ref:`%s <error-%s>`' % (
        error.__name__, error.__name__.lower()), meaning]
        for words, error, meaning in lvm._REFUSALS]
    return ['Only under LVM\'s refusal exit code (%d); read from '
            '``drbd_clvm_driver/lvm.py``.' % lvm.ECMD_FAILED, ''] + list_table(
        'LVM refusals the driver names', ['LVM says', 'error', 'meaning'],
        rows, widths=[35, 25, 40])


GENERATED['lvm-refusals'] = lvm_refusal_lines


# The fault campaign's cases.

FAULTS_MODULE = os.path.join(REPO, 'tests', 'cluster', 'faults.py')


def _assigned(body, name):
    for node in body:
        if isinstance(node, ast.Assign) and any(
                getattr(target, 'id', None) == name
                for target in node.targets):
            return node.value
    return None


def fault_cases():
    """``[(name, fault, description)]`` of the campaign's cases in the
    order it runs them (``CASES`` in ``tests/cluster/faults.py``), read
    without importing it.
    """
    with open(FAULTS_MODULE) as handle:
        tree = ast.parse(handle.read())
    classes = {node.name: node for node in tree.body
               if isinstance(node, ast.ClassDef)}

    def attribute(cls, name):
        while cls is not None:
            value = _assigned(cls.body, name)
            if isinstance(value, ast.Constant):
                return value.value
            bases = [classes.get(getattr(base, 'id', None))
                     for base in cls.bases]
            cls = next((base for base in bases if base is not None), None)
        return None

    order = _assigned(tree.body, 'CASES')
    cases = []
    for element in order.elts:
        cls = classes[element.id]
        doc = ast.get_docstring(cls) or ''
        cases.append((attribute(cls, 'name'), attribute(cls, 'fault'),
                      ' '.join(doc.split('\n\n')[0].split())))
    return cases


def fault_bounds():
    """The campaign's bounds: ``{constant: value}`` of its module-level
    numbers (the stated I/O pause, the answer and recovery bounds).
    """
    with open(FAULTS_MODULE) as handle:
        tree = ast.parse(handle.read())
    bounds = {}
    for name in ('STATED_IO_PAUSE', 'ANSWER_BOUND', 'RECOVERY_BOUND'):
        value = _assigned(tree.body, name)
        if isinstance(value, ast.Constant):
            bounds[name] = value.value
    return bounds


def fault_case_lines():
    rows = [['``%s``' % name, fault, description or '-']
            for name, fault, description in fault_cases()]
    return list_table('The cases, in the order the campaign runs them '
                      '(tests/cluster/faults.py)',
                      ['case', 'fault', 'what happens'], rows,
                      widths=[20, 35, 45])


GENERATED['fault-cases'] = fault_case_lines
