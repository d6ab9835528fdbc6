"""Federation: signed track manifests replicated between instances through Matrix rooms.

This package holds the rules (manifests, signatures, policy, replication queue); the
Matrix transport lives in ``bots.federation`` and storage in ``storage.sqlite``.
"""
