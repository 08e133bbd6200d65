# SPDX-License-Identifier: GPL-2.0-only
"""tests/series: fixtures shared by the series tests."""

from __future__ import annotations

import os
from typing import Dict

import pytest


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
