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

"""Cluster-state readings the privileged daemon answers without a process.

On the gate's guests starting any program costs 0.1-0.7 s (``corosync-
quorumtool -s`` 0.69 s, ``lvmlockctl --info`` 0.19 s), more than the safety
gate may add to an ``lvcreate`` of 0.5 s; reading a file or asking a library
already loaded costs a few milliseconds. So the daemon answers these
readings itself, in the form the driver's parsers read, and still starts the
program where it cannot:

- ``cat PATH``: the file is read (``/proc/drbd``, DRBD's data generation in
  debugfs, a DLM lockspace's ``recover_status`` in sysfs);
- ``pidof NAME``: the daemon's own pid file is read and the process checked
  in ``/proc``; ``/proc`` is searched only where that finds nothing;
- ``readlink -f PATH`` and ``ls DIRECTORY``: where a shared LUN's stable
  path points, and the disks under a device-mapper device;
- ``corosync-quorumtool -s``: corosync is asked through libquorum, the
  library the tool itself uses, over one connection kept open; the answer
  is the tool's ``Quorate:`` line (membership is read with ``-l``, a
  process, once at start-up);
- ``sanlock client gets``: sanlock is asked through libsanlock_client, the
  library the tool itself uses; the answer is the tool's lockspace lines.
"""

import ctypes
import os
import threading

#: where the daemons the gate watches write their pid (Debian's builds)
PID_FILES = {
    'lvmlockd': ('/run/lvmlockd.pid',),
    'dlm_controld': ('/run/dlm_controld/dlm_controld.pid',),
    'clvmd': ('/run/clvmd.pid',),
    'sanlock': ('/run/sanlock/sanlock.pid',),
    'wdmd': ('/run/wdmd/wdmd.pid',),
}
#: corosync's ``cs_error_t`` for success
_CS_OK = 1


def read_file(path):
    try:
        with open(path) as kernel_file:
            return 0, kernel_file.read(), ''
    except OSError as error:
        return 1, '', 'cat: %s: %s\n' % (path, error.strerror)


def resolve(path):
    """``readlink -f PATH``: every component but the last must exist."""
    real = os.path.realpath(path)
    if not os.path.isdir(os.path.dirname(real)):
        return 1, '', ''
    return 0, real + '\n', ''


def list_directory(path):
    """``ls DIRECTORY``, as it prints to a pipe: one name a line, sorted."""
    try:
        names = sorted(os.listdir(path))
    except OSError as error:
        return 2, '', "ls: cannot access '%s': %s\n" % (
            path, error.strerror)
    return 0, ''.join(name + '\n' for name in names), ''


def _is_running(pid, name):
    try:
        with open('/proc/%s/comm' % pid) as comm:
            return comm.read().rstrip('\n') == name
    except OSError:
        return False


def _pid_from_file(path):
    try:
        with open(path) as pid_file:
            pid = pid_file.read().strip()
    except OSError:
        return None
    return pid if pid.isdigit() else None


def pidof(name, proc='/proc'):
    """``pidof NAME``: exit 0 and the pids, or exit 1 and nothing."""
    pids = [pid for pid in map(_pid_from_file, PID_FILES.get(name, ()))
            if pid and _is_running(pid, name)]
    if not pids:
        pids = [entry.name for entry in os.scandir(proc)
                if entry.name.isdigit() and _is_running(entry.name, name)]
    if not pids:
        return 1, '', ''
    return 0, ' '.join(pids) + '\n', ''


class _LibraryReading:
    """A reading answered through a shared library, loaded at first use.

    :param library: the shared object's name; when it cannot be loaded
        ``answer`` returns None and the caller runs the tool.
    """

    def __init__(self, library):
        self._library_name = library
        self._library = None

    def _loaded(self):
        if self._library is None:
            try:
                self._library = self._prepare(
                    ctypes.CDLL(self._library_name))
            except OSError:
                return False
        return True

    def _prepare(self, library):
        """The loaded library, its functions' signatures declared."""
        return library


