# SPDX-License-Identifier: GPL-2.0-only
"""The command line: gen-patch-series [options] KSRC.

KSRC is a kernel source tree (for example Debian's linux-source-6.1 or
linux-source-7.3, extracted).  It is never modified: a git repository is
cloned, anything else is copied into a temporary git repository.  The
project (its committed state) is applied as separate logical commits laid
out for the tree's kernel version (base.py), with Signed-off-by from git
config, each checked with the tree's own scripts/checkpatch.pl --strict,
and written out with git format-patch --cover-letter.

With --build-check the tree is configured (olddefconfig with --config, or
the running kernel's config, then modules_prepare) and
make M=samples/livepatch CONFIG_SAMPLE_LIVEPATCH=m must succeed after
every patch.  That is slow (minutes).

Exit status: 0 series written and clean, 1 checkpatch errors, a failed
build check or another failure, 2 usage.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from . import assemble, base as basemod, buildcheck, checkpatch, plan
from .checkpatch import CheckResult
from .cover import write_cover
from .proc import PROG, Log, SeriesError, Tree
from .project import Project


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Generate the klp-convert upstream patch series "
                    "for a kernel source tree.")
    p.add_argument("ksrc", type=Path, help="kernel source tree")
    p.add_argument("-o", "--output", type=Path, default=Path("patches"),
                   help="output directory for the series (default: ./patches)")
    p.add_argument("--ref", default="HEAD",
                   help="project commit to take the files from (default: HEAD)")
    p.add_argument("--subject-prefix", default="PATCH")
    p.add_argument("-v", "--reroll-count", type=int, default=0)
    p.add_argument("--no-checkpatch", action="store_true",
                   help="do not run the tree's scripts/checkpatch.pl")
    p.add_argument("--build-check", action="store_true",
                   help="configure the tree and build samples/livepatch "
                        "after every patch (slow)")
    p.add_argument("--config", type=Path,
                   help="kernel .config for --build-check "
                        "(.xz accepted; default: /boot/config-$(uname -r))")
    p.add_argument("--workdir", type=Path,
                   help="build the series here and keep it "
                        "(default: a temporary directory, removed)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--verbose", action="store_true",
                   help="also list the project files left out of the series")
    return p.parse_args(argv)


@dataclass
class Run:
    """What one run works with, and what it found."""

    args: argparse.Namespace
    log: Log
    project: Project
    base: basemod.Base
    layout: basemod.Layout
    sources: plan.Sources
    patches: List[plan.Patch]
    files: List[str]
    checks: List[Tuple[str, CheckResult]] = field(default_factory=list)
    builds: List[Tuple[str, Optional[bool]]] = field(default_factory=list)
    status: int = 0


def find_hook(base: basemod.Base, project: Project) -> str:
    """The project's Kbuild hook patch for the base's generation."""
    gen = base.generation
    for cand in gen.hooks:
        if project.has(cand):
            return cand
    raise SeriesError(f"no Kbuild hook for Linux {base.release} (generation "
                      f"{gen.name}): the project at {project.commit[:12]} has "
                      f"none of {', '.join(gen.hooks)}")


def make_run(args: argparse.Namespace, log: Log) -> Run:
    project = Project(args.ref)
    project.identity()
    if project.dirty() and args.ref == "HEAD":
        log(f"using the committed project ({project.commit[:12]}); "
            "uncommitted changes are not part of the series")
    base = basemod.detect(args.ksrc)
    layout = basemod.layout(base)
    have = ", ".join(base.features) or "none of " + ", ".join(basemod.FEATURES)
    log(f"base: Linux {base.release}, Kbuild generation "
        f"{base.generation.name}; the tree has {have}")
    src = plan.sources(layout)
    patches = plan.series(layout, find_hook(base, project))
    files = plan.selected(project.files(), src)
    for path in project.files():
        if path not in files or plan.owner(path, patches) is None:
            log.detail(f"not part of the series: {path}")
    return Run(args, log, project, base, layout, src, patches, files)


def check_and_build(run: Run, tree: Tree, patch: plan.Patch,
                    scratch: Path) -> None:
    """checkpatch (justifying what it reports) and the build check."""
    if not run.args.no_checkpatch:
        res = checkpatch.check_head(tree, scratch)
        notes = checkpatch.justification_notes(res, patch)
        if notes:
            assemble.commit(tree, patch, (), notes, amend=True)
            res = checkpatch.check_head(tree, scratch)
        run.checks.append((patch.subject, res))
        run.log(f"checkpatch: {res.errors} errors, {res.warnings} warnings, "
                f"{res.checks} checks: {patch.subject}")
        for level, kind, text in res.messages:
            run.log(f"    {level}:{kind}: {text}")
        if res.errors:
            run.status = 1
    if run.args.build_check:
        ok, out = buildcheck.build_sample(tree)
        run.builds.append((patch.subject, ok))
        run.log(f"build: {'ok' if ok else 'FAILED'}: {patch.subject}")
        if not ok:
            sys.stderr.write(out[-4000:])
            run.status = 1


def add_patch(run: Run, tree: Tree, patch: plan.Patch, scratch: Path) -> None:
    """Apply, copy and edit what @patch holds, commit it and check it."""
    touched = assemble.apply_hook(tree, patch, run.project, run.base.release)
    touched += assemble.copy_files(tree, patch, run.files, run.patches,
                                   run.project, run.sources)
    for edit in patch.edits:
        touched += edit(tree.root)
    if not touched:
        run.log(f"skipping empty patch: {patch.subject}")
        return
    assemble.check_forbidden(tree, touched, run.sources)
    assemble.commit(tree, patch, sorted(set(touched)))
    check_and_build(run, tree, patch, scratch)


def prepare(run: Run, work: Path) -> Tree:
    tree = assemble.prepare_tree(run.args.ksrc.resolve(), work, run.log)
    if not run.args.no_checkpatch and \
            not (tree.root / "scripts" / "checkpatch.pl").exists():
        raise SeriesError("scripts/checkpatch.pl not found in the tree "
                          "(use --no-checkpatch)")
    if run.args.build_check:
        config = run.args.config or buildcheck.default_config()
        if config is None:
            raise SeriesError("--build-check needs --config")
        buildcheck.configure(tree, config.resolve(), run.log)
        ok, out = buildcheck.build_sample(tree)
        if not ok:
            raise SeriesError("make M=samples/livepatch fails before the "
                              "series:\n" + out[-2000:])
    return tree


def generate(run: Run, work: Path) -> None:
    tree = prepare(run, work)
    base = tree.git("rev-parse", "HEAD").strip()
    scratch = work / "check"
    scratch.mkdir(exist_ok=True)
    for patch in run.patches:
        add_patch(run, tree, patch, scratch)
    outdir = run.args.output.resolve()
    assemble.format_series(tree, base, outdir, run.args.subject_prefix,
                           run.args.reroll_count)
    desc = assemble.describe_base(tree, base, run.args.ksrc, run.base.release)
    cover = write_cover(outdir, desc, run.checks, run.builds)
    run.log(f"wrote {len(list(outdir.glob('*.patch')))} files to {outdir} "
            f"(cover letter {cover.name})")
    if run.args.workdir is not None:
        run.log(f"kept the tree in {tree.root}")


def workdir(args: argparse.Namespace) -> Path:
    if args.workdir is None:
        return Path(tempfile.mkdtemp(prefix="klp-series."))
    args.workdir.mkdir(parents=True, exist_ok=True)
    work: Path = args.workdir.resolve()
    if (work / "linux").exists():
        raise SeriesError(f"{work / 'linux'} already exists")
    return work


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not args.ksrc.is_dir() or not (args.ksrc / "Makefile").exists():
        print(f"{PROG}: {args.ksrc}: not a kernel source tree", file=sys.stderr)
        return 2
    if args.build_check and not args.config and not buildcheck.default_config():
        print(f"{PROG}: --build-check needs --config", file=sys.stderr)
        return 2
    log = Log(args.quiet, args.verbose)
    try:
        run = make_run(args, log)
        work = workdir(args)
        try:
            generate(run, work)
        finally:
            if args.workdir is None:
                shutil.rmtree(work, ignore_errors=True)
    except SeriesError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return run.status
