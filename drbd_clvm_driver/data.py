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

"""Copying and wiping volume data, with dd run through the command runner.

Direct I/O on both sides: the page cache would only slow a one-pass copy and
could keep a copy of one tenant's data in memory.
"""

import logging

from drbd_clvm_driver import lvm

LOG = logging.getLogger(__name__)

#: dd block size; 1 MiB keeps DRBD's protocol C round trips few
_BLOCK = '1M'
_MIB = 1024 * 1024


def copy(runner, source_path, target_path, size_mib, timeout,
         target_mib=None, in_device=True):
    """Copy the first ``size_mib`` MiB of one device to another.

    A target whose device zeroes ranges itself (WRITE_ZEROES: DRBD passes
    it to both nodes as one request) is zeroed whole first, and only the
    source's blocks that are not all zeros are written: an empty or sparse
    volume copies in seconds instead of sending its zeros over DRBD's link,
    and a larger target's tail holds zeros, not earlier volumes' data.
    Elsewhere every block is written, as before.

    :param target_mib: the target's size, when larger than ``size_mib``.
    :param in_device: False writes every block without zeroing first.
    """
    lvm.validate_size_mib(size_mib)
    sparse = in_device and zero_in_device(
        runner, target_path, size_mib if target_mib is None else target_mib,
        timeout)
    runner.run(['dd', 'if=%s' % source_path, 'of=%s' % target_path,
                'bs=%s' % _BLOCK, 'count=%d' % size_mib, 'iflag=direct',
                'oflag=direct',
                'conv=sparse,fdatasync' if sparse else 'conv=fdatasync'],
               timeout=timeout)


def zero_in_device(runner, path, size_mib, timeout):
    """Zero the first ``size_mib`` MiB of ``path`` if its device can do it
    without being sent the zeros; whether it did.

    ``fallocate --punch-hole`` on a block device is the kernel's zero-out
    that never falls back to writing zero pages: it fails where the device
    (or DRBD's peer) lacks WRITE_ZEROES or discard that reads back zeros.
    """
    lvm.validate_size_mib(size_mib)
    result = runner.run(['fallocate', '--punch-hole', '--keep-size',
                         '--offset', '0', '--length',
                         str(size_mib * _MIB), path],
                        timeout=timeout, check=False)
    if result.exit_code != 0:
        LOG.info('%s cannot zero itself (%s); writing every block',
                 path, result.stderr.strip() or
                 'fallocate exited %s' % result.exit_code)
    return result.exit_code == 0


def wipe(runner, path, size_mib, timeout, in_device=True):
    """Zero the first ``size_mib`` MiB of ``path``: by the device itself
    where it can (one request, also to DRBD's peer: a 1 GiB wipe in a second,
    not minutes of zeros over the link), else by writing zeros.

    :param in_device: False always writes the zeros.
    """
    lvm.validate_size_mib(size_mib)
    if in_device and zero_in_device(runner, path, size_mib, timeout):
        return
    runner.run(['dd', 'if=/dev/zero', 'of=%s' % path, 'bs=%s' % _BLOCK,
                'count=%d' % size_mib, 'oflag=direct', 'conv=fdatasync'],
               timeout=timeout)
