"""vaxsync: nightly reconciliation of facility vaccination exports against the population registry."""

__version__ = "0.1.0"
