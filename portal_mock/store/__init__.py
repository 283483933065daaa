"""The embedded store: links in memory, every change journaled and fsynced, snapshots.

- link_store: LinkStore, the interface handlers and controls use;
- querying: filters, orders and pages (LinkQuery, the sorted creation index);
- commit: the group-commit writer thread (one fsync per batch);
- journal, snapshot: the files (append-only journal, TinyDB snapshot);
- ids: ObjectId-like ids that grow in creation order.
"""

from portal_mock.store.link_store import LinkStore, StoreLocked, StoreWriteFailed, utc_now

__all__ = ["LinkStore", "StoreLocked", "StoreWriteFailed", "utc_now"]
