# SPDX-License-Identifier: GPL-2.0-only
"""The temporary git tree: project files in, one commit per patch,
git format-patch out.  The tree given by the user is never modified."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Collection, List, Optional, Sequence, Tuple

from .plan import BLOCKS, Patch, Sources, owner
from .proc import PROG, Log, SeriesError, Tree, run
from .project import Project

_CODE = re.compile(r"(\.[ch]|/Makefile|/Kbuild|^Makefile|^Kbuild)$")


def prepare_tree(ksrc: Path, work: Path, log: Log) -> Tree:
    """A git clone of @ksrc if it is a git work tree, else a copy of it
    committed as 'base: <name>'."""
    top = run(["git", "rev-parse", "--show-toplevel"], cwd=ksrc,
              check=False).stdout.strip()
    dest = work / "linux"
    if top and Path(top).resolve() == ksrc.resolve():
        log(f"cloning {ksrc}")
        run(["git", "clone", "-q", "--shared", str(ksrc), str(dest)])
        tree = Tree(dest)
        tree.git("checkout", "-q", "-B", "klp-convert")
        return tree
    log(f"copying {ksrc} into a temporary git repository")
    run(["cp", "-a", "--reflink=auto", str(ksrc), str(dest)])
    tree = Tree(dest)
    tree.git("init", "-q", "-b", "klp-convert")
    tree.git("add", "-A", "-f", ".")
    tree.git("-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
             "-m", f"base: {ksrc.name}")
    return tree


def describe_base(tree: Tree, base: str, ksrc: Path, release: str) -> str:
    """'Linux 6.1.158 (linux-source-6.1)' or with the git description."""
    what = f"Linux {release}"
    if tree.git("log", "-1", "--format=%s", base).strip().startswith("base: "):
        return f"{what} ({ksrc.resolve().name})"
    described = tree.git("describe", "--tags", base, check=False).strip()
    if described:
        return f"{what} ({described})"
    return f"{what} ({ksrc.resolve().name}, git {base[:12]})"


def apply_hook(tree: Tree, patch: Patch, project: Project,
               release: str) -> List[str]:
    """Apply the patch's Kbuild hook exactly (no fuzz) or refuse."""
    if patch.hook is None:
        return []
    data = project.blob(patch.hook).decode("utf-8")
    files = re.findall(r"^\+\+\+ b/(\S+)", data, re.MULTILINE)
    proc = run(["patch", "-p1", "--forward", "--fuzz=0",
                "--no-backup-if-mismatch", "-r", "-"], cwd=tree.root,
               check=False, stdin=data)
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or ["?"])[-1]
        raise SeriesError(f"{patch.hook} does not apply to Linux {release}: "
                          f"{last}")
    return files


def _marker(line: str) -> Optional[Tuple[str, bool]]:
    """(kind, is_begin) of a block marker line, None for other lines."""
    for kind in BLOCKS:
        for word, begin in (("begin", True), ("end", False)):
            if line.strip() == f".. {kind} {word}":
                return kind, begin
    return None


def marked_blocks(text: str, drop: Collection[str]) -> str:
    """@text without its block marker lines, and without the blocks whose
    kind is in @drop (plan.BLOCKS)."""
    out: List[str] = []
    inside: Optional[str] = None
    squeeze = False
    for line in text.splitlines(keepends=True):
        mark = _marker(line)
        if mark:
            kind, begin = mark
            if begin == (inside is not None) or (not begin and inside != kind):
                raise SeriesError(f"unbalanced '{line.strip()}'")
            inside = kind if begin else None
            # the empty line after a marker goes with it
            squeeze = not out or not out[-1].strip()
        elif not (inside is not None and inside in drop) and not (squeeze and not line.strip()):
            out.append(line)
            squeeze = False
    if inside:
        raise SeriesError(f"'.. {inside} begin' without '.. {inside} end'")
    # a block dropped at the end leaves no blank line at the end of file
    text = "".join(out)
    return text.rstrip("\n") + "\n" if text.strip() else text


