"""Storages for studies: in memory (default) or a SQLite file (``"sqlite:///study.db"``)."""

from __future__ import annotations

from .base import BaseStorage, CorruptedStorageError, DuplicatedStudyError
from .memory import InMemoryStorage
from .sqlite import SQLiteStorage

__all__ = ["BaseStorage", "CorruptedStorageError", "DuplicatedStudyError", "InMemoryStorage",
           "SQLiteStorage", "get_storage"]


def get_storage(storage: None | str | BaseStorage) -> BaseStorage:
    """``None`` -> in memory; ``"sqlite:///relative.db"`` or ``"sqlite:////abs/path.db"``."""
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, BaseStorage):
        return storage
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        path = storage[len("sqlite:///"):]
        if not path:
            raise ValueError(f"storage URL {storage!r} has no file path")
        return SQLiteStorage(path)
    raise ValueError(
        f"unsupported storage {storage!r}: use None (in memory), 'sqlite:///path.db' "
        "or a BaseStorage instance"
    )
