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

"""Finding a plugin class by name in its stevedore namespace."""

from stevedore import driver as stevedore_driver


def plugin_class(namespace, name, not_found, kind, shipped):
    """The class registered as ``name`` in ``namespace``.

    :param not_found: the exception class raised when there is none.
    :param kind: what the plugin is, for the message ("lock manager").
    :param shipped: the names this project registers, for the message.
    """
    try:
        return stevedore_driver.DriverManager(namespace, name).driver
    except (RuntimeError, stevedore_driver.NoMatches) as error:
        quoted = ['"%s"' % each for each in shipped]
        listed = ' and '.join([', '.join(quoted[:-1]), quoted[-1]]
                              if len(quoted) > 1 else quoted)
        raise not_found('No %s %r in namespace %s (%s); the shipped ones are '
                        '%s' % (kind, name, namespace, error, listed))
