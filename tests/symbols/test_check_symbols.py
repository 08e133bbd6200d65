# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --check --symbols / --symvers: a finished module's
livepatch symbols get the checks of a conversion, with the same
messages (the Kbuild hook runs this on a livepatch module that is up to
date when make is given KLP_SYMBOLS)."""

from __future__ import annotations

from symtest import assemble, run
from test_verify import DUMP, R, SYMVERS, lp


def converted_module(tmp_path, capsys, *names, data=(), extra=""):
    """@names converted without any symbols: (intermediate, finished)."""
    mod = lp(tmp_path, *names, data=data, extra=extra)
    out = tmp_path / "finished.ko"
    assert run([mod, out], capsys)[0] == 0
    return mod, out


def messages(err: str, path) -> list[str]:
    prefix = f"klp-convert: {path}: "
    lines = err.splitlines()
    assert all(line.startswith(prefix) for line in lines), err
    return [line[len(prefix):] for line in lines]


def test_finished_module_verified(tmp_path, capsys):
    dump = tmp_path / "kallsyms.txt"
    dump.write_text(DUMP)
    _mod, out = converted_module(
        tmp_path, capsys, f"{R}vmlinux.vmlinux.show_stat,2",
        f"{R}mod_a.mod_a.helper,1",
        data=(f"{R}vmlinux.vmlinux.saved_command_line,0",))
    before = out.read_bytes()
    status, o, err = run(["--check", "--symbols", dump, out], capsys)
    assert (status, err) == (0, "")
    assert o == (f"klp-convert: {out}: ok: 3 livepatch relocations in 2 "
                 "sections, 3 livepatch symbols, verified against the "
                 "target's symbols\n")
    assert out.read_bytes() == before
    status, o, err = run(["--check", "-q", "--symbols", dump, out], capsys)
    assert (status, o, err) == (0, "", "")


def test_finished_module_refused_as_the_conversion_would(tmp_path, capsys):
    """Not found, ambiguous and past the end: the lines of --check are the
    lines a conversion with --symbols prints for the same module."""
    dump = tmp_path / "kallsyms.txt"
    dump.write_text(DUMP)
    names = (f"{R}vmlinux.vmlinux.saved_comand_line,0",
             f"{R}vmlinux.vmlinux.show_stat,0", f"{R}mod_a.mod_a.helper,3",
             f"{R}mod_b.mod_b.helper,0")
    mod, out = converted_module(tmp_path, capsys, *names)
    status, _o, conv = run(["--symbols", dump, mod, tmp_path / "x.ko"],
                           capsys)
    assert status == 1
    status, o, err = run(["--check", "--symbols", dump, out], capsys)
    assert status == 1 and o == ""
    got = messages(err, out)
    # the order of the symbols follows the relocations: the lp-objs'
    # .klp.rela sections in the finished module
    assert sorted(got) == sorted(messages(conv, mod))
    assert any(line.startswith("symbol 'saved_comand_line' not found in "
                               "vmlinux") for line in got)
    assert any("'helper' is in module 'mod_a': is sym-obj right?" in line
               for line in got)
    assert "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, show_stat, <position>)" \
        in err and "position 3 is past the end" in err


def test_finished_module_warnings_and_strict(tmp_path, capsys):
    dump = tmp_path / "kallsyms.txt"
    dump.write_text(DUMP)
    _mod, out = converted_module(tmp_path, capsys,
                                 f"{R}vmlinux.vmlinux.unique_fn,1",
                                 f"{R}vmlinux.vmlinux.saved_command_line,0")
    status, o, err = run(["--check", "--symbols", dump, out], capsys)
    assert status == 0 and o.endswith("verified against the target's "
                                      "symbols\n")
    got = messages(err, out)
    assert "warning: symbol 'unique_fn' is unique in vmlinux" in got[0]
    assert any("calls 'saved_command_line', but in vmlinux it is data"
               in line for line in got), got
    status, o, err = run(["--check", "--strict", "--symbols", dump, out],
                         capsys)
    assert status == 1 and o == ""
    assert err.splitlines()[-1] == (f"klp-convert: {out}: 2 warning(s) and "
                                    "--strict: nothing written")


def test_finished_module_symvers(tmp_path, capsys):
    """A plain reference to an export of a patched module is refused in a
    finished module too; the lp-obj comes from the .klp.rela section."""
    symvers = tmp_path / "Module.symvers"
    symvers.write_text(SYMVERS)
    _mod, out = converted_module(tmp_path, capsys, f"{R}mod_a.mod_a.helper,1",
                                 extra="\tcall mod_a_api\n")
    status, _o, err = run(["--check", "--symvers", symvers, out], capsys)
    assert status == 1
    assert messages(err, out)[0].startswith(
        "undefined symbol 'mod_a_api' is exported by module 'mod_a', which "
        "this patch patches")


def test_not_a_livepatch_and_bad_source(tmp_path, capsys):
    dump = tmp_path / "kallsyms.txt"
    dump.write_text(DUMP)
    plain = assemble(tmp_path / "plain.ko", ".text\nf: ret\n")
    status, o, err = run(["--check", "--symbols", dump, plain], capsys)
    assert (status, err) == (0, "")
    assert o.endswith("ok: no livepatch relocations or symbols (not a "
                      "livepatch module)\n")
    missing = tmp_path / "nope.txt"
    status, o, err = run(["--check", "--symbols", missing, plain], capsys)
    assert (status, o) == (1, "")
    assert err == f"klp-convert: {missing}: No such file or directory\n"
