# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --check: finished modules, as the kernel will load them.

Each damaged module is a converted one with one thing broken the way a
tool could break it; the message names the file and the section."""

from __future__ import annotations

import glob
import gzip
import lzma
import struct

import pytest

from convert_support import assemble, check_accepted, rename_symbol, run
from elfcheck import SHN_LIVEPATCH, Elf

SIG = b"~Module signature appended~\n"


@pytest.fixture
def converted(fixture_obj, tmp_path):
    out = tmp_path / "lp.ko"
    assert run([fixture_obj("lp_basic.c"), out])[0] == 0
    return out


def _header(raw: bytearray, index: int) -> int:
    return struct.unpack_from("<Q", raw, 0x28)[0] + 64 * index


def _edit(path, name, field_offset, fmt, value=None, update=None):
    """Set (or update) a field of section @name's header."""
    raw = bytearray(path.read_bytes())
    pos = _header(raw, Elf(bytes(raw)).by_name(name).index) + field_offset
    old = struct.unpack_from("<" + fmt, raw, pos)[0]
    struct.pack_into("<" + fmt, raw, pos, update(old) if update else value)
    path.write_bytes(bytes(raw))


def _set_reloc_symbol(path, name, entry, symbol):
    raw = bytearray(path.read_bytes())
    sec = Elf(bytes(raw)).by_name(name)
    offset = struct.unpack_from("<Q", raw, _header(raw, sec.index) + 24)[0]
    pos = offset + 24 * entry + 8
    info = struct.unpack_from("<Q", raw, pos)[0]
    struct.pack_into("<Q", raw, pos, (symbol << 32) | (info & 0xFFFFFFFF))
    path.write_bytes(bytes(raw))


def _refused(path, capsys, words):
    status, out, err = run(["--check", path], capsys)
    assert status == 1 and out == "", err
    assert err.startswith(f"klp-convert: {path}: "), err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert "Traceback" not in err


def test_converted_module_passes(converted, capsys):
    status, out, err = run(["--check", converted], capsys)
    assert (status, err) == (0, "")
    assert out == (f"klp-convert: {converted}: ok: 13 livepatch relocations in "
                   "8 sections, 7 livepatch symbols\n")


@pytest.mark.parametrize("arch", ["ppc64le", "s390x", "aarch64"])
def test_converted_module_passes_every_arch(arch, fixture_obj, tmp_path, capsys):
    out = tmp_path / "lp.ko"
    assert run([fixture_obj("lp_basic.c", arch), out])[0] == 0
    status, text, err = run(["--check", out], capsys)
    assert (status, err) == (0, "") and ": ok: " in text


def test_plain_module_passes_with_a_note(fixture_obj, capsys):
    src = fixture_obj("plain.c")
    status, out, err = run(["--check", src], capsys)
    assert (status, err) == (0, "")
    assert out == (f"klp-convert: {src}: ok: no livepatch relocations or "
                   "symbols (not a livepatch module)\n")


def test_installed_distribution_modules_pass(capsys):
    """Debian's own modules (signed, stripped by its build): no false
    alarm on any of a sample of 400."""
    mods = sorted(glob.glob("/lib/modules/*/kernel/**/*.ko*", recursive=True))
    if not mods:
        pytest.fail("no installed kernel modules: tests/run installs Debian's "
                    "kernel image (linux-image-amd64)")
    sample = mods[::max(1, len(mods) // 400)]
    status, out, err = run(["--check", *sample], capsys)
    assert (status, err) == (0, "")
    assert out.count(": ok") == len(sample)


def test_unconverted_module(fixture_obj, capsys):
    src = fixture_obj("lp_basic.c")
    _refused(src, capsys, ["'.klp.sym.rela.vmlinux.vmlinux.saved_command_line,0'",
                           "left unconverted"])


def test_lost_livepatch_flag(converted, capsys):
    _edit(converted, ".klp.rela.vmlinux..data.fptrs", 8, "Q",
          update=lambda f: f & ~0x100000)
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..data.fptrs' lost "
                                 "SHF_RELA_LIVEPATCH", "refers to livepatch symbol"])


def test_lost_alloc_flag(converted, capsys):
    _edit(converted, ".klp.rela.test_mod..text.use_data", 8, "Q",
          update=lambda f: f & ~0x2)
    _refused(converted, capsys, ["section '.klp.rela.test_mod..text.use_data' is "
                                 "not SHF_ALLOC"])


def test_klp_entry_against_an_ordinary_symbol(converted, capsys):
    elf = Elf(converted.read_bytes())
    use_data = next(i for i, s in enumerate(elf.symbols) if s.name == "use_data")
    _set_reloc_symbol(converted, ".klp.rela.vmlinux..text.use_data", 0, use_data)
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..text.use_data'",
                                 "symbol 'use_data' is not marked as a livepatch "
                                 "symbol"])


