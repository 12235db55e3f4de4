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

"""The driver inside real Cinder (``tox -e cinder``), commands served by the
two-node simulator."""

import importlib.util
import unittest

if importlib.util.find_spec('cinder') is None:
    # Where Cinder is not installed (the py3 environment), discovery from
    # tests/ - ``python -m stestr run tests.unit.x`` - skips this package
    # rather than failing to import it.
    def load_tests(loader, standard_tests, pattern):
        return unittest.TestSuite([_NeedsCinder('test_functional')])

    class _NeedsCinder(unittest.TestCase):

        @unittest.skip('the functional tests need Cinder: tox -e cinder')
        def test_functional(self):
            """Stands for the package's tests."""
