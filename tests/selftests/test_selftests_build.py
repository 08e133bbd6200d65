# SPDX-License-Identifier: GPL-2.0-only
"""Host-side checks of the klp-convert livepatch selftests.

- the kselftest scripts parse, are executable, and are listed in TEST_PROGS;
- functions.sh's kallsyms_addr() counts symbol positions the way the kernel
  does (checked on a made-up /proc/kallsyms);
- test_modules/ builds through the Kbuild hook into converted livepatch
  modules (no intermediate symbol left, the expected .klp.rela sections and
  SHN_LIVEPATCH symbols);
- every build_fail/ module stops the build with klp-convert's message;
  those that need the target's symbols (KLP_SYMBOLS, refused by vmtest
  against each booted kernel) build without them, unverified.

The build tests need Debian's linux-headers-*-amd64 and
contrib/klp-headers; they fail without them.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parents[2]
SELFTESTS = ROOT / "tools" / "testing" / "selftests" / "livepatch"
TEST_MODULES = SELFTESTS / "test_modules"
BUILD_FAIL = TEST_MODULES / "build_fail"
KLP_HEADERS = ROOT / "contrib" / "klp-headers"

SHN_LIVEPATCH = 0xFF20
SHF_RELA_LIVEPATCH = 0x00100000

# What each livepatch test module must contain after conversion.
EXPECTED_SECTIONS: Dict[str, Set[str]] = {
    "test_klp_convert1": {
        ".klp.rela.vmlinux..text",
        ".klp.rela.test_klp_convert_mod..text",
    },
    "test_klp_convert_sections": {
        ".klp.rela.vmlinux..text.test_klp_convert_sections",
        ".klp.rela.test_klp_convert_mod..text.test_klp_convert_sections",
        ".klp.rela.vmlinux..data",
        ".klp.rela.test_klp_convert_mod..data",
        ".klp.rela.vmlinux..rodata",
        ".klp.rela.test_klp_convert_mod..rodata",
        ".klp.rela.vmlinux..data..ro_after_init",
        ".klp.rela.test_klp_convert_mod..data..ro_after_init",
    },
    "test_klp_convert_keys": {
        ".klp.rela.vmlinux.__jump_table",
    },
}
EXPECTED_SYMBOLS: Dict[str, Set[str]] = {
    "test_klp_convert1": {
        ".klp.sym.vmlinux.saved_command_line,0",
        ".klp.sym.vmlinux.kallsyms_lookup_name,0",
        ".klp.sym.vmlinux.c_start,2",
        ".klp.sym.test_klp_convert_mod.driver_name,0",
        ".klp.sym.test_klp_convert_mod.homonym_string,1",
        ".klp.sym.test_klp_convert_mod.homonym_string,2",
        ".klp.sym.test_klp_convert_mod.get_homonym_string,1",
        ".klp.sym.test_klp_convert_mod.get_homonym_string,2",
    },
    "test_klp_convert_sections": {
        ".klp.sym.vmlinux.saved_command_line,0",
        ".klp.sym.vmlinux.kallsyms_lookup_name,0",
        ".klp.sym.test_klp_convert_mod.driver_name,0",
        ".klp.sym.test_klp_convert_mod.get_homonym_string,2",
    },
    "test_klp_convert_keys": {
        ".klp.sym.vmlinux.sched_schedstats,0",
    },
}
ALL_MODULES = ["test_klp_convert_mod"] + sorted(EXPECTED_SECTIONS)

# build_fail/<case>: what klp-convert's error must name.
BUILD_FAIL_CASES: Dict[str, List[str]] = {
    "module_to_vmlinux": ["saved_command_line", "vmlinux"],
    "module_static_key": ["__jump_table", "test_klp_convert_mod_key"],
}


# The shells the scripts and helpers must run under: bash (the kernel's
# functions.sh), dash (this project's runner) and busybox sh.
SHELLS = {"bash": ["bash"], "dash": ["dash"], "busybox": ["busybox", "sh"]}


def _sh_argv(shell: str, *args: str) -> List[str]:
    argv = SHELLS[shell]
    if not shutil.which(argv[0]):
        pytest.fail(f"{argv[0]} is not installed")
    return [*argv, *args]


def _test_progs() -> List[str]:
    text = (SELFTESTS / "Makefile").read_text()
    m = re.search(r"^TEST_PROGS\s*:=((?:.*\\\n)*.*)$", text, re.M)
    assert m, "TEST_PROGS missing from the selftests Makefile"
    return m.group(1).replace("\\", " ").split()


def test_test_progs_exist_and_parse() -> None:
    progs = _test_progs()
    assert progs, "TEST_PROGS is empty"
    on_disk = sorted(p.name for p in SELFTESTS.glob("test-*.sh"))
    assert sorted(progs) == on_disk
    for name in progs + ["functions.sh"]:
        path = SELFTESTS / name
        assert os.access(path, os.X_OK), f"{name} is not executable"
        lines = path.read_text().splitlines()
        # the scripts are bash scripts, as the kernel's; functions.sh here
        # is this project's POSIX sh implementation of the kernel's
        want = "#!/bin/sh" if name == "functions.sh" else "#!/bin/bash"
        assert lines[0] == want, name
        assert lines[1] == "# SPDX-License-Identifier: GPL-2.0-only"
        for shell in SHELLS:
            res = subprocess.run(_sh_argv(shell, "-n", str(path)),
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"{name} ({shell}): {res.stderr}"
    for name in ("settings", "config"):
        assert (SELFTESTS / name).is_file()
    assert re.search(r"^timeout=\d+$", (SELFTESTS / "settings").read_text(),
                     re.M)
    assert "CONFIG_LIVEPATCH=y" in (SELFTESTS / "config").read_text()


FAKE_KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000100 t c_start
ffffffff81000200 T kallsyms_lookup_name
ffffffff81000300 t c_start
ffffffff81000400 t c_start
ffffffffc0001000 t get_homonym_string\t[test_klp_convert_mod]
ffffffffc0001100 t get_homonym_string\t[other_mod]
ffffffffc0001200 t get_homonym_string\t[test_klp_convert_mod]
ffffffffc0001300 r driver_name\t[test_klp_convert_mod]
"""


