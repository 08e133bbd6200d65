# SPDX-License-Identifier: GPL-2.0-only
"""make M=samples/livepatch after every patch, in a configured tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

from .proc import Log, Tree, run


def default_config() -> Optional[Path]:
    """The running kernel's config, if /boot has it."""
    cand = Path(f"/boot/config-{os.uname().release}")
    return cand if cand.exists() else None


def configure(tree: Tree, config: Path, log: Log) -> None:
    """olddefconfig from @config (.xz accepted), then modules_prepare."""
    log(f"configuring with {config} (olddefconfig, modules_prepare)")
    if config.suffix == ".xz":
        data = run(["xz", "-dc", str(config)]).stdout.encode()
    else:
        data = config.read_bytes()
    (tree.root / ".config").write_bytes(data)
    # distribution certificates and signing keys are not in a source tree
    run([str(tree.root / "scripts" / "config"),
         "--file", str(tree.root / ".config"),
         "--set-str", "SYSTEM_TRUSTED_KEYS", "",
         "--set-str", "SYSTEM_REVOCATION_KEYS", "",
         "--disable", "MODULE_SIG_ALL",
         "--disable", "DEBUG_INFO_BTF_MODULES"], cwd=tree.root)
    jobs = str(os.cpu_count() or 1)
    run(["make", "-s", "olddefconfig"], cwd=tree.root)
    run(["make", "-s", f"-j{jobs}", "modules_prepare"], cwd=tree.root)


def build_sample(tree: Tree) -> Tuple[bool, str]:
    """(success, output) of make M=samples/livepatch."""
    jobs = str(os.cpu_count() or 1)
    proc = run(["make", f"-j{jobs}", "M=samples/livepatch",
                "CONFIG_SAMPLE_LIVEPATCH=m"], cwd=tree.root, check=False)
    return proc.returncode == 0, (proc.stdout or "") + (proc.stderr or "")
