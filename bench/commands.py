"""Sorting recorded commands into LVM, cluster-health and data commands."""

LVM = 'lvm'
HEALTH = 'health'
DATA = 'data'
OTHER = 'other'

#: LVM's own tools: each one takes the VG metadata lock (and, in a shared
#: VG, a dlm round trip), which is why they are the cost that is counted
_LVM_TOOLS = frozenset((
    'lvm', 'lvs', 'vgs', 'pvs', 'lvdisplay', 'vgdisplay', 'pvdisplay',
    'lvcreate', 'lvremove', 'lvextend', 'lvreduce', 'lvresize', 'lvchange',
    'lvconvert', 'lvrename', 'vgchange', 'lvmconfig'))
#: what the safety gate and the lock-manager plugins ask
_HEALTH_TOOLS = frozenset((
    'cat', 'corosync-quorumtool', 'lvmlockctl', 'dlm_tool', 'drbdadm',
    'drbdsetup', 'pidof'))
_DATA_TOOLS = frozenset(('dd', 'blkdiscard'))


def program(argv):
    """The program an argument list runs, past ``env VAR=value`` (Cinder
    prefixes its LVM commands with ``env LC_ALL=C``).
    """
    argv = list(argv)
    if argv and argv[0] == 'env':
        argv = argv[1:]
        while argv and '=' in argv[0]:
            argv = argv[1:]
    return argv[0] if argv else ''


def kind(argv):
    name = program(argv)
    if name in _LVM_TOOLS:
        return LVM
    if name in _HEALTH_TOOLS:
        return HEALTH
    if name in _DATA_TOOLS:
        return DATA
    return OTHER


def summary(commands):
    """Counts per kind and the programs in order, for one operation."""
    counts = {LVM: 0, HEALTH: 0, DATA: 0, OTHER: 0}
    for argv in commands:
        counts[kind(argv)] += 1
    return {'counts': counts,
            'programs': [program(argv) for argv in commands],
            'commands': [' '.join(argv) for argv in commands]}
