# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for the symbol verification tests: Debian's real symbol
tables (see debian_symbols.py); a test that needs them fails with the reason
when they cannot be produced."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import debian_symbols as debian  # noqa: E402


def _real(func, *args):
    try:
        return func(*args)
    except debian.RealDataError as exc:
        pytest.fail(f"real Debian symbol data unavailable: {exc}")


@pytest.fixture(scope="session")
def release() -> str:
    return _real(debian.release)


@pytest.fixture(scope="session")
def moddir(release) -> Path:
    return _real(debian.moddir, release)


@pytest.fixture(scope="session")
def kallsyms(release):
    """(real dump, dump with hidden addresses) of the booted kernel."""
    return _real(debian.kallsyms, release)


@pytest.fixture(scope="session")
def dbg(release):
    """(System.map, vmlinux) of the -dbg package."""
    return _real(debian.dbg, release)
