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

"""The driver's privileged daemon: the one way its commands get root.

The volume service starts one oslo.privsep daemon for this context, through
its root helper, the first time it needs root (Cinder's volume service sets
that helper to ``sudo cinder-rootwrap /etc/cinder/rootwrap.conf``; the
project's rootwrap filter lets ``privsep-helper`` start exactly this
context). Every later call is a message on the daemon's socket, not a new
``sudo``.

The daemon keeps only the capabilities the commands need. Programs it starts
run as root; what it lets them be is decided in
:mod:`drbd_clvm_driver.privileged.checks`, inside the daemon.
"""

from oslo_config import cfg
from oslo_privsep import capabilities
from oslo_privsep import priv_context

#: the daemon's concurrent calls. oslo.privsep's default is one per CPU, and
#: a volume copy or wipe holds its thread for minutes: every other call of
#: the volume service (the safety gate's readings, stats) would wait behind it.
THREAD_POOL_SIZE = 64

default = priv_context.PrivContext(
    'drbd_clvm_driver',
    cfg_section='drbd_clvm_privileged',
    pypath=__name__ + '.default',
    capabilities=[capabilities.CAP_SYS_ADMIN,
                  capabilities.CAP_DAC_OVERRIDE,
                  capabilities.CAP_DAC_READ_SEARCH,
                  capabilities.CAP_FOWNER,
                  capabilities.CAP_CHOWN,
                  capabilities.CAP_MKNOD,
                  capabilities.CAP_IPC_LOCK,
                  capabilities.CAP_KILL],
)
cfg.CONF.set_default('thread_pool_size', THREAD_POOL_SIZE,
                     group='drbd_clvm_privileged')
