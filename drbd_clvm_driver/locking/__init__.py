"""Cluster LVM lock-manager plugins (lvmlockd with dlm or sanlock, clvmd)
behind one interface.
"""
