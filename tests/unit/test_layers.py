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

"""The driver's modules import only downwards.

Every module of the package is read with :mod:`ast` (nothing is imported),
its imports of the package's modules - at its top and inside functions -
become the edges of a graph, and the graph must have no cycle. An import
inside a function is how a cycle hides, so none of the package's modules
may be imported there.

The boundary the layers draw is checked too: the safety gate (readings
in, verdict out) and the command types it shares
(:mod:`drbd_clvm_driver.commands`) need neither the volume service's
runners nor the privileged daemon, and the daemon never imports the
service's runner module.
"""

import ast
import os

import fixtures
import testtools

PACKAGE = 'drbd_clvm_driver'
#: this checkout's package, whatever else is on the path
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

#: the safety gate and what it stands on
GATE = ('drbd_clvm_driver.cluster', 'drbd_clvm_driver.commands',
        'drbd_clvm_driver.drbd', 'drbd_clvm_driver.exception',
        'drbd_clvm_driver.plugins', 'drbd_clvm_driver.locking',
        'drbd_clvm_driver.replication')
#: the volume service's runners
SERVICE = 'drbd_clvm_driver.runner'
#: the privileged daemon
DAEMON = 'drbd_clvm_driver.privileged'


def modules(root, package=PACKAGE):
    """The package's modules under ``root``: dotted name -> file."""
    found = {}
    for directory, _, files in os.walk(os.path.join(root, package)):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, root)[:-len('.py')].split(os.sep)
            if parts[-1] == '__init__':
                parts.pop()
            found['.'.join(parts)] = path
    return found


class _Imports(ast.NodeVisitor):
    """The imports of one module: (imported name, line, inside a
    function).
    """

    def __init__(self, module, is_package):
        self.package = module if is_package else module.rpartition('.')[0]
        self.found = []
        self._depth = 0

    def _function(self, node):
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node):
        for alias in node.names:
            self.found.append(([alias.name], node.lineno, self._depth > 0))

    def visit_ImportFrom(self, node):
        base = node.module or ''
        if node.level:
            parent = self.package.split('.')
            parent = parent[:len(parent) - (node.level - 1)]
            base = '.'.join(parent + ([base] if base else []))
        # ``from P import x``: the module P.x where there is one, else P
        self.found.append(([base + '.' + alias.name for alias in node.names]
                           + [base], node.lineno, self._depth > 0))


def import_graph(root, package=PACKAGE):
    """The package's import graph: module -> {imported module: [(line,
    inside a function)]}.
    """
    known = modules(root, package)
    graph = {}
    for module, path in sorted(known.items()):
        with open(path) as source:
            tree = ast.parse(source.read(), path)
        visitor = _Imports(module, path.endswith('__init__.py'))
        visitor.visit(tree)
        edges = graph.setdefault(module, {})
        for candidates, line, in_function in visitor.found:
            for name in candidates[:-1] or candidates:
                target = name if name in known else (
                    candidates[-1] if candidates[-1] in known else None)
                if target is not None and target != module:
                    edges.setdefault(target, []).append((line, in_function))
    return graph


def cycles(graph):
    """The graph's strongly connected components of more than one module
    (Tarjan), each sorted.
    """
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def function_imports(graph):
    """``module:line imports target`` for each of the package's modules
    imported inside a function.
    """
    return ['%s:%d imports %s' % (module, line, target)
            for module, edges in sorted(graph.items())
            for target, places in sorted(edges.items())
            for line, in_function in places if in_function]


def _describe(graph, component):
    return '\n'.join('  %s -> %s' % (module, target)
                     for module in component
                     for target in sorted(graph[module])
                     if target in component)


def _within(module, layer):
    return module == layer or module.startswith(layer + '.')


class LayersTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.graph = import_graph(ROOT)

    def test_the_package_is_read(self):
        for module in ('drbd_clvm_driver.cluster', 'drbd_clvm_driver.runner',
                       'drbd_clvm_driver.privileged',
                       'drbd_clvm_driver.privileged.root'):
            self.assertIn(module, self.graph)
        self.assertIn('drbd_clvm_driver.privileged.gatekeeper',
                      self.graph['drbd_clvm_driver.privileged.root'])

    def test_no_import_cycle(self):
        found = cycles(self.graph)
        self.assertEqual([], found, 'import cycles:\n' + '\n\n'.join(
            _describe(self.graph, component) for component in found))

    def test_no_import_of_the_package_inside_a_function(self):
        found = function_imports(self.graph)
        self.assertEqual([], found, 'imports inside functions (a cycle '
                         'hidden, or a layer out of place):\n  '
                         + '\n  '.join(found))

    def _imports(self, importers, imported):
        return ['%s imports %s' % (module, target)
                for module, edges in sorted(self.graph.items())
                if any(_within(module, layer) for layer in importers)
                for target in sorted(edges)
                if any(_within(target, layer) for layer in imported)]

    def test_the_gate_needs_neither_the_runners_nor_the_daemon(self):
        self.assertEqual([], self._imports(GATE, (SERVICE, DAEMON)))

    def test_the_daemon_does_not_import_the_service_runner(self):
        self.assertEqual([], self._imports((DAEMON,), (SERVICE,)))


class GraphTest(testtools.TestCase):
    """The checks above find what they are there to find."""

    def _package(self, files):
        root = self.useFixture(fixtures.TempDir()).path
        for name, text in files.items():
            path = os.path.join(root, 'pkg', name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as module:
                module.write(text)
        return import_graph(root, 'pkg')

    def test_a_cycle_through_a_function_import(self):
        graph = self._package({
            'a.py': 'from pkg import b\n',
            'b.py': 'import os\n\n\ndef f():\n    from pkg.sub import c\n',
            'sub/__init__.py': '',
            'sub/c.py': 'from .. import a\n',
            'd.py': 'from pkg import a\n'})
        self.assertEqual([['pkg.a', 'pkg.b', 'pkg.sub.c']], cycles(graph))
        self.assertEqual(['pkg.b:5 imports pkg.sub.c'],
                         function_imports(graph))

    def test_names_from_a_package_and_relative_imports(self):
        graph = self._package({
            '__init__.py': 'VALUE = 1\n',
            'a.py': 'from pkg import VALUE\nfrom . import b\n',
            'b.py': 'import pkg.sub.c\n',
            'sub/__init__.py': 'from .c import NAME\n',
            'sub/c.py': 'NAME = 2\n'})
        self.assertEqual({'pkg': [(1, False)], 'pkg.b': [(2, False)]},
                         graph['pkg.a'])
        self.assertEqual({'pkg.sub.c': [(1, False)]}, graph['pkg.b'])
        self.assertEqual({'pkg.sub.c': [(1, False)]}, graph['pkg.sub'])
        self.assertEqual([], cycles(graph))
