# SPDX-License-Identifier: GPL-2.0-only
"""The build check: configure the tree once (olddefconfig, then
modules_prepare, then the kernel's Module.symvers if given), then build
the livepatch sample and the selftest modules after every patch.

Every make runs as  PREFIX... make -jN ARGS  in the tree's top directory:
PREFIX (--make-prefix) runs it where the kernel's compiler is, for
example  vmtest --suite trixie-backports --run  for a 7.x tree on a
bookworm host (the current directory is visible there); no prefix runs
the host's make."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .proc import Log, SeriesError, Tree, run

SAMPLES = "samples/livepatch"
# a quiet Kbuild line per module that klp-convert converted
_KLP_LINE = re.compile(r"^\s*KLP \[M\]\s+(\S+\.ko)", re.MULTILINE)


def default_config() -> Optional[Path]:
    """The running kernel's config, if /boot has it."""
    cand = Path(f"/boot/config-{os.uname().release}")
    return cand if cand.exists() else None


@dataclass
class Build:
    """The outcome of one make of one directory."""

    target: str                     # the M= directory
    ok: bool
    converted: List[str] = field(default_factory=list)   # KLP [M] modules
    output: str = ""


class Builder:
    """make in @tree, through @prefix, with @jobs jobs."""

    def __init__(self, tree: Tree, prefix: Sequence[str], jobs: int,
                 log: Log, symvers: Optional[Path] = None) -> None:
        self.tree = tree
        self.prefix = list(prefix)
        self.jobs = jobs
        self.log = log
        self.symvers = symvers

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [*self.prefix, "make", f"-j{self.jobs}", *args]
        try:
            return subprocess.run(cmd, cwd=self.tree.root, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        except OSError as exc:
            raise SeriesError(f"{' '.join(cmd)}: {exc.strerror}") from exc

    def configure(self, config: Path) -> None:
        """olddefconfig from @config (.xz accepted), then modules_prepare."""
        self.log(f"configuring with {config} (olddefconfig, modules_prepare"
                 f"{', make through ' + ' '.join(self.prefix) if self.prefix else ''})")
        if config.suffix == ".xz":
            data = run(["xz", "-dc", str(config)]).stdout.encode()
        else:
            data = config.read_bytes()
        root = self.tree.root
        (root / ".config").write_bytes(data)
        # distribution certificates and signing keys are not in a source
        # tree.  Everything else stays as configured: an option such as
        # DEBUG_INFO_BTF_MODULES changes struct module, and the modules
        # built here must load in the kernel the config belongs to.
        run([str(root / "scripts" / "config"), "--file", str(root / ".config"),
             "--set-str", "SYSTEM_TRUSTED_KEYS", "",
             "--set-str", "SYSTEM_REVOCATION_KEYS", "",
             "--disable", "MODULE_SIG_ALL"], cwd=root)
        for target in ("olddefconfig", "modules_prepare"):
            proc = self.make("-s", target)
            if proc.returncode:
                raise SeriesError(f"make {target} failed:\n"
                                  + proc.stdout[-3000:])
        # the kernel's exported symbols, as a full build would have them
        if self.symvers is not None:
            (root / "Module.symvers").write_bytes(self.symvers.read_bytes())

    def build(self, target: str) -> Build:
        """make M=@target (the samples with CONFIG_SAMPLE_LIVEPATCH=m)."""
        args = [f"M={target}"]
        if self.symvers is None:
            # no Module.symvers: modpost cannot know the kernel's symbols
            args.append("KBUILD_MODPOST_WARN=1")
        if target == SAMPLES:
            args.append("CONFIG_SAMPLE_LIVEPATCH=m")
        proc = self.make(*args)
        return Build(target, proc.returncode == 0,
                     _KLP_LINE.findall(proc.stdout), proc.stdout)

    def build_all(self, targets: Sequence[str]) -> List[Build]:
        """Build each of @targets the tree has."""
        return [self.build(t) for t in targets
                if (self.tree.root / t).is_dir()]


def klp_relocations(tree: Tree, target: str) -> Dict[str, int]:
    """The number of livepatch relocations (in .klp.rela.* sections) of
    each module in @target that has any."""
    counts: Dict[str, int] = {}
    for path in sorted((tree.root / target).glob("*.ko")):
        out = run(["readelf", "-W", "-r", str(path)], check=False).stdout
        n = sum(int(k) for k in re.findall(
            r"^Relocation section '\.klp\.rela\.[^']*' at offset \S+ "
            r"contains (\d+) entr", out, re.MULTILINE))
        if n:
            counts[path.name] = n
    return counts


def compiler(tree: Tree) -> str:
    """The compiler the tree was configured with (CONFIG_CC_VERSION_TEXT)."""
    try:
        text = (tree.root / ".config").read_text(encoding="utf-8")
    except OSError:
        return ""
    m = re.search(r'^CONFIG_CC_VERSION_TEXT="(.*)"$', text, re.MULTILINE)
    return m.group(1) if m else ""
