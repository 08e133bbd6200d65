# SPDX-License-Identifier: GPL-2.0-only
"""The command line: usage, --list, exit codes, atomic writes, the
launcher and the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from convert_support import LIVEPATCH, TOP, assemble, run

LAUNCHER = LIVEPATCH / "klp-convert"


def test_usage_errors(capsys):
    assert run([], capsys)[0] == 2
    status, _o, err = run(["a", "b", "c"], capsys)
    assert status == 2 and "too many arguments" in err
    assert run(["--bogus", "x"], capsys)[0] == 2
    assert run(["--list", "--weaken", "x"], capsys)[0] == 2


def test_missing_file(tmp_path, capsys):
    status, _o, err = run([tmp_path / "nope.ko"], capsys)
    assert status == 1
    assert err == f"klp-convert: {tmp_path / 'nope.ko'}: No such file or directory\n"


def test_not_elf(tmp_path, capsys):
    p = tmp_path / "x.ko"
    p.write_text("hello")
    status, _o, err = run([p], capsys)
    assert (status, err) == (1, f"klp-convert: {p}: not an ELF file\n")


def test_list_writes_nothing(fixture_obj, tmp_path, capsys):
    src = fixture_obj("lp_basic.c")
    before = src.read_bytes()
    status, out, err = run(["--list", src], capsys)
    assert status == 0 and not err
    lines = out.splitlines()
    assert lines[0].split() == ["SECTION", "OFFSET", "TYPE", "INTERMEDIATE",
                                "SYMBOL", "LP-OBJ", "FINAL", "SYMBOL"]
    row = next(line.split() for line in lines if "mod_var" in line)
    assert row[0] == ".text.use_data" and row[2] == "R_X86_64_PC32"
    assert row[3:] == [".klp.sym.rela.test_mod.test_mod.mod_var,0", "test_mod",
                       ".klp.sym.test_mod.mod_var,0"]
    assert src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [src.name]
    status, out, _e = run(["--dry-run", src], capsys)
    assert status == 0 and len(out.splitlines()) == len(lines)


def test_verbose_summary(fixture_obj, tmp_path, capsys):
    status, out, _e = run(["-v", fixture_obj("lp_basic.c"), tmp_path / "o.ko"], capsys)
    assert status == 0
    assert "converted 8 symbols (1 merged)" in out and ".klp.rela sections" in out


def test_failure_mid_write_leaves_nothing(fixture_obj, tmp_path, monkeypatch, capsys):
    src = fixture_obj("lp_basic.c")
    before = src.read_bytes()

    def broken_replace(a, b):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    out = tmp_path / "o.ko"
    status, _o, err = run([src, out], capsys)
    assert status == 1 and "No space left on device" in err
    assert not out.exists()
    status, _o, _e = run([src], capsys)
    assert status == 1 and src.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if ".klp.tmp" in p]


def test_launcher_with_plain_python(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    r = subprocess.run([sys.executable, str(LAUNCHER), str(src), str(tmp_path / "o.ko")],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(LAUNCHER), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2


def test_console_script(fixture_obj, tmp_path):
    """`pip install` of the project gives a working klp-convert command."""
    # build from a copy: setuptools writes build/ and *.egg-info beside the
    # sources, which must not touch the checkout (or race other tests)
    import shutil
    proj = tmp_path / "proj"
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TOP / name, proj / name)
    shutil.copytree(TOP / "scripts" / "livepatch" / "klp_convert",
                    proj / "scripts" / "livepatch" / "klp_convert",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # Install with the test interpreter itself: requirements-dev.txt gives it
    # setuptools and wheel.  A venv made from it with --system-site-packages
    # would see the base interpreter's packages instead, which need not
    # have wheel.
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--target", str(target),
                        str(proj)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    script = target / "bin" / "klp-convert"
    assert script.is_file(), sorted(p.name for p in target.iterdir())
    src = fixture_obj("lp_basic.c")
    r = subprocess.run([str(script), "-v", str(src), str(tmp_path / "o.ko")],
                       capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(target)}, cwd="/")
    assert r.returncode == 0, r.stderr
    assert "converted 8 symbols" in r.stdout


def test_quiet_and_nothing_to_do(fixture_obj, tmp_path, capsys):
    src = fixture_obj("lp_basic.c")
    status, out, err = run(["-q", src, tmp_path / "o.ko"], capsys)
    assert (status, out, err) == (0, "", "")
    plain = fixture_obj("plain.c")
    status, out, err = run(["--list", plain], capsys)
    assert status == 0 and not err
    assert not [line for line in out.splitlines()[1:] if ".klp.sym" in line]


def test_list_already_converted(fixture_obj, tmp_path, capsys):
    out = tmp_path / "o.ko"
    assert run([fixture_obj("lp_basic.c"), out], capsys)[0] == 0
    data = out.read_bytes()
    status, text, err = run(["--list", out], capsys)
    assert status == 0 and not err and ".klp.sym.rela." not in text
    assert out.read_bytes() == data


def test_weaken_several_objects(fixture_obj, tmp_path, capsys):
    a, b, c = fixture_obj("lp_basic.c"), fixture_obj("lp_more.c"), fixture_obj("plain.c")
    os.utime(c, ns=(10**18, 10**18))
    plain = c.read_bytes()
    status, _o, err = run(["--weaken", a, b, c], capsys)
    assert status == 0, err
    from elfcheck import Elf
    for p in (a, b):
        inter = [s for s in Elf(p.read_bytes()).symbols
                 if s.name.startswith(".klp.sym.rela.")]
        assert inter and all(s.bind == 2 for s in inter)
    assert c.read_bytes() == plain and os.stat(c).st_mtime_ns == 10**18
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (a, b, c))


def test_output_directory_missing(fixture_obj, tmp_path, capsys):
    src = fixture_obj("lp_basic.c")
    out = tmp_path / "no" / "such" / "o.ko"
    status, _o, err = run([src, out], capsys)
    assert status == 1 and err.startswith("klp-convert: ") and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("victim", ["fsync", "chmod"])
def test_failure_during_write_leaves_no_temp(victim, fixture_obj, tmp_path,
                                             monkeypatch, capsys):
    """The writer fails after creating the temporary file: no OUTPUT, no
    .<name>.klp.tmp left behind, input untouched (in place too)."""
    src = fixture_obj("lp_basic.c")
    before = src.read_bytes()
    real = getattr(os, victim)
    calls = []

    def broken(fd, *args):
        calls.append(fd)
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, victim, broken)
    out = tmp_path / "o.ko"
    status, _o, err = run([src, out], capsys)
    monkeypatch.setattr(os, victim, real)
    if not calls:
        pytest.fail(f"the writer does not call os.{victim}: adapt the test")
    assert status == 1 and "Input/output error" in err
    assert err.startswith("klp-convert: ")
    assert not out.exists()
    monkeypatch.setattr(os, victim, broken)
    status, _o, _e = run([src], capsys)
    monkeypatch.setattr(os, victim, real)
    assert status == 1 and src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [src.name]


def test_in_place_through_symlink(fixture_obj, tmp_path, capsys):
    """In place through a symbolic link: like scripts/sign-file (temporary
    file renamed over the path), the link is replaced by the converted
    module and the file it pointed to is left untouched."""
    src = fixture_obj("lp_basic.c")
    before = src.read_bytes()
    ref = tmp_path / "ref.ko"
    assert run([src, ref], capsys)[0] == 0
    link = tmp_path / "link.ko"
    link.symlink_to(src.name)
    assert run([link], capsys)[0] == 0
    assert not link.is_symlink() and link.read_bytes() == ref.read_bytes()
    assert src.read_bytes() == before


def test_launcher_help_is_fast_and_lean(tmp_path):
    r = subprocess.run([sys.executable, "-X", "importtime", str(LAUNCHER), "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "usage: klp-convert" in r.stdout
    assert "elftools" not in r.stderr, "pyelftools imported for --help"


def test_conversion_imports_no_typing(fixture_obj, tmp_path):
    """A conversion (the path every livepatch build takes) does not pay
    for importing typing (about 2 ms; annotations are strings, the
    named tuples come from collections)."""
    out = tmp_path / "out.ko"
    r = subprocess.run([sys.executable, "-X", "importtime", str(LAUNCHER),
                        str(fixture_obj("lp_basic.c")), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and out.exists(), r.stderr
    imported = {line.rsplit("|", 1)[-1].strip()
                for line in r.stderr.splitlines() if "|" in line}
    assert "klp_convert.convert" in imported
    assert not imported & {"typing", "tempfile", "dataclasses"}, imported


LIST_ASM = """
.section .modinfo,"a"
.asciz "livepatch=Y"
.globl ".klp.sym.rela.vmlinux.vmlinux.unused,0"
.text
.globl f
f:
    ret
.section .debug_info,"",@progbits
    .quad ".klp.sym.rela.vmlinux.vmlinux.debug_only,0"
    .quad f
"""


def test_list_agrees_with_the_conversion(tmp_path, capsys):
    """Intermediate symbols that no relocation uses, or only debug
    information: the conversion converts them, so --list lists them."""
    from elfcheck import SHN_LIVEPATCH, Elf
    src = assemble(LIST_ASM, tmp_path / "m.o")
    status, out, err = run(["--list", src], capsys)
    assert status == 0 and not err
    assert "no intermediate klp symbols" not in out
    rows = [line.split() for line in out.splitlines()[1:]]
    listed = {r[-1] for r in rows}
    assert listed == {".klp.sym.vmlinux.unused,0", ".klp.sym.vmlinux.debug_only,0"}
    assert all(r[:3] == ["-", "-", "-"] for r in rows)
    status, out, _e = run(["-v", src, tmp_path / "m.ko"], capsys)
    assert status == 0 and "converted 2 symbols" in out
    converted = {s.name for s in Elf((tmp_path / "m.ko").read_bytes()).symbols
                 if s.shndx == SHN_LIVEPATCH}
    assert converted == listed