def test_ordinary_entry_against_a_livepatch_symbol(converted, capsys):
    elf = Elf(converted.read_bytes())
    klp = next(i for i, s in enumerate(elf.symbols) if s.shndx == SHN_LIVEPATCH)
    _set_reloc_symbol(converted, ".rela.text.use_mod", 0, klp)
    _refused(converted, capsys, ["section '.rela.text.use_mod': refers to "
                                 "livepatch symbol", "value 0"])


def test_symbol_index_out_of_range(converted, capsys):
    _set_reloc_symbol(converted, ".klp.rela.vmlinux..rodata.ro_ptr", 0, 100000)
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..rodata.ro_ptr': "
                                 "symbol index 100000 is past the end"])


@pytest.mark.parametrize("field,value,words", [
    (40, 0, ["sh_link 0 is not the symbol table"]),
    (44, 0, ["sh_info 0 is not a section index"]),
    (44, 9999, ["sh_info 9999 is not a section index"]),
])
def test_bad_links(field, value, words, converted, capsys):
    _edit(converted, ".klp.rela.vmlinux..text.use_funcs", field, "I", value)
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..text.use_funcs'",
                                 *words])


def test_klp_section_aimed_at_another_section(converted, capsys):
    elf = Elf(converted.read_bytes())
    _edit(converted, ".klp.rela.vmlinux..text.use_funcs", 44, "I",
          elf.by_name(".text.use_mod").index)
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..text.use_funcs'",
                                 "sh_info points at '.text.use_mod'"])


def test_nonzero_site(converted, capsys):
    elf = Elf(converted.read_bytes())
    raw = bytearray(converted.read_bytes())
    rel = elf.by_name(".klp.rela.vmlinux..text.use_funcs")
    site = elf.relas(rel)[0][0]
    text = elf.by_name(".text.use_funcs")
    offset = struct.unpack_from("<Q", raw, _header(raw, text.index) + 24)[0]
    raw[offset + site] = 0x5A
    converted.write_bytes(bytes(raw))
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..text.use_funcs'",
                                 "not zero", "Invalid relocation target"])


def test_no_livepatch_modinfo(converted, capsys):
    raw = converted.read_bytes()
    converted.write_bytes(raw.replace(b"livepatch=Y", b"livepatch=N"))
    _refused(converted, capsys, ["'.modinfo' has no livepatch=Y"])


def test_xindex_symbol(converted, capsys):
    raw = bytearray(converted.read_bytes())
    elf = Elf(bytes(raw))
    index = next(i for i, s in enumerate(elf.symbols) if s.name == "use_data")
    offset = struct.unpack_from("<Q", raw, _header(raw, elf.symtab.index) + 24)[0]
    struct.pack_into("<H", raw, offset + 24 * index + 6, 0xFFFF)
    converted.write_bytes(bytes(raw))
    _refused(converted, capsys, ["symbol 'use_data': section index 0xffff",
                                 "simplify_symbols()"])


def _sign(data: bytes, sig_len: int = 16) -> bytes:
    return (data + b"\x30" * sig_len +
            struct.pack(">BBBBB3xI", 0, 0, 2, 0, 0, sig_len) + SIG)


@pytest.mark.parametrize("form", ["signed", "xz", "gzip", "xz+signed"])
def test_signed_and_compressed(form, converted, tmp_path, capsys):
    data = converted.read_bytes()
    if "signed" in form:
        data = _sign(data)
    path = tmp_path / "m.ko"
    if form.startswith("xz"):
        path, data = tmp_path / "m.ko.xz", lzma.compress(data, check=lzma.CHECK_CRC32)
    elif form == "gzip":
        path, data = tmp_path / "m.ko.gz", gzip.compress(data)
    path.write_bytes(data)
    status, out, err = run(["--check", path], capsys)
    assert (status, err) == (0, "")
    label = {"signed": "signed", "xz": "xz", "gzip": "gzip",
             "xz+signed": "xz, signed"}[form]
    assert out.startswith(f"klp-convert: {path}: ok ({label}): 13 livepatch")


def test_signed_damaged_module_is_checked_before_its_signature(converted, capsys):
    _edit(converted, ".klp.rela.vmlinux..data.fptrs", 8, "Q",
          update=lambda f: f & ~0x100000)
    converted.write_bytes(_sign(converted.read_bytes()))
    _refused(converted, capsys, ["lost SHF_RELA_LIVEPATCH"])


def test_damaged_signature(converted, capsys):
    converted.write_bytes(_sign(converted.read_bytes())[:-40] + b"\xff" * 12 + SIG)
    _refused(converted, capsys, ["damaged module signature"])


def _zstd_frame(data: bytes) -> bytes:
    """A valid zstd frame (RFC 8878) of raw, uncompressed blocks: no zstd
    tool or library needed to make one (zstd 1.5.4 -d reads it back)."""
    out = bytearray(b"\x28\xb5\x2f\xfd")           # magic
    out.append(0xA0)            # single segment, 4-byte content size
    out += struct.pack("<I", len(data))
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)] or [b""]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        out += (len(chunk) << 3 | last).to_bytes(3, "little")  # raw block
        out += chunk
    return bytes(out)