@pytest.mark.parametrize("shell", sorted(SHELLS))
@pytest.mark.parametrize("obj,sym,pos,want", [
    ("vmlinux", "kallsyms_lookup_name", 0, "ffffffff81000200"),
    ("vmlinux", "c_start", 0, ""),           # ambiguous
    ("vmlinux", "c_start", 1, "ffffffff81000100"),
    ("vmlinux", "c_start", 3, "ffffffff81000400"),
    ("vmlinux", "c_start", 4, ""),
    ("vmlinux", "get_homonym_string", 0, ""),  # module symbols don't count
    ("test_klp_convert_mod", "get_homonym_string", 2, "ffffffffc0001200"),
    ("test_klp_convert_mod", "driver_name", 0, "ffffffffc0001300"),
    ("other_mod", "get_homonym_string", 0, "ffffffffc0001100"),
    ("test_klp_convert_mod", "c_start", 1, ""),
])
def test_kallsyms_addr(tmp_path: Path, obj: str, sym: str, pos: int,
                       want: str, shell: str) -> None:
    kallsyms = tmp_path / "kallsyms"
    kallsyms.write_text(FAKE_KALLSYMS)
    script = (f'. "{SELFTESTS}/functions.sh"; '
              f'kallsyms_addr {obj} {sym} {pos} "{kallsyms}"')
    res = subprocess.run(_sh_argv(shell, "-c", script), capture_output=True,
                         text=True, cwd=SELFTESTS)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == want


# ---------------------------------------------------------------- builds

def _debian_headers() -> List[str]:
    return sorted(glob.glob("/usr/src/linux-headers-*-amd64"))


@pytest.fixture(scope="session")
def kdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private hooked copy of Debian's headers, shared by xdist workers."""
    if not KLP_HEADERS.is_file():
        pytest.fail("contrib/klp-headers is missing")
    if not _debian_headers():
        pytest.fail("no /usr/src/linux-headers-*-amd64: tests/run installs linux-headers-amd64")
    shared = tmp_path_factory.getbasetemp().parent / "selftests-kdir"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "KDIR"
        if not done.exists():
            res = subprocess.run([str(KLP_HEADERS), str(shared / "h")],
                                 capture_output=True, text=True)
            assert res.returncode == 0, res.stdout + res.stderr
            done.write_text(res.stdout.strip().splitlines()[-1])
        return Path(done.read_text().strip())


