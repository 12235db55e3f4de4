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


"""Modules that live in no package (tools, scripts, Sphinx extensions),
loaded from their files for the tests.
"""

import importlib.machinery
import importlib.util
import os

from tests.cluster import guests


def load(name, *path):
    """The module in ``path`` (under the repository's root) as ``name``;
    the file need not end in ``.py``.
    """
    loader = importlib.machinery.SourceFileLoader(
        name, os.path.join(guests.ROOT, *path))
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module