def test_zstd(converted, tmp_path, capsys):
    """.ko.zst: read where this Python can (3.14's compression.zstd, or
    the zstandard module), else a clear error that says so."""
    path = tmp_path / "m.ko.zst"
    path.write_bytes(_zstd_frame(converted.read_bytes()))
    try:
        from compression import zstd  # noqa: F401
        readable = True
    except ImportError:
        try:
            import zstandard  # noqa: F401
            readable = True
        except ImportError:
            readable = False
    status, out, err = run(["--check", path], capsys)
    if readable:
        assert (status, err) == (0, "") and "ok (zstd)" in out
    else:
        assert status == 1
        assert err == (f"klp-convert: {path}: zstd-compressed module: this "
                       "Python cannot decompress zstd (it needs Python 3.14's "
                       "compression.zstd or the zstandard module); decompress "
                       "it first with 'zstd -d'\n")


def test_several_files_and_strict(converted, fixture_obj, tmp_path, capsys):
    bad = fixture_obj("lp_basic.c")
    status, out, err = run(["--check", converted, bad], capsys)
    assert status == 1 and f"{converted}: ok" in out and f"{bad}: symbol" in err
    typo = tmp_path / "typo.ko"
    typo.write_bytes(converted.read_bytes().replace(b"other_mod\0", b"other_mdo\0"))
    status, out, err = run(["--check", typo], capsys)
    assert status == 0 and "warning: lp-obj 'other_mod'" in err
    status, out, err = run(["--check", "--strict", typo], capsys)
    assert status == 1 and out == "" and "--strict" in err


def test_check_writes_nothing_and_stripped_output_is_accepted(converted, tmp_path, capsys):
    before = converted.read_bytes()
    assert run(["--check", converted], capsys)[0] == 0
    assert converted.read_bytes() == before
    out = tmp_path / "s.ko"
    assert run(["--strip-debug", converted, out], capsys)[0] == 0
    check_accepted(out)
    assert run(["--check", out], capsys)[0] == 0


def test_overlapping_sites(converted, capsys):
    """Two entries of one relocation section on the same bytes."""
    raw = bytearray(converted.read_bytes())
    elf = Elf(bytes(raw))
    sec = elf.by_name(".klp.rela.vmlinux..text.use_funcs")
    offset = struct.unpack_from("<Q", raw, _header(raw, sec.index) + 24)[0]
    first = struct.unpack_from("<Q", raw, offset)[0]
    struct.pack_into("<Q", raw, offset + 24, first + 2)
    converted.write_bytes(bytes(raw))
    _refused(converted, capsys, ["section '.klp.rela.vmlinux..text.use_funcs'",
                                 "write the same bytes", "existing value is nonzero"])


@pytest.mark.parametrize("second", [".reloc 0, R_X86_64_PC32, {VM}",
                                    ".reloc 4, R_X86_64_PC32, {VM}",
                                    ".reloc 4, R_X86_64_PC32, printk"])
def test_overlapping_sites_converted(second, tmp_path, capsys):
    """Hand-written .reloc directives on the same bytes (klp and klp, klp
    and ordinary): the conversion does not look for them (it would cost a
    few percent of its time), --check refuses the result."""
    vm = '".klp.sym.rela.vmlinux.vmlinux.foo,0"'
    asm = ('.section .modinfo,"a"\n.asciz "livepatch=Y"\n.data\n.quad 0\n'
           f".reloc 0, R_X86_64_64, {vm}\n" + second.format(VM=vm) + "\n")
    src = assemble(asm, tmp_path / "overlap.o")
    out = tmp_path / "overlap.ko"
    assert run([src, out], capsys)[0] == 0
    _refused(out, capsys, ["write the same bytes", "existing value is nonzero"])


@pytest.mark.parametrize("pos,words", [
    ("9" * 5000, ["sympos 99999999999999999999...(5000 digits) is too large"]),
    ("1" + "0" * 20, ["sympos 100000000000000000000 is too large"]),
    ("18446744073709551616", ["sympos 18446744073709551616 is too large"]),
    ("\u00b2", ["non-decimal sympos"]),
    ("\u0663", ["non-decimal sympos"]),
])
def test_malformed_position_in_a_finished_name(pos, words, converted, capsys):
    """klp_resolve_symbols() reads the position with %lu: ASCII digits up
    to ULONG_MAX.  Python's int() takes other digits and refuses more
    than 4,300: neither may reach it (it was "malformed ELF file")."""
    old = ".klp.sym.vmlinux.saved_command_line,0"
    new = f".klp.sym.vmlinux.saved_command_line,{pos}"
    rename_symbol(converted, old, new)
    _refused(converted, capsys, [f"symbol '.klp.sym.vmlinux.saved_command_"
                                 "line,", *words])
    err = capsys.readouterr().err
    assert "malformed" not in err


def test_largest_position_in_a_finished_name(converted, capsys):
    """ULONG_MAX, with leading zeros, is a position %lu reads."""
    name = ".klp.sym.vmlinux.saved_command_line,"
    rename_symbol(converted, name + "0", name + "00018446744073709551615")
    status, _out, err = run(["--check", converted], capsys)
    assert status == 0, err
