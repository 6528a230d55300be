"""Bounded memory for what an import keeps across the whole file (ADR 0012): the keys already
seen (duplicate ids), the keys other rows may reference, and the records gathered from repeated
rows (an order's lines) until the end of the file.

`SpillMap` is a dict (of text keys) that keeps its most recently stored `limit` entries in
memory and moves the older half, when it grows past the limit, to a private temporary SQLite
database (an empty file name: SQLite creates it in the temporary directory, already unlinked,
and it vanishes with the connection — also when the worker is killed). A look-up that misses
memory asks the store only when the key's hash is among the stored keys' hashes (a sorted NumPy
array, 8 bytes a key), so a key never seen costs a binary search, not a query. A key found in
the store moves back to memory (a held record is then changed in place, as before). Keys and
values are pickled.

A map that never passes its limit never opens a store: small files behave exactly as with a
dict. At 10M order lines (2.5M orders) memory holds at most `limit` entries per map plus the
hashes (20 MB for 2.5M keys).
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_MISSING = object()
FETCH = 2000


class SpillMap:
    """A dict of at most `limit` entries in memory, the rest in a temporary SQLite store;
    `order(value)` gives the position of an entry in `values_in_order` (a held record's row)."""

    def __init__(self, limit: int, order: Callable[[Any], int] | None = None) -> None:
        self.limit = limit
        self.memory: dict[Any, Any] = {}
        self.order = order
        self._store: sqlite3.Connection | None = None
        self._hashes = np.empty(0, dtype=np.int64)
        self._counter = 0  # insertion order for maps without `order`
        self._positions: dict[Any, int] = {}
        # Only text keys are stored: their pickles are equal exactly when the keys are (a tuple
        # of equal instants in two time zones would not be); other keys stay in memory.
        self._spillable = True

    @property
    def spilled(self) -> bool:
        return self._store is not None

    def __len__(self) -> int:
        stored = 0
        if self._store is not None:
            stored = self._store.execute("SELECT count(*) FROM spill").fetchone()[0]
        return len(self.memory) + stored

    def get(self, key: Any, default: Any = None) -> Any:
        found = self.memory.get(key, _MISSING)
        if found is not _MISSING:
            return found
        if self._store is None or not self._maybe_stored(key):
            return default
        blob = pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
        row = self._store.execute("SELECT position, value FROM spill WHERE key = ?",
                                  (blob,)).fetchone()
        if row is None:
            return default
        self._store.execute("DELETE FROM spill WHERE key = ?", (blob,))
        value = pickle.loads(row[1])
        self.memory[key] = value
        if self.order is None:
            self._positions[key] = row[0]
        return value

    def __contains__(self, key: Any) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __setitem__(self, key: Any, value: Any) -> None:
        memory = self.memory
        if key not in memory:
            if self._store is not None and self._maybe_stored(key):  # replaced: not twice
                self._store.execute("DELETE FROM spill WHERE key = ?",
                                    (pickle.dumps(key, pickle.HIGHEST_PROTOCOL),))
            if self.order is None:
                self._counter += 1
                self._positions[key] = self._counter
            if type(key) is not str:
                self._spillable = False
        memory[key] = value
        if len(memory) > self.limit and self._spillable:
            self._spill(len(memory) - self.limit // 2)

    def add(self, key: Any) -> None:
        """As a set: remember `key`."""
        if key not in self:
            self[key] = True

    def clear(self) -> None:
        self.memory.clear()
        self._positions.clear()
        if self._store is not None:
            self._store.close()
            self._store = None
        self._hashes = np.empty(0, dtype=np.int64)

    def values_in_order(self) -> Iterator[Any]:
        """Every value, in memory's order while nothing was spilled, else by `order`."""
        if self._store is None:
            yield from list(self.memory.values())
            return
        self._spill(len(self.memory))
        cursor = self._store.execute("SELECT value FROM spill ORDER BY position")
        while rows := cursor.fetchmany(FETCH):
            for (blob,) in rows:
                yield pickle.loads(blob)

    def _position(self, key: Any, value: Any) -> int:
        return self.order(value) if self.order is not None else self._positions.pop(key)

    def _spill(self, count: int) -> None:
        """Move the `count` least recently stored entries to the store."""
        if self._store is None:
            self._store = sqlite3.connect("", isolation_level=None)
            self._store.execute("PRAGMA journal_mode = OFF")
            self._store.execute("PRAGMA synchronous = OFF")
            self._store.execute("CREATE TABLE spill (key BLOB PRIMARY KEY, position INTEGER, "
                                "value BLOB)")
        memory = self.memory
        keys = []
        for key in memory:
            keys.append(key)
            if len(keys) >= count:
                break
        dumps, protocol = pickle.dumps, pickle.HIGHEST_PROTOCOL
        rows = [(dumps(key, protocol), self._position(key, memory[key]),
                 dumps(memory[key], protocol)) for key in keys]
        self._store.execute("BEGIN")
        self._store.executemany("INSERT OR REPLACE INTO spill VALUES (?, ?, ?)", rows)
        self._store.execute("COMMIT")
        hashes = np.sort(np.fromiter((hash(key) for key in keys), dtype=np.int64,
                                     count=len(keys)))
        self._hashes = np.insert(self._hashes, np.searchsorted(self._hashes, hashes), hashes)
        for key in keys:
            del memory[key]

    def _maybe_stored(self, key: Any) -> bool:
        hashes = self._hashes
        wanted = hash(key)
        index = int(np.searchsorted(hashes, wanted))
        return index < len(hashes) and int(hashes[index]) == wanted


__all__ = ["SpillMap"]
