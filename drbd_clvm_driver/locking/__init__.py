"""Cluster LVM lock-manager plugins (lvmlockd, clvmd) behind one interface."""
