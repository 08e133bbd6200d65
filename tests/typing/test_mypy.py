# SPDX-License-Identifier: GPL-2.0-only
"""mypy --strict over the project's Python, with the configuration in the
repository (mypy.ini: the directories it checks, and the one relaxation,
pyelftools' missing type hints) and the mypy pinned in
requirements-dev.txt."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
CONFIG = TOP / "mypy.ini"


def _pinned() -> str:
    text = (TOP / "requirements-dev.txt").read_text()
    m = re.search(r"^mypy==(\S+)", text, re.MULTILINE)
    assert m, "requirements-dev.txt does not pin mypy"
    return m.group(1)


def test_configuration_is_strict():
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG)
    assert cfg.getboolean("mypy", "strict")
    files = [f.strip() for f in cfg.get("mypy", "files").split(",")]
    assert {"scripts/livepatch/klp_convert",
            "contrib/series/klp_series",
            "tools/testing/selftests/livepatch/vmtest_lib"} <= set(files)
    relaxed = [s for s in cfg.sections() if s != "mypy"]
    assert relaxed == ["mypy-elftools.*"]
    assert dict(cfg.items("mypy-elftools.*", raw=True)).keys() - \
        set(cfg.defaults()) == {"ignore_missing_imports"}


def test_mypy_strict_passes():
    try:
        import mypy.version
    except ImportError:
        pytest.fail("mypy is not installed: tests/run installs "
                    "requirements-dev.txt")
    assert mypy.version.__version__ == _pinned(), \
        f"mypy {mypy.version.__version__}, requirements-dev.txt pins " \
        f"{_pinned()}"
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(CONFIG)], cwd=TOP, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Success: no issues found")
