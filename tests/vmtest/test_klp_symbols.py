# SPDX-License-Identifier: GPL-2.0-only
"""vmtest's klp-symbols step without a VM: the console blocks it reads,
and the comparison of klp-convert's rule with what a kernel resolved, on
a livepatch converted by klp-convert and a made-up /proc/kallsyms.  The
real runs (tests/vmtest/test_vmtest.py) do the same on every kernel."""

from __future__ import annotations

import base64
import gzip
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
SELFTESTS = TOP / "tools" / "testing" / "selftests" / "livepatch"
sys.path.insert(0, str(SELFTESTS))
sys.path.insert(0, str(TOP / "tests" / "symbols"))

from vmtest_lib import initramfs, symdump, symphase, symproof  # noqa: E402
from vmtest_lib.config import VmtestError  # noqa: E402
from symtest import assemble, calls  # noqa: E402
from klp_convert.cli import main as klp_main  # noqa: E402

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000100 t c_start
ffffffff81000200 T uniq
ffffffff81000300 t c_start
ffffffff81000400 t c_start
ffffffffc0001000 t homonym\t[mod_x]
ffffffffc0001100 t homonym\t[other]
ffffffffc0001200 t homonym\t[mod_x]
ffffffffc0002000 t lp_func\t[lp]
"""

INTERMEDIATES = (".klp.sym.rela.vmlinux.vmlinux.c_start,2",
                 ".klp.sym.rela.vmlinux.vmlinux.uniq,0",
                 ".klp.sym.rela.mod_x.mod_x.homonym,2")

# what a kernel resolved: the right addresses
RESOLVED = [
    symdump.Resolved("lp", "vmlinux", "c_start", 2, 0xffffffff81000300, "text"),
    symdump.Resolved("lp", "vmlinux", "uniq", 0, 0xffffffff81000200, "text"),
    symdump.Resolved("lp", "mod_x", "homonym", 2, 0xffffffffc0001200, "text"),
    symdump.Resolved("lp", "mod_x", "homonym", 2, 0xffffffffc0001200, "data"),
]


@pytest.fixture
def livepatch(tmp_path: Path) -> Path:
    """A livepatch module converted by klp-convert."""
    obj = assemble(tmp_path / "lp.o", calls(*INTERMEDIATES))
    out = tmp_path / "lp.ko"
    assert klp_main([str(obj), str(out)]) == 0
    return out


@pytest.fixture
def dump(tmp_path: Path) -> str:
    path = tmp_path / "kallsyms.txt"
    path.write_text(KALLSYMS)
    return str(path)


def test_klp_symbols_of_a_converted_module(livepatch: Path) -> None:
    assert sorted(symproof.klp_symbols(str(livepatch))) == [
        ("mod_x", "homonym", 2), ("vmlinux", "c_start", 2),
        ("vmlinux", "uniq", 0)]


def test_compare_agrees(livepatch: Path, dump: str) -> None:
    checked, problems = symproof.compare({"lp": str(livepatch)}, RESOLVED, dump)
    assert problems == []
    assert sorted(str(c) for c in checked) == [
        "mod_x homonym,2 of 2", "vmlinux c_start,2 of 3", "vmlinux uniq,0 of 1"]
    homonyms, missing = symproof.require_homonyms(checked)
    assert missing == []
    assert sorted(str(h) for h in homonyms) == ["mod_x homonym,2 of 2",
                                                "vmlinux c_start,2 of 3"]


@pytest.mark.parametrize("index,addr,want", [
    (0, 0xffffffff81000100, "vmlinux.c_start,2: klp-convert resolves "
     "ffffffff81000300, the kernel resolved ffffffff81000100"),
    (2, 0xffffffffc0001000, "mod_x.homonym,2: klp-convert resolves "
     "ffffffffc0001200, the kernel resolved ffffffffc0001000"),
])
def test_compare_catches_another_address(livepatch: Path, dump: str,
                                         index: int, addr: int,
                                         want: str) -> None:
    resolved = list(RESOLVED)
    resolved[index] = resolved[index]._replace(addr=addr)
    if index == 2:
        resolved[3] = resolved[3]._replace(addr=addr)
    _checked, problems = symproof.compare({"lp": str(livepatch)}, resolved,
                                          dump)
    assert len(problems) == 1 and want in problems[0], problems


def test_compare_catches_missing_and_extra_lines(livepatch: Path,
                                                 dump: str) -> None:
    resolved = RESOLVED[1:] + [RESOLVED[1]._replace(sym="other")]
    _checked, problems = symproof.compare({"lp": str(livepatch)}, resolved,
                                          dump)
    assert problems == [
        "lp: .klp.sym.vmlinux.c_start,2: the livepatch does not list it in "
        "'resolved'",
        "lp: resolved vmlinux other,0 is no .klp.sym of the module"]


@pytest.mark.parametrize("broken", ["from the end", "off by one"])
def test_compare_fails_with_a_broken_rule(livepatch: Path, dump: str,
                                          monkeypatch: pytest.MonkeyPatch,
                                          broken: str) -> None:
    """The comparison runs klp-convert's own klp_find(): counting from
    the end (swaps homonym 1 and 2) or off by one (c_start 3 for 2) makes
    it fail."""
    from klp_convert import ksyms
    real = ksyms.klp_find

    def wrong(occs, pos):
        if broken == "from the end":
            return real(occs[::-1], pos)
        return real(occs, pos + 1 if pos else 0)
    monkeypatch.setattr(symproof, "klp_find", wrong)
    _checked, problems = symproof.compare({"lp": str(livepatch)}, RESOLVED,
                                          dump)
    bad = "mod_x.homonym,2" if broken == "from the end" else "vmlinux.c_start,2"
    assert any(bad in p for p in problems), problems


def test_require_homonyms(livepatch: Path, dump: str) -> None:
    checked, _problems = symproof.compare({"lp": str(livepatch)}, RESOLVED,
                                          dump)
    _h, missing = symproof.require_homonyms(
        [c for c in checked if c.obj == "vmlinux"])
    assert missing == ["no module homonym at a position > 1 was checked"]
    _h, missing = symproof.require_homonyms(
        [c for c in checked if c.obj != "vmlinux"])
    assert missing == ["no vmlinux homonym at a position > 1 was checked"]


def _console(resolved: str, kallsyms: bytes) -> str:
    b64 = base64.encodebytes(gzip.compress(kallsyms)).decode()
    return ("[    1.0] booting\r\nok 3 selftests: livepatch: x\r\n"
            f"{symdump.UPTIME} 10.25\r\n{symdump.RESOLVED_BEGIN}\r\n{resolved}{symdump.RESOLVED_END}\r\n"
            f"{symdump.KALLSYMS_BEGIN}\r\n{b64.replace(chr(10), chr(13) + chr(10))}"
            f"{symdump.KALLSYMS_END}\r\n{symdump.UPTIME} 13.75\r\n"
            f"{initramfs.DONE_MARKER}\r\n")


def test_read_console(tmp_path: Path) -> None:
    data = KALLSYMS.encode() * 50
    console = tmp_path / "console.log"
    console.write_text(_console(
        "lp vmlinux c_start 2 ffffffff81000300 text\r\n"
        "lp mod_x homonym 2 ffffffffc0001200 .data section\r\n", data))
    dump = symdump.read_console(str(console))
    assert dump.kallsyms == data
    assert dump.seconds == 3.5
    assert dump.resolved == [
        symdump.Resolved("lp", "vmlinux", "c_start", 2, 0xffffffff81000300,
                         "text"),
        symdump.Resolved("lp", "mod_x", "homonym", 2, 0xffffffffc0001200,
                         ".data section")]


@pytest.mark.parametrize("damage,want", [
    (lambda t: t.replace(symdump.KALLSYMS_END, "x"), "no complete"),
    (lambda t: t.replace("H4sI", "H4sJ", 1), "damaged"),
    (lambda t: t.replace("lp vmlinux c_start 2 ffffffff81000300",
                         "lp vmlinux c_start two 0"), "bad resolved line"),
    (lambda t: t.replace(f"{symdump.RESOLVED_BEGIN}\r\n",
                         f"{symdump.FAILED} insmod lp\r\n"
                         f"{symdump.RESOLVED_BEGIN}\r\n"), "insmod lp"),
])
def test_read_console_refuses_damage(tmp_path: Path, damage, want: str) -> None:
    console = tmp_path / "console.log"
    console.write_text(damage(_console(
        "lp vmlinux c_start 2 ffffffff81000300 text\r\n",
        KALLSYMS.encode())))
    with pytest.raises(VmtestError, match=want):
        symdump.read_console(str(console))


def test_init_runs_the_snippet_after_the_tests(tmp_path: Path) -> None:
    mods = []
    for name, info in (("target", b"license=GPL\0"),
                       ("lp1", b"livepatch=Y\0license=GPL\0")):
        ko = tmp_path / f"{name}.ko"
        ko.write_bytes(b"\x7fELF" + info)
        mods.append(str(ko))
    assert symphase.split_modules(mods) == (["target"], ["lp1"])
    initramfs.pack(str(tmp_path), ["test-klp-convert.sh"], [], 5,
                   after=symphase.init_lines(mods))
    init = (tmp_path / "initramfs" / "init").read_text()
    _tests, after = init.split("done\n", 1)
    assert "for m in target; do" in after and "for lp in lp1; do" in after
    assert after.index(symdump.KALLSYMS_END) < after.index(
        initramfs.DONE_MARKER)
    assert "gzip -c /proc/kallsyms | base64" in after


def test_keep(tmp_path: Path) -> None:
    """The dump goes to the work directory and, with a cache, to
    <cache>/kallsyms/<release>/kallsyms.txt; without one (vmtest --kernel
    --kdir) nowhere else."""
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    path = symdump.keep(b"x T y\n", str(work), str(cache), "6.1.0-56-amd64")
    assert Path(path).read_bytes() == b"x T y\n"
    kept = cache / "kallsyms" / "6.1.0-56-amd64" / "kallsyms.txt"
    assert symdump.cached(str(cache), "6.1.0-56-amd64") == str(kept)
    assert kept.read_bytes() == b"x T y\n"
    assert symdump.cached("", "r") == ""
    before = sorted(p.name for p in tmp_path.rglob("*"))
    symdump.keep(b"z", str(work), "", "r")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
