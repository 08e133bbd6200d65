# SPDX-License-Identifier: GPL-2.0-only
"""The cache directory: where it is, locks, and directories made atomically.

Everything vmtest fetches or builds once (apt states, extracted kernel
packages, chroots) lives under one cache directory, by default
/var/cache/klp-convert, overridden by $KLP_CACHE_DIR or --cache-dir.
A cached directory is built under a temporary name and renamed when
complete, so a killed run leaves no half-made entry, only a stale
temporary that the next run removes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from typing import Callable, Iterator, Optional

DEFAULT_CACHE_DIR = "/var/cache/klp-convert"
CACHE_ENV = "KLP_CACHE_DIR"
TMP_PREFIX = ".tmp-"


class CacheError(Exception):
    """The cache directory cannot be used."""


def cache_dir(override: Optional[str] = None) -> str:
    """@override, else $KLP_CACHE_DIR, else /var/cache/klp-convert."""
    path = override or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create the cache directory {path}: {exc}") from exc
    return path


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on @path (a file, created if needed) so that
    two runs do not build the same cache entry at once."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove_stale(parent: str, name: str) -> None:
    """Remove temporaries of @name left by killed runs (the caller holds
    the entry's lock, so none of them is being built)."""
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        if entry.startswith(f"{TMP_PREFIX}{name}."):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def ensure_dir(path: str, build: Callable[[str], None],
               valid: Callable[[str], bool] = os.path.isdir) -> str:
    """Return @path, first calling @build(tmp) to fill a temporary
    directory renamed to @path when @build returns, if @path is missing
    or not @valid (then it is removed first).  Concurrent callers wait for
    each other; a failed or killed @build leaves no @path."""
    if os.path.isdir(path) and valid(path):
        return path
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    with locked(os.path.join(parent, f".{name}.lock")):
        if os.path.isdir(path):
            if valid(path):
                return path
            trash = os.path.join(parent, f"{TMP_PREFIX}{name}.invalid")
            shutil.rmtree(trash, ignore_errors=True)
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        _remove_stale(parent, name)
        tmp = os.path.join(parent, f"{TMP_PREFIX}{name}.{os.getpid()}")
        os.makedirs(tmp)
        try:
            build(tmp)
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return path
