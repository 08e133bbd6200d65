# SPDX-License-Identifier: GPL-2.0-only
"""Close names, and benchmarks/bench_symbols.py's generated data (no
timing here: the benchmark measures)."""

from __future__ import annotations

import importlib.util
import random

from symtest import TOP, assemble, calls, run
from klp_convert.suggest import base_name, close_names

NAMES = ["saved_command_line", "saved_command_line_len", "cmdline_proc_show",
         "cmdline_proc_show.isra.0", "foo", "foo.isra.1", "foo.cold",
         "schedule_timeout", "schedule_hrtimeout", "io_schedule_timeout",
         "vp_setup_vq", "__x64_sys_open"]
BLOB = "\n".join(NAMES).encode()


def test_base_name():
    assert base_name("foo.constprop.0.isra.0") == "foo"
    assert base_name("baz.cold") == "baz" and base_name("a.b") == "a.b"


def test_clones_lead():
    assert close_names("cmdline_proc_show", BLOB)[0] == \
        "cmdline_proc_show.isra.0"
    assert close_names("foo.isra.0", BLOB)[:3] == [
        "foo", "foo.isra.1", "foo.cold"]


def test_typos_and_words():
    assert close_names("saved_comand_line", BLOB)[0] == "saved_command_line"
    assert close_names("schedule_timout", BLOB)[0] == "schedule_timeout"
    assert close_names("__x64_sys_opn", BLOB) == ["__x64_sys_open"]
    assert "vp_setup_vq" in close_names("setup_vq", BLOB)
    assert close_names("xyzzy", BLOB) == []
    assert len(close_names("s", BLOB, limit=2)) <= 2


def test_among_200k_names():
    rng = random.Random(3)
    words = ["alloc", "free", "inode", "cache", "dentry", "lock", "queue",
             "page", "work", "timer", "net", "dev"]
    names = {"_".join(rng.choice(words) for _ in range(3)) + f"_{i}"
             for i in range(200_000)}
    names.add("do_sys_openat2")
    blob = "\n".join(sorted(names)).encode()
    assert close_names("do_sys_opnat2", blob)[0] == "do_sys_openat2"
    target = sorted(names)[12345]
    typo = target[:2] + target[3:]
    assert target in close_names(typo, blob)


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_symbols", TOP / "benchmarks" / "bench_symbols.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_data_verifies(tmp_path, capsys):
    """The generated dump and module convert with --symbols, and the
    module with a typo is refused: what the benchmark times works."""
    bench = _bench()
    rng = random.Random(1)
    dump = tmp_path / "kallsyms.txt"
    uniques, homonyms, mod_syms = bench.make_dump(str(dump), 20_000, rng)
    assert len(dump.read_text().splitlines()) >= 19_900
    refs = bench.references(40, uniques, homonyms, mod_syms, rng)
    assert any(r.endswith(",2") for r in refs)
    good = tmp_path / "lp.ko"
    bench.build_module(str(good), refs)
    assert run(["--symbols", dump, good, tmp_path / "out.ko"], capsys) == \
        (0, "", "")
    bad = assemble(tmp_path / "bad.ko",
                   calls(".klp.sym.rela.vmlinux.vmlinux.nosuchname,0"))
    status, _o, err = run(["--symbols", dump, bad, tmp_path / "o2.ko"], capsys)
    assert status == 1 and "symbol 'nosuchname' not found in vmlinux" in err
