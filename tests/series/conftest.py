# SPDX-License-Identifier: GPL-2.0-only
"""tests/series: the end-to-end run on mainline 7.x (test_series_7.py) is
prepared but not yet required: it runs only with KLP_SERIES_7=1, until the
7.x Kbuild hook and the 7.x build environment are in the project."""

from __future__ import annotations

import os
from typing import Dict, List

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "series7: end-to-end 7.x series run, only with KLP_SERIES_7=1")


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: List[pytest.Item]) -> None:
    if os.environ.get("KLP_SERIES_7") == "1":
        return
    keep = [i for i in items if i.get_closest_marker("series7") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(
            items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="module")
def git_env(tmp_path_factory) -> Dict[str, str]:
    """An identity for commits even on a machine without git config."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Author\n\temail = test@example.org\n"
        "[init]\n\tdefaultBranch = master\n")
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    env.pop("GIT_DIR", None)
    return env