def transform(rel: str, data: bytes, patch: Patch, src: Sources) -> bytes:
    """The project file's text as it goes into the tree at @rel."""
    for old, new in patch.rewrites.get(rel, []):
        data = data.replace(old.encode(), new.encode())
    if rel.endswith(".rst") and any(f".. {k} begin".encode() in data
                                    for k in BLOCKS):
        try:
            text = marked_blocks(data.decode("utf-8"), src.drop_blocks)
        except SeriesError as exc:
            raise SeriesError(f"{rel}: {exc}") from exc
        data = text.encode("utf-8")
    if not src.drop_lines and not src.replace:
        return data
    text = data.decode("utf-8")
    if _CODE.search(rel):
        lines = text.splitlines(keepends=True)
        text = "".join(line for line in lines
                       if not any(rx.search(line.rstrip("\n"))
                                  for rx in src.drop_lines))
    for old, new in src.replace:
        text = text.replace(old, new)
    return text.encode("utf-8")


def _place(tree: Tree, rel: str, path: str, data: bytes, patch: Patch,
           project: Project) -> bool:
    """Write @data to @rel in the tree, merged with the kernel's file if
    there is one; False if the tree already has it."""
    dest = tree.root / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(project.mode(path))
        return True
    if dest.read_bytes() == data:
        return False
    theirs = dest.read_text(encoding="utf-8")
    merge = patch.merger_for(rel)
    if merge is None:
        raise SeriesError(f"{rel} exists in the kernel tree and differs from "
                          f"the project's {path}; add a merge rule for it to "
                          f"{PROG}")
    try:
        merged = merge(theirs, data.decode("utf-8"))
    except SeriesError as exc:
        raise SeriesError(f"{rel}: {exc}") from exc
    if merged == theirs:
        return False
    dest.write_text(merged, encoding="utf-8")
    return True


def copy_files(tree: Tree, patch: Patch, files: Sequence[str],
               patches: Sequence[Patch], project: Project,
               src: Sources) -> List[str]:
    touched: List[str] = []
    for path in files:
        if owner(path, patches) != patch.key:
            continue
        rel = patch.dest(path)
        data = transform(rel, project.blob(path), patch, src)
        if _place(tree, rel, path, data, patch, project):
            touched.append(rel)
    return touched


def check_forbidden(tree: Tree, touched: Sequence[str], src: Sources) -> None:
    """Refuse a series that still names what this layout replaces."""
    for rel in touched:
        lines = (tree.root / rel).read_text(encoding="utf-8").splitlines()
        for no, line in enumerate(lines, 1):
            hit = next((f for f in src.forbidden if f in line), None)
            if hit:
                raise SeriesError(f"{rel}:{no}: '{hit}' has no place in a "
                                  f"series on this kernel: {line.strip()}")


def _message(patch: Patch, notes: Sequence[str]) -> str:
    message = f"{patch.subject}\n\n{patch.body}\n"
    if notes:
        message += "\n" + "\n\n".join(notes) + "\n"
    return message


def commit(tree: Tree, patch: Patch, touched: Sequence[str],
           notes: Sequence[str] = (), amend: bool = False) -> None:
    """Commit @touched (or amend the message), signed off by the user."""
    if not amend:
        tree.git("add", "-f", "--", *touched)
    tree.git("-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
             *(["--amend"] if amend else []), "-s", "-F", "-",
             stdin=_message(patch, notes))


def format_series(tree: Tree, base: str, outdir: Path, prefix: str,
                  reroll: int) -> None:
    """git format-patch base..HEAD into @outdir, old patches removed."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.patch"):
        old.unlink()
    cmd = ["format-patch", "-q", "--cover-letter", "--thread=shallow",
           f"--subject-prefix={prefix}", "-o", str(outdir)]
    if reroll:
        cmd.append(f"--reroll-count={reroll}")
    tree.git(*cmd, f"{base}..HEAD")
