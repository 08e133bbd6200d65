# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert and mainline's "objtool klp post-link" (Linux 6.19+) leave
each other's output alone.

- A module converted by klp-convert goes through objtool klp post-link
  byte for byte: post-link only acts on __klp_relocs.<obj> sections, and
  libelf's rewrite of an unchanged file is identical because klp-convert
  lays the file out as libelf does (sections in index order at their
  alignment, section headers last).
- A module finished by objtool klp post-link goes through klp-convert byte
  for byte: it has SHN_LIVEPATCH symbols and .klp.rela sections but no
  intermediate .klp.sym.rela.* symbol, so klp-convert does not rewrite it.
- klp-build's module build never starts klp-convert: the Kbuild hook only
  picks objects that contain ".klp.sym.rela.", and "objtool klp diff"
  output does not.

The objtool side is real: objtool from the 7.x tree, "klp checksum" and
"klp diff" of two builds of a small module (a module-level diff needs no
kernel build; only vmlinux.o diffs need the original vmlinux), linked with
ld -r and an init object the way klp-build links its module, then
"klp post-link".  Only Kbuild's module link itself is left out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

import linux7

TOP = Path(__file__).resolve().parents[2]
KLP_CONVERT = TOP / "scripts" / "livepatch" / "klp-convert"
KLP_HEADERS = TOP / "contrib" / "klp-headers"
FIX = Path(__file__).resolve().parent / "fixtures" / "objtool"
CFLAGS = ["-O2", "-g", "-ffunction-sections", "-fdata-sections",
          "-mcmodel=kernel", "-fno-pic", "-fno-PIE", "-mno-red-zone",
          "-fno-asynchronous-unwind-tables", "-fno-stack-protector",
          "-pg", "-mfentry", "-I", str(TOP / "scripts" / "livepatch" / "include")]


@pytest.fixture(scope="session")
def objtool() -> Path:
    try:
        return linux7.objtool()
    except linux7.Missing as exc:
        pytest.fail(str(exc))


def sh(*cmd: str, cwd: Optional[Path] = None) -> str:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stdout}{proc.stderr}"
    return proc.stdout + proc.stderr


def compile_c(src: Path, obj: Path) -> Path:
    sh("gcc", *CFLAGS, "-c", str(src), "-o", str(obj))
    return obj


def sections(ko: Path) -> List[str]:
    out = sh("readelf", "-SW", str(ko))
    return re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.MULTILINE)


def livepatch_symbols(ko: Path) -> List[str]:
    """Names of the SHN_LIVEPATCH (0xff20) symbols."""
    out = sh("readelf", "-sW", str(ko))
    return re.findall(r"OS \[0xff20\]\s+(\S+)$", out, re.MULTILINE)


def klp_convert(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(KLP_CONVERT), *args],
                          capture_output=True, text=True)


def post_link(objtool: Path, ko: Path, out: Path) -> bytes:
    shutil.copyfile(ko, out)
    sh(str(objtool), "klp", "post-link", str(out))
    return out.read_bytes()


def converted_module(tmp_path: Path) -> Path:
    ko = tmp_path / "lp.ko"
    sh("ld", "-r", str(compile_c(FIX / "lp.c", tmp_path / "lp.o")), "-o", str(ko))
    proc = klp_convert(str(ko))
    assert proc.returncode == 0, proc.stderr
    return ko


def objtool_diff(objtool: Path, tmp_path: Path) -> Path:
    """'objtool klp diff' of the original and patched demo.o."""
    src = (FIX / "demo.c").read_text()
    patched = src.replace("counter += x;", "counter += 2 * x;")
    assert patched != src
    objs = []
    for side, text in (("orig", src), ("patched", patched)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "demo.c").write_text(text)
        obj = compile_c(tmp_path / side / "demo.c", tmp_path / side / "demo.o")
        sh(str(objtool), "klp", "checksum", str(obj))
        objs.append(str(obj))
    (tmp_path / "Module.symvers").write_text(
        "0x00000000\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n")
    out = tmp_path / "diff.o"
    sh(str(objtool), "klp", "diff", *objs, str(out), cwd=tmp_path)
    return out


def objtool_module(objtool: Path, tmp_path: Path) -> Path:
    """The module klp-build links from the diff, before post-link."""
    diff = objtool_diff(objtool, tmp_path)
    init = compile_c(FIX / "init.c", tmp_path / "init.o")
    ko = tmp_path / "demo_lp.ko"
    sh("ld", "-r", str(init), str(diff), "-o", str(ko))
    return ko


def test_converted_module_passes_objtool_post_link(objtool, tmp_path) -> None:
    ko = converted_module(tmp_path)
    assert {".klp.rela.vmlinux..text.lp_read", ".klp.rela.demo..text.lp_read",
            ".klp.rela.vmlinux..rodata.lp_ptrs",
            ".klp.rela.vmlinux..data.lp_data"} <= set(sections(ko))
    assert ".klp.sym.demo.counter,1" in livepatch_symbols(ko)
    before = ko.read_bytes()
    assert post_link(objtool, ko, tmp_path / "after.ko") == before


def test_objtool_module_passes_klp_convert(objtool, tmp_path) -> None:
    ko = objtool_module(objtool, tmp_path)
    assert "__klp_relocs.demo" in sections(ko)
    done = tmp_path / "done.ko"
    data = post_link(objtool, ko, done)
    # post-link did its work: a klp relocation section and livepatch symbols
    assert ".klp.rela.demo..text.demo_bump" in sections(done)
    assert ".klp.sym.demo.counter,0" in livepatch_symbols(done)
    listed = klp_convert("--list", str(done))
    assert listed.returncode == 0, listed.stderr
    assert "no intermediate klp symbols" in listed.stdout + listed.stderr
    proc = klp_convert(str(done))
    assert proc.returncode == 0, proc.stderr
    assert done.read_bytes() == data
    proc = klp_convert(str(done), str(tmp_path / "copy.ko"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "copy.ko").read_bytes() == data


def test_hook_does_not_select_objtool_objects(objtool, tmp_path) -> None:
    """Makefile.klp selects objects with grep -l -F .klp.sym.rela.; objtool's
    diff output must not match, so klp-build's module build never runs
    klp-convert on a module post-link has not finished yet."""
    diff = objtool_diff(objtool, tmp_path)
    data = diff.read_bytes()
    assert b".klp.sym.demo.counter,0" in data
    assert b".klp.sym.rela." not in data
    hook = (TOP / "scripts" / "livepatch" / "Makefile.klp").read_text()
    assert ".klp.sym.rela." in hook


@pytest.mark.slow
def test_kbuild_sample_passes_objtool_post_link(objtool, tmp_path) -> None:
    """The sample livepatch as the Kbuild hook converts it (Debian's headers,
    through contrib/klp-headers): a real .ko with modinfo, versions and
    .gnu.linkonce.this_module."""
    proc = subprocess.run([str(KLP_HEADERS), str(tmp_path / "kdir")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kdir = proc.stdout.strip().splitlines()[-1]
    mdir = tmp_path / "sample"
    shutil.copytree(TOP / "samples" / "livepatch", mdir)
    build = sh("make", "-j2", "-C", kdir, f"M={mdir}", "CONFIG_SAMPLE_LIVEPATCH=m")
    assert "KLP [M]" in build
    ko = mdir / "livepatch-klp-convert.ko"
    assert any(s.startswith(".klp.rela.vmlinux.") for s in sections(ko))
    before = ko.read_bytes()
    assert post_link(objtool, ko, tmp_path / "after.ko") == before