def _make(kdir: Path, moddir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(kdir), f"M={moddir}", f"-j{os.cpu_count() or 1}"],
        capture_output=True, text=True)


@pytest.fixture(scope="module")
def built_modules(kdir: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Path:
    moddir = tmp_path_factory.mktemp("test_modules")
    shutil.copytree(TEST_MODULES, moddir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("build_fail", "*.ko", "*.o",
                                                  ".*.cmd"))
    res = _make(kdir, moddir)
    assert res.returncode == 0, res.stdout + res.stderr
    return moddir


def test_test_modules_build(built_modules: Path) -> None:
    for name in ALL_MODULES:
        assert (built_modules / f"{name}.ko").is_file(), name


def _symbols(elf: ELFFile) -> list:
    symtab = elf.get_section_by_name(".symtab")
    assert symtab is not None
    return list(symtab.iter_symbols())


@pytest.mark.parametrize("name", sorted(EXPECTED_SECTIONS))
def test_livepatch_converted(built_modules: Path, name: str) -> None:
    with open(built_modules / f"{name}.ko", "rb") as f:
        elf = ELFFile(f)
        symbols = _symbols(elf)
        names = [s.name for s in symbols]
        leftovers = [n for n in names if n.startswith(".klp.sym.rela.")]
        assert not leftovers, f"unconverted intermediate symbols: {leftovers}"

        klp_syms = {s.name: s for s in symbols
                    if s.name.startswith(".klp.sym.")}
        assert EXPECTED_SYMBOLS[name] <= set(klp_syms), sorted(klp_syms)
        for sym in klp_syms.values():
            assert sym["st_shndx"] in (SHN_LIVEPATCH, "SHN_LIVEPATCH"), sym.name
            assert sym["st_info"]["bind"] == "STB_GLOBAL", sym.name

        klp_secs = {s.name: s for s in elf.iter_sections()
                    if s.name.startswith(".klp.rela.")}
        assert EXPECTED_SECTIONS[name] <= set(klp_secs), sorted(klp_secs)
        for sec in klp_secs.values():
            assert sec["sh_type"] == "SHT_RELA", sec.name
            assert sec["sh_flags"] & SHF_RELA_LIVEPATCH, sec.name
            target = elf.get_section(sec["sh_info"]).name
            assert sec.name.split(".", 4)[4] == target, sec.name

        modinfo = elf.get_section_by_name(".modinfo").data()
        assert b"livepatch=Y\0" in modinfo


@pytest.mark.parametrize("case", sorted(BUILD_FAIL_CASES))
def test_build_fail(kdir: Path, tmp_path: Path, case: str) -> None:
    moddir = tmp_path / case
    shutil.copytree(BUILD_FAIL / case, moddir)
    res = _make(kdir, moddir)
    out = res.stdout + res.stderr
    assert res.returncode != 0, f"{case} built but must not:\n{out}"
    msgs = [line for line in out.splitlines() if "klp-convert" in line]
    assert msgs, f"no klp-convert message:\n{out}"
    for word in BUILD_FAIL_CASES[case]:
        assert any(word in line for line in msgs), (word, msgs)
    assert not list(moddir.glob("*.ko")), "a rejected module left a .ko"


def _symbol_cases() -> List[str]:
    """build_fail/ cases that only the symbol verification refuses
    (KLP_SYMBOLS): vmtest builds them against each booted kernel's
    /proc/kallsyms (vmtest_lib/symproof.py)."""
    sys.path.insert(0, str(SELFTESTS))
    from vmtest_lib import symproof
    return sorted(symproof.REFUSED)


def test_every_build_fail_case_is_built() -> None:
    dirs = sorted(p.name for p in BUILD_FAIL.iterdir() if p.is_dir())
    assert dirs == sorted([*BUILD_FAIL_CASES, *_symbol_cases()])
    assert not set(BUILD_FAIL_CASES) & set(_symbol_cases())


@pytest.mark.parametrize("case", _symbol_cases())
def test_build_fail_needs_the_symbols(kdir: Path, tmp_path: Path,
                                      case: str) -> None:
    """Without KLP_SYMBOLS the symbol cases build, unverified: what
    refuses them in vmtest is klp-convert's verification against the
    kernel's symbols, nothing else."""
    moddir = tmp_path / case
    shutil.copytree(BUILD_FAIL / case, moddir)
    res = _make(kdir, moddir)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    klp = [line for line in out.splitlines() if "KLP [M]" in line]
    assert len(klp) == 1 and klp[0].endswith("(symbols not verified)"), out
    assert len(list(moddir.glob("*.ko"))) == 1


@pytest.mark.parametrize("shell", sorted(SHELLS))
@pytest.mark.parametrize("release,major,minor,want", [
    ("6.1.0-56-amd64", 6, 3, False),
    ("6.2.99", 6, 3, False),
    ("6.3.0", 6, 3, True),
    ("6.12.117+deb13-amd64", 6, 3, True),
    ("7.2.13+deb14-amd64", 6, 3, True),
    ("5.19.0-rc1", 6, 3, False),
    ("7.3.4+deb13-amd64", 7, 3, True),
    ("7.3.4+deb13-amd64", 7, 4, False),
])
def test_kernel_at_least(tmp_path: Path, release: str, major: int, minor: int,
                         want: bool, shell: str) -> None:
    """The selftests pick the reload behaviour from uname -r (a shell
    function stands in for it: busybox sh runs its own uname before any
    on $PATH)."""
    script = (f'. "{SELFTESTS}/functions.sh"; uname() {{ echo "{release}"; }}; '
              f'kernel_at_least {major} {minor} && echo yes || echo no')
    res = subprocess.run(_sh_argv(shell, "-c", script), capture_output=True,
                         text=True, cwd=SELFTESTS)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ("yes" if want else "no")


# ------------------------------------------------ the kernel's functions.sh

MARKER = "# klp-convert helpers"
# defined by this project's POSIX part only: its runner runs every script
# in one VM, so its cleanup() also unloads what a failed script left
POSIX_ONLY = {"unload_test_modules"}
_FUNC = re.compile(r"^(?:function\s+)?([A-Za-z_]\w*)\s*(?:\(\s*\))?\s*\{",
                   re.MULTILINE)


@pytest.fixture(scope="module")
def kernel_functions() -> str:
    """tools/testing/selftests/livepatch/functions.sh of Linux 7.3."""
    sys.path.insert(0, str(SELFTESTS))
    from vmtest_lib import env
    tree = Path(env.source_tree("trixie-backports"))
    return (tree / "tools/testing/selftests/livepatch/functions.sh").read_text()


@pytest.mark.slow
def test_functions_sh_split_matches_the_kernel(kernel_functions: str,
                                               tmp_path: Path) -> None:
    """Above the marker: only functions the kernel's functions.sh has
    (same names); from the marker on: helpers the kernel lacks, which
    extend the kernel's file (as the series does) without a bash error."""
    ours = (SELFTESTS / "functions.sh").read_text()
    assert f"\n{MARKER}\n" in ours
    posix, helpers = ours.split(f"\n{MARKER}\n", 1)
    theirs = set(_FUNC.findall(kernel_functions))
    assert {"start_test", "check_result", "load_lp", "die"} <= theirs
    assert set(_FUNC.findall(posix)) - theirs == POSIX_ONLY
    added = set(_FUNC.findall(helpers))
    assert {"check_resolved", "kallsyms_addr", "write_param"} <= added
    assert not added & theirs, added & theirs
    merged = tmp_path / "functions.sh"
    merged.write_text(kernel_functions.rstrip("\n") + f"\n\n{MARKER}\n"
                      + helpers)
    for name in sorted(added):
        res = subprocess.run(["bash", "-c", f'. "{merged}"; type -t {name}'],
                             capture_output=True, text=True)
        assert res.stdout.strip() == "function", (name, res.stderr)