class CorosyncQuorum(_LibraryReading):
    """corosync's quorum through libquorum, over one kept connection."""

    def __init__(self, library='libquorum.so.5'):
        super().__init__(library)
        self._handle = None
        self._lock = threading.Lock()

    def answer(self):
        with self._lock:
            if not self._loaded():
                return None
            for _ in range(2):
                if self._handle is None and not self._connect():
                    return 1, '', 'Cannot initialize QUORUM service\n'
                quorate = ctypes.c_int()
                status = self._library.quorum_getquorate(
                    self._handle, ctypes.byref(quorate))
                if status == _CS_OK:
                    return 0, 'Quorate: %s\n' % (
                        'Yes' if quorate.value else 'No'), ''
                # corosync restarted since the connection was made: once
                # more on a new one.
                self._disconnect()
            return 1, '', 'Cannot get quorate state (error %d)\n' % status

    def _connect(self):
        handle = ctypes.c_uint64()
        # quorum_callbacks_t: one notification function pointer, unused
        callbacks = (ctypes.c_void_p * 2)()
        quorum_type = ctypes.c_uint32()
        status = self._library.quorum_initialize(
            ctypes.byref(handle), ctypes.byref(callbacks),
            ctypes.byref(quorum_type))
        if status != _CS_OK:
            return False
        self._handle = handle
        return True

    def _disconnect(self):
        self._library.quorum_finalize(self._handle)
        self._handle = None


class _SanlockDisk(ctypes.Structure):
    # struct sanlk_disk of sanlock.h
    _fields_ = [('path', ctypes.c_char * 1024), ('offset', ctypes.c_uint64),
                ('pad1', ctypes.c_uint32), ('pad2', ctypes.c_uint32)]


class SanlockLockspace(ctypes.Structure):
    """struct sanlk_lockspace of sanlock.h."""

    _fields_ = [('name', ctypes.c_char * 48), ('host_id', ctypes.c_uint64),
                ('flags', ctypes.c_uint32), ('host_id_disk', _SanlockDisk)]


#: sanlk_lockspace.flags (SANLK_LSF_*) as ``sanlock client gets`` prints them
_LOCKSPACE_FLAGS = ((0x1, 'ADD'), (0x2, 'REM'))


def format_lockspace(lockspace):
    """One line of ``sanlock client gets`` for a :class:`SanlockLockspace`."""
    flags = ' '.join(text for bit, text in _LOCKSPACE_FLAGS
                     if lockspace.flags & bit)
    return 's %s:%d:%s:%d %s\n' % (
        lockspace.name.decode(errors='replace'), lockspace.host_id,
        lockspace.host_id_disk.path.decode(errors='replace'),
        lockspace.host_id_disk.offset, flags)


class SanlockLockspaces(_LibraryReading):
    """``sanlock client gets`` from the sanlock daemon, through
    ``sanlock_get_lockspaces`` of libsanlock_client (one request on its
    socket, as the tool makes).
    """

    def __init__(self, library='libsanlock_client.so.1'):
        super().__init__(library)
        self._free = None

    def _prepare(self, library):
        library.sanlock_get_lockspaces.argtypes = [
            ctypes.POINTER(ctypes.POINTER(SanlockLockspace)),
            ctypes.POINTER(ctypes.c_int), ctypes.c_uint32]
        # the list is malloc'd by the library, for the caller to free
        self._free = ctypes.CDLL('libc.so.6').free
        self._free.argtypes = [ctypes.c_void_p]
        return library

    def answer(self):
        if not self._loaded():
            return None
        lockspaces = ctypes.POINTER(SanlockLockspace)()
        count = ctypes.c_int()
        status = self._library.sanlock_get_lockspaces(
            ctypes.byref(lockspaces), ctypes.byref(count), 0)
        if status < 0:
            return 1, '', 'gets error %d\n' % status
        if not lockspaces:
            return 0, '', ''
        try:
            return 0, ''.join(format_lockspace(lockspaces[index])
                              for index in range(count.value)), ''
        finally:
            self._free(lockspaces)


_QUORUM = CorosyncQuorum()
_SANLOCK = SanlockLockspaces()
#: the readings a library answers, by their command line
_LIBRARIES = {
    ('corosync-quorumtool', '-s'): _QUORUM,
    ('sanlock', 'client', 'gets'): _SANLOCK,
}


def answers_itself(argv):
    """Whether the daemon answers ``argv`` without starting a program
    (where the library is there, for quorum and sanlock's lockspaces).
    """
    return (argv[0] in ('cat', 'pidof', 'readlink', 'ls')
            or tuple(argv) in _LIBRARIES)


def read_now(argv):
    """The answer to a file, link, directory or pid reading (cannot
    block), or None.
    """
    if argv[0] == 'cat':
        return read_file(argv[1])
    if argv[0] == 'pidof':
        return pidof(argv[1])
    if argv[0] == 'readlink':
        return resolve(argv[2])
    if argv[0] == 'ls':
        return list_directory(argv[1])
    return None


def answer(argv):
    """The daemon's own answer to a reading, or None to run the program."""
    if not answers_itself(argv):
        return None
    return read_now(argv) or _LIBRARIES[tuple(argv)].answer()
