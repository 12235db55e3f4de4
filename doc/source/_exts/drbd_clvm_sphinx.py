"""Sphinx glue for :mod:`drbd_clvm_docgen`: what the pages generate.

Directives:

``.. drbd-clvm-table:: NAME``
    a table from the committed results (``cost``, ``stats-scale``,
    ``cluster-timing``, ``data-path``, ``faults``, ``cinder-flows``), or a
    note that none is committed; CI's phases (``ci-phases``); or
    the DevStack plugin's settings (``devstack-settings``).
``.. drbd-clvm-cinder-conf::``
    a cinder.conf example (the directive's content) as a literal block,
    each of this driver's options spelled by its current name; an unknown
    key fails the build.
``.. drbd-clvm-errors::``
    every error class of the package with its message, cause and what
    Cinder makes of it; the content is a definition list of class name ->
    what the operator does, and a class without one (or one the code lost)
    fails the build.
``.. drbd-clvm-generated:: NAME``
    a list read from the code: the safety gate's refusal reasons
    (``gate-reasons``), the degraded states (``degraded-reasons``), the
    fence program's log lines (``fence-messages``).

Roles:

``:opt:`name```
    a link to the option's reference, shown by its current name; ``name``
    may be any of its names (``group.name`` for another group than the
    backend's).
``:result:`NAME:key.path```
    one value from a committed result.
"""

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from oslo_config import sphinxext as oslo_sphinxext
from sphinx.util import logging
from sphinx.util.nodes import nested_parse_with_titles

import drbd_clvm_docgen as docgen

LOG = logging.getLogger(__name__)


class _Generated(Directive):
    """Parses the lines :meth:`lines` returns as if they were the page's."""

    def note_result(self, name):
        env = self.state.document.settings.env
        env.note_dependency(docgen.result_path(name))

    def parsed(self, lines):
        node = nodes.section()
        node.document = self.state.document
        source = self.state_machine.input_lines.source(
            self.lineno - self.state_machine.input_offset - 1)
        content = StringList()
        for number, line in enumerate(lines):
            content.append(line, source, number)
        nested_parse_with_titles(self.state, content, node)
        return node.children

    def fail(self, problems):
        for problem in problems:
            LOG.warning(problem, location=(
                self.state.document.settings.env.docname, self.lineno))


class TableDirective(_Generated):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        if name not in docgen.TABLES:
            self.fail(['unknown table %s (known: %s)' % (
                name, ', '.join(sorted(docgen.TABLES)))])
            return []
        for result in docgen.RESULT_FILES:
            self.note_result(result)
        self.state.document.settings.env.note_dependency(docgen.CI_FIGURES)
        return self.parsed(docgen.TABLES[name]())


class CinderConfDirective(_Generated):
    has_content = True

    def run(self):
        lines, problems = docgen.cinder_conf(list(self.content))
        self.fail(problems)
        block = nodes.literal_block('\n'.join(lines), '\n'.join(lines))
        block['language'] = 'ini'
        return [block]


class ErrorsDirective(_Generated):
    has_content = True

    def run(self):
        actions = docgen.parse_actions(list(self.content))
        lines, problems = docgen.error_catalogue(actions)
        self.fail(problems)
        return self.parsed(lines)


class GeneratedDirective(_Generated):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        if name not in docgen.GENERATED:
            self.fail(['unknown generated list %s (known: %s)' % (
                name, ', '.join(sorted(docgen.GENERATED)))])
            return []
        return self.parsed(docgen.GENERATED[name]())


def option_role(name, rawtext, text, lineno, inliner, options=None,
                content=None):
    try:
        group, current, _ = docgen.resolve_option(text)
    except KeyError as error:
        message = inliner.reporter.error(str(error), line=lineno)
        problem = inliner.problematic(rawtext, rawtext, message)
        return [problem], [message]
    role = oslo_sphinxext.ConfigOptXRefRole()
    return role('oslo.config:option', rawtext,
                '%s <%s.%s>' % (current, group, current), lineno, inliner,
                options or {}, content or [])


def result_role(name, rawtext, text, lineno, inliner, options=None,
                content=None):
    env = inliner.document.settings.env
    try:
        env.note_dependency(docgen.result_path(text.partition(':')[0]))
        value = docgen.result_value(text)
    except (KeyError, IndexError, ValueError) as error:
        message = inliner.reporter.error(
            'no value %s in the committed results: %s' % (text, error),
            line=lineno)
        problem = inliner.problematic(rawtext, rawtext, message)
        return [problem], [message]
    return [nodes.Text(value)], []


def setup(app):
    app.add_directive('drbd-clvm-table', TableDirective)
    app.add_directive('drbd-clvm-cinder-conf', CinderConfDirective)
    app.add_directive('drbd-clvm-errors', ErrorsDirective)
    app.add_directive('drbd-clvm-generated', GeneratedDirective)
    app.add_role('opt', option_role)
    app.add_role('result', result_role)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
