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
make M=samples/livepatch CONFIG_SAMPLE_LIVEPATCH=m and make M=<the
selftest modules> must succeed before the series and after every patch
(buildcheck.py; --make-prefix runs make where the kernel's compiler is).
--run-selftests then runs the series' selftests from the tree
(selftestrun.py).  The cover letter reports what was checked, with the
figures of this run.  That is slow (minutes).

Exit status: 0 series written and clean, 1 checkpatch errors, a failed
build check or another failure, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from . import assemble, base as basemod, buildcheck, checkpatch, merge, plan
from .cover import Findings, write_cover
from .proc import PROG, Log, SeriesError, Tree
from .project import Project
from .selftestrun import run_selftests


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
    p.add_argument("--symvers", type=Path, metavar="FILE",
                   help="with --build-check: the Module.symvers of the "
                        "kernel --config belongs to (a headers package has "
                        "it), for modpost; without it modpost only warns "
                        "about unresolved symbols")
    p.add_argument("--make-prefix", default="", metavar="CMD",
                   help="with --build-check: run every make as 'CMD make "
                        "...' in the tree, e.g. 'tools/testing/selftests/"
                        "livepatch/vmtest --suite trixie-backports --run' "
                        "(default: the host's make)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="make -j for --build-check (default: the CPUs)")
    p.add_argument("--run-selftests", metavar="CMD",
                   help="with --build-check: after the last patch run CMD, "
                        "which prints kselftest TAP; {dir} in CMD is the "
                        "series' selftest directory, {tests} the scripts "
                        "the series adds (see selftestrun.py)")
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
    findings: Findings = field(default_factory=lambda: Findings(""))
    builder: Optional[buildcheck.Builder] = None
    status: int = 0

    @property
    def build_targets(self) -> Tuple[str, ...]:
        suite = plan.SELFTESTS if self.layout.selftests_in_place \
            else plan.SUITE_DIR
        return (buildcheck.SAMPLES, suite + "test_modules")


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
        run.findings.checks.append((patch.subject, res))
        run.log(f"checkpatch: {res.errors} errors, {res.warnings} warnings, "
                f"{res.checks} checks: {patch.subject}")
        for level, kind, text in res.messages:
            run.log(f"    {level}:{kind}: {text}")
        if res.errors:
            run.status = 1
    if run.builder is not None:
        builds = run.builder.build_all(run.build_targets)
        run.findings.builds.append((patch.subject, builds))
        for b in builds:
            run.log(f"build: {'ok' if b.ok else 'FAILED'}: M={b.target}, "
                    f"{len(b.converted)} converted: {patch.subject}")
            if not b.ok:
                sys.stderr.write(b.output[-4000:])
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
        prefix = shlex.split(run.args.make_prefix)
        run.builder = buildcheck.Builder(tree, prefix, run.args.jobs, run.log,
                                         run.args.symvers)
        run.builder.configure(config.resolve())
        run.findings.make = [*prefix, "make"]
        run.findings.compiler = buildcheck.compiler(tree)
        for b in run.builder.build_all(run.build_targets):
            if not b.ok:
                raise SeriesError(f"make M={b.target} fails before the "
                                  "series:\n" + b.output[-2000:])
    return tree


def selftests(run: Run, tree: Tree) -> None:
    """--run-selftests: the series' selftests from its tree."""
    suite = plan.SELFTESTS if run.layout.selftests_in_place else plan.SUITE_DIR
    makefile = run.project.blob(plan.SELFTESTS + "Makefile").decode()
    tests = merge.list_items("TEST_PROGS", makefile)
    run.log(f"running the selftests of the series: {', '.join(tests)}")
    result = run_selftests(run.args.run_selftests, tree.root / suite, tests)
    run.log(f"selftests: ran {shlex.join(result.command)}")
    run.findings.selftests = result
    run.log(f"selftests: {len(result.passed)} passed, {len(result.failed)} "
            f"failed, exit status {result.returncode} "
            f"({result.seconds:.0f} s)")
    if not result.ok:
        sys.stderr.write(result.output[-6000:])
        run.status = 1


def generate(run: Run, work: Path) -> None:
    tree = prepare(run, work)
    base = tree.git("rev-parse", "HEAD").strip()
    scratch = work / "check"
    scratch.mkdir(exist_ok=True)
    for patch in run.patches:
        add_patch(run, tree, patch, scratch)
    if run.builder is not None:
        for target in run.build_targets:
            run.findings.relocations.update(
                buildcheck.klp_relocations(tree, target))
    if run.args.run_selftests:
        run.findings.selftest_command = run.args.run_selftests
        selftests(run, tree)
    outdir = run.args.output.resolve()
    assemble.format_series(tree, base, outdir, run.args.subject_prefix,
                           run.args.reroll_count)
    run.findings.base = assemble.describe_base(tree, base, run.args.ksrc,
                                               run.base.release)
    run.findings.klp_build = run.base.has("objtool_klp")
    cover = write_cover(outdir, run.findings)
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
    if (args.make_prefix or args.run_selftests or args.symvers) and \
            not args.build_check:
        print(f"{PROG}: --make-prefix, --symvers and --run-selftests need "
              "--build-check", file=sys.stderr)
        return 2
    if args.symvers and not args.symvers.is_file():
        print(f"{PROG}: --symvers {args.symvers}: no such file",
              file=sys.stderr)
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
