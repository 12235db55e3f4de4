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

"""An in-memory VG that answers the LVM commands of Cinder's LVM driver.

A measuring device, not a simulator: it keeps names, sizes, origins and
activation, and prints them in the text formats Cinder's LVM layer
(``cinder/brick/local_dev/lvm.py``, like os-brick's) parses: colon- or
bar-separated ``vgs``/``pvs`` rows, whitespace-separated ``lvs`` triples,
``lvdisplay -C -o Attr`` attribute strings.  A command it does not know
fails loudly, so a count never silently includes a wrong answer.
"""

import dataclasses

from oslo_concurrency import processutils

#: options of Cinder's LVM commands that take a value
_WITH_VALUE = frozenset(('-n', '--name', '-L', '-o', '--separator',
                         '--config', '-a', '-k'))


@dataclasses.dataclass
class _LV:
    size_gib: float
    origin: str = ''
    active: bool = True


def _parse(args):
    """Options (with their values) and positional arguments."""
    options, positional = {}, []
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg in _WITH_VALUE:
            options[arg] = args.pop(0)
        elif arg.startswith('-'):
            options[arg] = True
        else:
            positional.append(arg)
    return options, positional


def _gib(size):
    """``1g``, ``1.00g`` or ``1.00`` in GiB."""
    return float(size.rstrip('gG'))


class FakeVG:
    """One thick VG on one PV; answers through :meth:`execute`.

    :param vg_name: the VG's name.
    :param size_mib: its size.
    """

    LVM_VERSION = '2.03.16(2) (2022-05-18)'

    def __init__(self, vg_name, size_mib):
        self.vg_name = vg_name
        self.size_gib = size_mib / 1024.0
        self.lvs = {}

    def execute(self, *cmd, **kwargs):
        """Cinder's ``execute`` signature: ``(stdout, stderr)`` or
        :class:`~oslo_concurrency.processutils.ProcessExecutionError`.
        """
        argv = [str(arg) for arg in cmd]
        while argv[0] == 'env' or '=' in argv[0]:
            argv.pop(0)
        handler = getattr(self, '_' + argv[0].replace('-', '_'), None)
        if handler is None:
            raise NotImplementedError('fake VG cannot answer %s'
                                      % ' '.join(argv))
        options, positional = _parse(argv[1:])
        return handler(options, positional) or '', ''

    # Reports.

    def _free_gib(self):
        return self.size_gib - sum(lv.size_gib for lv in self.lvs.values())

    def _lvm(self, options, positional):
        return '  LVM version:     %s\n' % self.LVM_VERSION

    def _vgs(self, options, positional):
        if positional and positional[-1] != self.vg_name:
            raise self._missing('Volume group "%s" not found'
                                % positional[-1])
        if options['-o'] == 'name':
            return '  %s\n' % self.vg_name
        return '  %s:%.2f:%.2f:%d:fake-uuid\n' % (
            self.vg_name, self.size_gib, self._free_gib(), len(self.lvs))

    def _pvs(self, options, positional):
        return '  %s|/dev/drbd0|%.2f|%.2f\n' % (
            self.vg_name, self.size_gib, self._free_gib())

    def _lvs(self, options, positional):
        names = sorted(self.lvs)
        if positional and '/' in positional[-1]:
            names = [self._lv_name(positional[-1])]
        return ''.join('  %s %s %.2f\n' % (self.vg_name, name,
                                           self.lvs[name].size_gib)
                       for name in names)

    def _lvdisplay(self, options, positional):
        name = self._lv_name(positional[-1])
        lv = self.lvs[name]
        if options['-o'] == 'Origin':
            return '  %s\n' % lv.origin
        if lv.origin:
            kind = 's'
        elif any(other.origin == name for other in self.lvs.values()):
            kind = 'o'
        else:
            kind = '-'
        return '  %swi-%s-----\n' % (kind, 'a' if lv.active else '-')

    # Changes.

    def _lvcreate(self, options, positional):
        name = options.get('-n') or options['--name']
        size = _gib(options['-L'])
        if size > self._free_gib():
            raise processutils.ProcessExecutionError(
                stderr='  Volume group "%s" has insufficient free space'
                % self.vg_name, exit_code=5, cmd='lvcreate')
        origin = ''
        if '--snapshot' in options:
            origin = self._lv_name(positional[-1])
            self.lvs[origin].active = True
        self.lvs[name] = _LV(size, origin)

    def _lvremove(self, options, positional):
        del self.lvs[self._lv_name(positional[-1])]

    def _lvextend(self, options, positional):
        self.lvs[self._lv_name(positional[-1])].size_gib = _gib(options['-L'])

    def _lvchange(self, options, positional):
        lv = self.lvs[self._lv_name(positional[-1])]
        lv.active = options['-a'] != 'n'
        if lv.active and lv.origin:
            self.lvs[lv.origin].active = True

    # Data and udev: nothing to keep.

    def _dd(self, options, positional):
        return ''

    def _udevadm(self, options, positional):
        return ''

    def _lv_name(self, path):
        """``vg/lv`` or ``/dev/vg/lv`` to ``lv``, failing like ``lvs``."""
        vg, name = path.split('/')[-2:]
        if vg != self.vg_name or name not in self.lvs:
            raise self._missing('Failed to find logical volume "%s/%s"'
                                % (vg, name))
        return name

    @staticmethod
    def _missing(message):
        return processutils.ProcessExecutionError(
            stderr='  %s\n' % message, exit_code=5, cmd='lvm')
