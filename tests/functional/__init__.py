"""The driver inside real Cinder (``tox -e cinder``), commands served by the
two-node simulator."""
