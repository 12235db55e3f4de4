"""The shipped rootwrap filters let through exactly what the driver runs."""

import os

import fixtures
from oslo_rootwrap import filters as rootwrap_filters
from oslo_rootwrap import wrapper
import testtools

from drbd_clvm_driver import data
from drbd_clvm_driver import lvm
from drbd_clvm_driver import runner

FILTERS = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                       'drbd_clvm_driver', 'rootwrap.d')


class Capture(runner.CommandRunner):
    """Records each argv as the root helper would receive it."""

    def __init__(self):
        super().__init__(default_timeout=30)
        self.seen = []

    def _execute(self, argv, timeout):
        self.seen.append(('timeout', '--kill-after=%d' % runner.KILL_GRACE,
                          '%d' % timeout) + argv)
        return 0, '{"report": [{"lv": [], "vg": []}]}', ''


class RootwrapFiltersTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.filters = wrapper.load_filters([FILTERS])
        # This host has no LVM or DRBD tools; rootwrap only runs programs
        # it finds, so give it stand-ins to find.
        self.bin = self.useFixture(fixtures.TempDir()).path
        for command in {f.exec_path for f in self.filters}:
            path = os.path.join(self.bin, command)
            open(path, 'w').close()
            os.chmod(path, 0o755)

    def _allowed(self, argv):
        try:
            wrapper.match_filter(self.filters, list(argv),
                                 exec_dirs=[self.bin])
        except wrapper.NoFilterMatched:
            return False
        return True

    def test_driver_commands_pass(self):
        capture = Capture()
        vg = lvm.ClusteredVG(capture, 'cinder-volumes')
        vg.create('volume-1', 1024, tags=['cinder-volume:1'])
        vg.create_snapshot('_snapshot-1', 'volume-1', 1024)
        vg.extend('volume-1', 2048)
        vg.activate('volume-1', lvm.Activation.EXCLUSIVE)
        vg.change_tags('volume-1', delete=['cinder-state:creating'])
        vg.merge_snapshot('_snapshot-1')
        vg.rename('a', 'b')
        vg.remove('volume-1')
        vg.logical_volumes()
        data.copy(capture, '/dev/cinder-volumes/a', '/dev/cinder-volumes/b',
                  1024, 60)
        data.wipe(capture, '/dev/cinder-volumes/a', 1024, 60)
        data.wipe(capture, '/dev/mapper/cinder--volumes-_snap-cow', 16, 60)
        for argv in capture.seen:
            self.assertTrue(self._allowed(argv), ' '.join(argv))

    def test_other_commands_refused(self):
        for argv in (('timeout', '--kill-after=5', '10', 'sh', '-c', 'id'),
                     ('timeout', '--kill-after=5', '10', 'dd',
                      'if=/etc/shadow', 'of=/dev/vg/lv', 'bs=1M', 'count=1',
                      'oflag=direct', 'conv=fdatasync'),
                     ('cat', '/etc/shadow'),
                     ('lvmlockctl', '--kill', 'vgc')):
            self.assertFalse(self._allowed(argv), ' '.join(argv))

    def test_filters_are_chaining_for_timeout(self):
        timeout_filters = [f for f in self.filters
                           if isinstance(f, rootwrap_filters.
                                         ChainingRegExpFilter)]
        self.assertEqual(1, len(timeout_filters))
