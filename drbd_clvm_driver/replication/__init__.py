"""How the volume group's disk is shared between the nodes (replication
plugins: DRBD, a shared LUN), behind one interface the safety gate checks.
"""
