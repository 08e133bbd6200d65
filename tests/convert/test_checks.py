# SPDX-License-Identifier: GPL-2.0-only
"""Build-time checks: each refused module gives exit status 1, one clear
message naming the file, section and symbol, and writes nothing."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from convert_support import assemble, run, tool
from elfcheck import Elf

MODINFO = '.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
VM = '".klp.sym.rela.vmlinux.vmlinux.foo,0"'
MOD = '".klp.sym.rela.mymod.mymod.foo,0"'

CASES = {
    "objname-too-long": (
        MODINFO + f'.text\ncall ".klp.sym.rela.vmlinux.{"m" * 56}.foo,0"\n',
        ["at most 55", "m" * 56]),
    "objname-dash": (
        MODINFO + '.text\ncall ".klp.sym.rela.my-mod.my-mod.foo,0"\n',
        ["'my-mod'", "'_'"]),
    "sympos-not-decimal": (
        MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,x1"\n',
        ["sympos", ".klp.sym.rela.vmlinux.vmlinux.foo,x1"]),
    "sympos-missing": (
        MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo"\n',
        ["sympos", ".klp.sym.rela.vmlinux.vmlinux.foo"]),
    "missing-sym-obj": (
        MODINFO + '.text\ncall ".klp.sym.rela.vmlinux"\n',
        ["expected .klp.sym.rela.<lp-obj>", ".klp.sym.rela.vmlinux"]),
    "symname-too-long": (
        MODINFO + f'.text\ncall ".klp.sym.rela.vmlinux.vmlinux.{"s" * 512},0"\n',
        ["at most 511"]),
    "module-section-vmlinux-symbol": (
        MODINFO + '.text\ncall ".klp.sym.rela.mymod.vmlinux.foo,0"\n',
        ["section '.text'", ".klp.sym.rela.mymod.vmlinux.foo,0",
         "invalid access to vmlinux symbol"]),
    "vmlinux-section-module-symbol": (
        MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.mymod.foo,0"\n',
        ["section '.text'", ".klp.sym.rela.vmlinux.mymod.foo,0", "lp-obj 'mymod'"]),
    "module-static-key": (
        MODINFO + f'.section __jump_table,"aw"\n.quad 0\n.quad 0\n.quad {MOD}\n',
        ["section '__jump_table' offset 0x10", ".klp.sym.rela.mymod.mymod.foo,0",
         "special section"]),
    "module-ex-table": (
        MODINFO + f'.section __ex_table,"a"\n.long 0\n.long {MOD} - .\n',
        ["section '__ex_table'", "special section"]),
    "module-orc": (
        MODINFO + f'.section .orc_unwind_ip,"a"\n.long {MOD} - .\n',
        ["section '.orc_unwind_ip'", "special section"]),
    "module-init-section": (
        MODINFO + f'.section .init.text,"ax"\ncall {MOD}\n',
        ["section '.init.text'", "init section", ".klp.sym.rela.mymod.mymod.foo,0"]),
    "target-not-alloc": (
        MODINFO + f'.section .note.mine,""\n.quad {VM}\n',
        ["section '.note.mine'", "not SHF_ALLOC", ".klp.sym.rela.vmlinux.vmlinux.foo,0"]),
    "nonzero-site": (
        MODINFO + f'.data\n.quad 0x1234\n.reloc 0, R_X86_64_64, {VM}\n',
        ["section '.data' offset 0x0", "R_X86_64_64", "not zero"]),
    "unsupported-type": (
        MODINFO + f'.text\n.long 0\n.reloc 0, R_X86_64_GOTPCREL, {VM}\n',
        ["R_X86_64_GOTPCREL", "not supported", "section '.text' offset 0x0"]),
    "missing-livepatch-modinfo": (
        f'.section .modinfo,"a"\n.asciz "license=GPL"\n.text\ncall {VM}\n',
        ["livepatch=Y"]),
    "unknown-klp-symbol": (
        MODINFO + '.text\ncall ".klp.sym.vmlinux.foo,0"\n',
        [".klp.sym.vmlinux.foo,0", "not an intermediate klp symbol"]),
    "defined-intermediate": (
        MODINFO + f'.text\n.globl {VM}\n{VM}:\nret\n',
        [".klp.sym.rela.vmlinux.vmlinux.foo,0", "is defined"]),
}


def _expect_refused(path, tmp_path, capsys, words):
    before = path.read_bytes()
    mtime = os.stat(path).st_mtime_ns
    out = tmp_path / "out.ko"
    status, _o, err = run([path, out], capsys)
    assert status == 1, err
    assert err.startswith(f"klp-convert: {path}: "), err
    assert err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert not out.exists()
    status, _o, err2 = run([path], capsys)
    assert status == 1 and err2 == err
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == mtime
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".klp.tmp")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused(case, tmp_path, capsys):
    asm, words = CASES[case]
    _expect_refused(assemble(asm, tmp_path / f"{case}.o"), tmp_path, capsys, words)


def test_signed_module(tmp_path, capsys):
    path = assemble(MODINFO + f".text\ncall {VM}\n", tmp_path / "signed.ko")
    with open(path, "ab") as f:
        f.write(b"\0" * 40 + b"~Module signature appended~\n")
    _expect_refused(path, tmp_path, capsys, ["signature"])


def test_sht_rel(tmp_path, capsys):
    """Rewrite the only .rela section of an object as SHT_REL."""
    path = assemble(MODINFO + f".text\ncall {VM}\n", tmp_path / "rel.o")
    raw = bytearray(path.read_bytes())
    elf = Elf(bytes(raw))
    rel = elf.by_name(".rela.text")
    shoff = struct.unpack_from("<Q", raw, 0x28)[0]
    hdr = shoff + 64 * rel.index
    sh_offset = struct.unpack_from("<Q", raw, hdr + 24)[0]
    struct.pack_into("<I", raw, hdr + 4, 9)              # sh_type = SHT_REL
    struct.pack_into("<Q", raw, hdr + 32, 16)            # sh_size
    struct.pack_into("<Q", raw, hdr + 56, 16)            # sh_entsize
    off, info, _a = struct.unpack_from("<QQq", raw, sh_offset)
    struct.pack_into("<QQ", raw, sh_offset, off, info)
    path.write_bytes(bytes(raw))
    _expect_refused(path, tmp_path, capsys, ["SHT_REL", "'.rela.text'",
                                             ".klp.sym.rela.vmlinux.vmlinux.foo,0"])


def _ppc_object(asm, path):
    src = path.with_suffix(".s")
    src.write_text(asm)
    obj = path.with_suffix(".tmp.o")
    subprocess.run([tool("ppc64le", "as"), "-a64", "-mpower8", str(src), "-o", str(obj)],
                   check=True)
    subprocess.run([tool("ppc64le", "ld"), "-r", str(obj), "-o", str(path)], check=True)
    return path


def test_ppc64_call_without_nop(tmp_path, capsys):
    path = _ppc_object(MODINFO + f".text\nbl {VM}\nblr\n", tmp_path / "nonop.o")
    _expect_refused(path, tmp_path, capsys, ["R_PPC64_REL24", "not followed by a nop"])


def test_ppc64_toc16(tmp_path, capsys):
    path = _ppc_object(MODINFO + f".text\naddis 3,2,{VM}@toc@ha\nblr\n",
                       tmp_path / "toc16.o")
    _expect_refused(path, tmp_path, capsys, ["R_PPC64_TOC16_HA", "overflow"])


def test_ppc64_call_with_nop_converts(tmp_path, capsys):
    path = _ppc_object(MODINFO + f".text\nbl {VM}\nnop\nblr\n", tmp_path / "ok.o")
    assert run([path, tmp_path / "ok.ko"], capsys)[0] == 0


SPECIAL = ["__jump_table", ".static_call_sites", ".altinstructions",
           ".parainstructions", ".smp_locks", "__bug_table", "__ex_table",
           ".orc_unwind", ".orc_unwind_ip", ".retpoline_sites", ".return_sites"]


@pytest.mark.parametrize("section", SPECIAL)
def test_special_section_module_symbol(section, tmp_path, capsys):
    """Module-specific klp relocations are applied late: not in the special
    sections the loader has already processed."""
    asm = MODINFO + f'.section {section},"a"\n.long 0\n.long {MOD} - .\n'
    path = assemble(asm, tmp_path / "special.o")
    _expect_refused(path, tmp_path, capsys, [f"section '{section}'",
                                             ".klp.sym.rela.mymod.mymod.foo,0"])


@pytest.mark.parametrize("section", SPECIAL + [".init.text", ".init.data"])
def test_special_section_vmlinux_symbol_is_fine(section, tmp_path, capsys):
    """vmlinux klp relocations are applied when the patch module loads
    (since 5.8): special and .init sections may use them."""
    asm = MODINFO + f'.section {section},"a"\n.long 0\n.long {VM} - .\n'
    path = assemble(asm, tmp_path / "special.o")
    out = tmp_path / "special.ko"
    status, _o, err = run([path, out], capsys)
    assert status == 0, err
    elf = Elf(out.read_bytes())
    assert f".klp.rela.vmlinux.{section}" in {s.name for s in elf.sections}


@pytest.mark.parametrize("section", [".init.data", ".init.rodata", ".init.text.x"])
def test_module_init_sections(section, tmp_path, capsys):
    asm = MODINFO + f'.section {section},"a"\n.quad {MOD}\n'
    path = assemble(asm, tmp_path / "init.o")
    _expect_refused(path, tmp_path, capsys, [f"section '{section}'",
                                             ".klp.sym.rela.mymod.mymod.foo,0"])


@pytest.mark.parametrize("rtype,width", [("R_X86_64_64", 8), ("R_X86_64_32", 4),
                                         ("R_X86_64_32S", 4), ("R_X86_64_PC32", 4),
                                         ("R_X86_64_PLT32", 4), ("R_X86_64_PC64", 8)])
def test_nonzero_site_every_type(rtype, width, tmp_path, capsys):
    asm = MODINFO + f'.data\n.quad 0x0101010101010101\n.reloc 0, {rtype}, {VM}\n'
    path = assemble(asm, tmp_path / "nz.o")
    _expect_refused(path, tmp_path, capsys, ["section '.data' offset 0x0", rtype,
                                             ".klp.sym.rela.vmlinux.vmlinux.foo,0"])


@pytest.mark.parametrize("rtype", ["R_X86_64_GOTPCREL", "R_X86_64_GOTPCRELX",
                                   "R_X86_64_TPOFF32", "R_X86_64_16", "R_X86_64_8",
                                   "R_X86_64_COPY", "R_X86_64_GOT32"])
def test_unsupported_types(rtype, tmp_path, capsys):
    asm = MODINFO + f'.data\n.quad 0\n.reloc 0, {rtype}, {VM}\n'
    path = assemble(asm, tmp_path / "ty.o")
    # the converter names types it knows and gives the number of others
    name = {"R_X86_64_GOTPCRELX": "41"}.get(rtype, rtype)
    _expect_refused(path, tmp_path, capsys, [name, "section '.data' offset 0x0",
                                             ".klp.sym.rela.vmlinux.vmlinux.foo,0"])


@pytest.mark.parametrize("name,word", [
    (".klp.sym.rela.vmlinux.vmlinux.foo,-1", "sympos"),
    (".klp.sym.rela.vmlinux.vmlinux.foo,1x", "sympos"),
    (".klp.sym.rela.vmlinux.vmlinux.,0", ".klp.sym.rela.vmlinux.vmlinux.,0"),
    (".klp.sym.rela..vmlinux.foo,0", ".klp.sym.rela..vmlinux.foo,0"),
    (".klp.sym.rela.vmlinux.vmlinux.a,b,0", ".klp.sym.rela.vmlinux.vmlinux.a,b,0"),
    (".klp.sym.rela.vmlinux.vmlinux.foo,", ".klp.sym.rela.vmlinux.vmlinux.foo,"),
    (".klp.sym.foo", ".klp.sym.foo"),
])
def test_malformed_names(name, word, tmp_path, capsys):
    path = assemble(MODINFO + f'.text\ncall "{name}"\n', tmp_path / "bad.o")
    _expect_refused(path, tmp_path, capsys, [word])


def test_weaken_refuses_malformed(tmp_path, capsys):
    path = assemble(MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,x"\n',
                    tmp_path / "bad.o")
    before = path.read_bytes()
    status, _o, err = run(["--weaken", path], capsys)
    assert status == 1 and err.startswith(f"klp-convert: {path}: ")
    assert ".klp.sym.rela.vmlinux.vmlinux.foo,x" in err
    assert path.read_bytes() == before


def test_limits_exactly_accepted(tmp_path, capsys):
    """55-character object names and 511-character symbol names load."""
    obj, sym = "o" * 55, "s" * 511
    path = assemble(MODINFO + f'.text\ncall ".klp.sym.rela.{obj}.{obj}.{sym},0"\n',
                    tmp_path / "limits.o")
    out = tmp_path / "limits.ko"
    status, _o, err = run([path, out], capsys)
    assert status == 0, err
    assert f".klp.sym.{obj}.{sym},0" in {s.name for s in Elf(out.read_bytes()).symbols}


def test_symbol_name_limit_counts_bytes(tmp_path, capsys):
    """The kernel's %511[^,] counts bytes: 300 two-byte UTF-8 characters
    (600 bytes) are too long although they are 300 characters."""
    sym = "\u00e9" * 300
    path = assemble(MODINFO + f'.text\ncall ".klp.sym.rela.vmlinux.vmlinux.{sym},0"\n',
                    tmp_path / "utf8.o")
    _expect_refused(path, tmp_path, capsys, ["600 bytes", "at most 511"])


def test_symbol_name_limit_exact_in_bytes(tmp_path, capsys):
    """255 two-byte characters and one ASCII one: exactly 511 bytes."""
    sym = "\u00e9" * 255 + "a"
    path = assemble(MODINFO + f'.text\ncall ".klp.sym.rela.vmlinux.vmlinux.{sym},0"\n',
                    tmp_path / "utf8ok.o")
    out = tmp_path / "utf8ok.ko"
    status, _o, err = run([path, out], capsys)
    assert status == 0, err
    assert f".klp.sym.vmlinux.{sym},0" in {s.name for s in Elf(out.read_bytes()).symbols}


def _patch_machine(path, machine):
    raw = bytearray(path.read_bytes())
    endian = "<" if raw[5] == 1 else ">"
    struct.pack_into(endian + "H", raw, 18, machine)
    path.write_bytes(bytes(raw))


def _cross_object(arch, asm, path):
    src = path.with_suffix(".s")
    src.write_text(asm)
    obj = path.with_suffix(".tmp.o")
    subprocess.run([tool(arch, "as"), str(src), "-o", str(obj)], check=True)
    subprocess.run([tool(arch, "ld"), "-r", str(obj), "-o", str(path)], check=True)
    return path


def test_big_endian_x86_64(tmp_path, capsys):
    """A big-endian file that says x86_64: the kernel reads e_machine as
    0x3e00 and refuses it (elf_check_arch()).  Made from an s390x object
    whose R_390_8 (type 1) reads as R_X86_64_64."""
    path = _cross_object("s390x", MODINFO + f".data\n.quad 0\n.reloc 0, R_390_8, {VM}\n",
                         tmp_path / "be.o")
    _patch_machine(path, 62)
    _expect_refused(path, tmp_path, capsys, ["big-endian", "x86_64",
                                             "elf_check_arch()"])


def test_little_endian_s390x(tmp_path, capsys):
    path = assemble(MODINFO + f".data\n.quad 0\n.reloc 0, R_X86_64_64, {VM}\n",
                    tmp_path / "le.o")
    _patch_machine(path, 22)
    _expect_refused(path, tmp_path, capsys, ["little-endian", "s390x",
                                             "elf_check_arch()"])


@pytest.mark.parametrize("arch,rtype,offset", [
    ("s390x", "R_390_64", 8), ("s390x", "R_390_PC32", 6), ("s390x", "R_390_PC32DBL", 5),
    ("aarch64", "R_AARCH64_ABS64", 6), ("aarch64", "R_AARCH64_PREL32", 8),
    ("aarch64", "R_AARCH64_CALL26", 6), ("ppc64le", "R_PPC64_ADDR64", 4),
    ("ppc64le", "R_PPC64_REL32", 6), ("x86_64", "R_X86_64_PC32", 6),
])
def test_site_past_the_end_every_arch(arch, rtype, offset, tmp_path, capsys):
    """apply_relocate_add() writes at sh_addr + r_offset without a bounds
    check on every architecture: a site that does not fit in its section
    overwrites whatever follows it in memory."""
    asm = MODINFO + f".data\n.quad 0\n.reloc {offset}, {rtype}, {VM}\n"
    path = (assemble(asm, tmp_path / "end.o") if arch == "x86_64"
            else _cross_object(arch, asm, tmp_path / "end.o"))
    _expect_refused(path, tmp_path, capsys, ["section '.data'", rtype,
                                             "past the end of the section"])


@pytest.mark.parametrize("arch,rtype,offset", [
    ("s390x", "R_390_64", 0), ("s390x", "R_390_PC32", 4),
    ("aarch64", "R_AARCH64_ABS64", 0), ("aarch64", "R_AARCH64_PREL32", 4),
    ("ppc64le", "R_PPC64_ADDR64", 0)])
def test_site_at_the_end_is_fine(arch, rtype, offset, tmp_path, capsys):
    asm = MODINFO + f".data\n.quad 0\n.reloc {offset}, {rtype}, {VM}\n"
    path = _cross_object(arch, asm, tmp_path / "end.o")
    status, _o, err = run([path, tmp_path / "end.ko"], capsys)
    assert status == 0, err


@pytest.mark.parametrize("code", [f"b {VM}\n", f"b {VM}\nblr\n", f"nop\nb {VM}\n"])
def test_ppc64_sibling_call_needs_no_nop(code, tmp_path, capsys):
    """restore_r2() (arch/powerpc/kernel/module_64.c, 6.1 to 7.3) only
    wants the nop after a relative *link* branch: a sibling call 'b sym'
    does not return, so nothing restores r2 after it, even at the very
    end of its section."""
    path = _ppc_object(MODINFO + ".text\n" + code, tmp_path / "b.o")
    out = tmp_path / "b.ko"
    status, _o, err = run([path, out], capsys)
    assert status == 0, err
    assert ".klp.rela.vmlinux..text" in {s.name for s in Elf(out.read_bytes()).sections}


def test_ppc64_link_call_at_the_end(tmp_path, capsys):
    path = _ppc_object(MODINFO + f".text\nnop\nbl {VM}\n", tmp_path / "bl.o")
    _expect_refused(path, tmp_path, capsys, ["R_PPC64_REL24", "no instruction after it"])


@pytest.mark.parametrize("arch,rtype,words", [
    ("x86_64", "R_X86_64_32", ["overflow in relocation type 10"]),
    ("ppc64le", "R_PPC64_ADDR32", ["truncates"]),
    ("s390x", "R_390_16", ["16 bits"]), ("s390x", "R_390_32", ["0x3ffe0000000"]),
    ("s390x", "R_390_PC16DBL", ["64 KiB"]),
    ("aarch64", "R_AARCH64_ABS32", ["-ERANGE"]),
    ("aarch64", "R_AARCH64_CONDBR19", ["1 MiB"]),
    ("aarch64", "R_AARCH64_MOVW_UABS_G0", ["-ERANGE"]),
])
def test_types_that_cannot_hold_a_kernel_address(arch, rtype, words, tmp_path, capsys):
    """Absolute fields narrower than a kernel address, and place-relative
    ones that only reach around the site: the kernel refuses them at load
    (x86_64 'overflow in relocation type 10', arm64 -ERANGE, s390x
    'relocation error') or, on ppc64, truncates the address silently."""
    asm = MODINFO + f".data\n.quad 0\n.reloc 0, {rtype}, {VM}\n"
    path = (assemble(asm, tmp_path / "narrow.o") if arch == "x86_64"
            else _cross_object(arch, asm, tmp_path / "narrow.o"))
    _expect_refused(path, tmp_path, capsys, [rtype, "cannot be a livepatch relocation",
                                             "section '.data' offset 0x0", *words])


def _set_header_field(path, section, offset, fmt, value):
    raw = bytearray(path.read_bytes())
    elf = Elf(bytes(raw))
    shoff = struct.unpack_from("<Q", raw, 0x28)[0]
    struct.pack_into("<" + fmt, raw, shoff + 64 * elf.by_name(section).index + offset,
                     value)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("link", ["zero", "strtab"])
def test_relocation_section_not_linked_to_symtab(link, tmp_path, capsys):
    """apply_relocations() applies every SHT_RELA section against the
    module's only symbol table, whatever its sh_link: such a section must
    not be skipped (its klp relocation would stay an ordinary one against
    a livepatch symbol: a call to address 0)."""
    path = assemble(MODINFO + f".text\ncall {VM}\ncall printk\n", tmp_path / "link.o")
    value = 0 if link == "zero" else Elf(path.read_bytes()).by_name(".strtab").index
    _set_header_field(path, ".rela.text", 40, "I", value)     # sh_link
    _expect_refused(path, tmp_path, capsys, ["section '.rela.text'",
                                             f"sh_link {value}", ".symtab",
                                             "apply_relocations()"])


def test_livepatch_flag_on_a_section_that_is_not_rela(tmp_path, capsys):
    """The kernel applies any section with SHF_RELA_LIVEPATCH as RELA
    entries, whatever its sh_type (apply_relocations(),
    klp_apply_object_relocs())."""
    path = assemble(MODINFO + f'.text\ncall {VM}\n.section .klp.rela.vmlinux..text,"a"\n'
                    ".quad 0, 0, 0\n", tmp_path / "flag.o")
    raw = path.read_bytes()
    _set_header_field(path, ".klp.rela.vmlinux..text", 8, "Q", 0x100002)  # sh_flags
    assert path.read_bytes() != raw
    _expect_refused(path, tmp_path, capsys, ["section '.klp.rela.vmlinux..text'",
                                             "SHF_RELA_LIVEPATCH", "SHT_RELA"])


LOAD_TIME = ["__param", "__ksymtab", "__kcrctab", "__kflagstab",
             ".gnu.linkonce.this_module", ".ctors", "__mcount_loc",
             "__patchable_function_entries", "__tracepoints_ptrs",
             "___srcu_struct_ptrs", "__bpf_raw_tp_map", "_ftrace_events",
             "_ftrace_eval_map", "__trace_printk_fmt",
             "_error_injection_whitelist", "_kprobe_blacklist", ".printk_index",
             ".kunit_test_suites", "__dyndbg", "__dyndbg_classes", ".BTF",
             "__kcfi_traps", ".cfi_sites", ".note.gnu.build-id", ".orc_header",
             "__ftr_fixup", ".s390_indirect_call", "__stack_protector_loc"]


@pytest.mark.parametrize("section", LOAD_TIME)
def test_load_time_section_module_symbol(section, tmp_path, capsys):
    """Sections the loader (load_module(), post_relocation(), the arch's
    module_finalize(), the module notifiers) reads while the patch module
    loads: a module-specific relocation there is written too late."""
    asm = MODINFO + f'.section {section},"a"\n.quad {MOD}\n'
    path = assemble(asm, tmp_path / "lt.o")
    _expect_refused(path, tmp_path, capsys, [f"special section '{section}'",
                                             ".klp.sym.rela.mymod.mymod.foo,0",
                                             "when the patch module loads"])


@pytest.mark.parametrize("section", LOAD_TIME)
def test_load_time_section_vmlinux_symbol(section, tmp_path, capsys):
    """vmlinux relocations are applied in apply_relocations(), before any
    of those readers run."""
    asm = MODINFO + f'.section {section},"a"\n.quad {VM}\n'
    path = assemble(asm, tmp_path / "lt.o")
    status, _o, err = run([path, tmp_path / "lt.ko"], capsys)
    assert status == 0, err


@pytest.mark.parametrize("section,words", [
    (".data..percpu", ["copied to every CPU", "layout_and_allocate()"]),
    (".modinfo", ["not loaded", "rewrite_section_headers()"]),
    ("__versions", ["not loaded", "rewrite_section_headers()"]),
    ("__version_ext_names", ["not loaded", "rewrite_section_headers()"]),
])
@pytest.mark.parametrize("sym", [VM, MOD])
def test_sections_the_loader_deallocates(section, words, sym, tmp_path, capsys):
    """SHF_ALLOC in the file, dropped by the loader before relocations are
    applied: refused for every lp-obj (percpu: 6.1 and 6.12 skip the
    relocation silently)."""
    flags = '"a"' if section == ".modinfo" else '"aw"'
    asm = MODINFO + f'.section {section},{flags}\n.quad {sym}\n'
    path = assemble(asm, tmp_path / "na.o")
    _expect_refused(path, tmp_path, capsys, [f"section '{section}'", *words])


def test_ppc64_late_store_into_read_only_data(tmp_path, capsys):
    """ppc64's apply_relocate_add() writes R_PPC64_ADDR64 with a plain
    store; a module-specific relocation comes after module_enable_ro()."""
    asm = MODINFO + f'.section .rodata.tab,"a"\n.quad {MOD}\n'
    path = _ppc_object(asm, tmp_path / "ro.o")
    _expect_refused(path, tmp_path, capsys, ["section '.rodata.tab'",
                                             "R_PPC64_ADDR64", "plain store"])


@pytest.mark.parametrize("section,sym", [(".data.tab", MOD), (".rodata.tab", VM),
                                         (".data.rel.ro.tab", MOD)])
def test_ppc64_writable_or_early_is_fine(section, sym, tmp_path, capsys):
    flags = '"a"' if section.startswith(".rodata") else '"aw"'
    path = _ppc_object(MODINFO + f".section {section},{flags}\n.quad {sym}\n",
                       tmp_path / "rw.o")
    status, _o, err = run([path, tmp_path / "rw.ko"], capsys)
    assert status == 0, err
