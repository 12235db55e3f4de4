"""Copying and wiping volume data, with dd run through the command runner.

Direct I/O on both sides: the page cache would only slow a one-pass copy and
could keep a copy of one tenant's data in memory.
"""

from drbd_clvm_driver import lvm

#: dd block size; 1 MiB keeps DRBD's protocol C round trips few
_BLOCK = '1M'


def copy(runner, source_path, target_path, size_mib, timeout):
    """Copy the first ``size_mib`` MiB of one device to another."""
    lvm.validate_size_mib(size_mib)
    runner.run(['dd', 'if=%s' % source_path, 'of=%s' % target_path,
                'bs=%s' % _BLOCK, 'count=%d' % size_mib, 'iflag=direct',
                'oflag=direct', 'conv=fdatasync'], timeout=timeout)


def wipe(runner, path, size_mib, timeout):
    """Overwrite the first ``size_mib`` MiB of ``path`` with zeros."""
    lvm.validate_size_mib(size_mib)
    runner.run(['dd', 'if=/dev/zero', 'of=%s' % path, 'bs=%s' % _BLOCK,
                'count=%d' % size_mib, 'oflag=direct', 'conv=fdatasync'],
               timeout=timeout)
