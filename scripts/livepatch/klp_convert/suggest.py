# SPDX-License-Identifier: GPL-2.0-only
"""Close names for a symbol that is not found, among some 200,000.

Candidates come from cheap searches done at C speed over the names,
joined into one bytes blob (one name per line) and a set:

- compiler clones of the name, or the name without its clone suffix
  (foo -> foo.constprop.0, foo.isra.0 -> foo, foo.isra.1);
- every name at edit distance 1 (one character deleted, inserted,
  replaced, or two swapped), generated and looked up in the set;
- names that contain one of the name's two longest words (split at '_'
  and '.'), found with bytes.find(), the 300 that share most words and
  differ least in length;

then ranked with difflib.  Only the candidates reach Python code, never
the whole table.
"""

from __future__ import annotations

import re

from .ksyms import CLONE_RE

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_."
_MAX_WORD_HITS = 2000
_MIN_RATIO = 0.6
_SHORTLIST = 300
_WORD_SPLIT = re.compile(rb"[_.]+")


def base_name(name: str) -> str:
    """@name without a compiler-made suffix (foo.isra.0 -> foo)."""
    m = CLONE_RE.search(name)
    return name[:m.start()] if m else name


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    out |= {a + c + b for a, b in splits for c in _ALPHABET}
    out.discard(word)
    return out


def _lines_with(blob: bytes, needle: bytes, limit: int) -> list[bytes]:
    """The names (lines of @blob) that contain @needle."""
    out: list[bytes] = []
    i = blob.find(needle)
    while i >= 0 and len(out) < limit:
        start = blob.rfind(b"\n", 0, i) + 1
        end = blob.find(b"\n", i)
        out.append(blob[start:end])
        i = blob.find(needle, end)
    return out


def _shortlist(name: bytes, cands: set[bytes]) -> list[bytes]:
    """The _SHORTLIST candidates that share most words with @name and
    differ least in length: difflib costs some 40 us a candidate."""
    if len(cands) <= _SHORTLIST:
        return list(cands)
    words = set(_WORD_SPLIT.split(name))
    return sorted(cands, key=lambda c: (
        -len(words.intersection(_WORD_SPLIT.split(c))),
        abs(len(c) - len(name))))[:_SHORTLIST]


def _clones(blob: bytes, name: str) -> list[str]:
    """Names of @blob that are @name's base name, or it with a suffix
    that starts with a dot."""
    base = b"\n" + base_name(name).encode("utf-8", "surrogateescape")
    out = []
    i = blob.find(base)
    while i >= 0:
        end = blob.find(b"\n", i + 1)
        if blob[i + len(base):i + len(base) + 1] in (b"\n", b"."):
            out.append(blob[i + 1:end].decode("utf-8", "surrogateescape"))
        i = blob.find(base, i + 1)
    return out


def close_names(name: str, blob: bytes, limit: int = 5) -> list[str]:
    """Up to @limit names of @blob ("\\n"-separated) close to @name, best
    first; compiler clones of the same function lead."""
    if not blob.startswith(b"\n"):
        blob = b"\n" + blob
    if not blob.endswith(b"\n"):
        blob += b"\n"
    clones = [c for c in _clones(blob, name) if c != name]
    pool = set(blob.split(b"\n"))
    enc = name.encode("utf-8", "surrogateescape")
    near = {c for c in _edits1(name)
            if c.encode("utf-8", "surrogateescape") in pool}
    words = sorted({w for w in re.split(r"[_.]+", name) if len(w) >= 3},
                   key=len, reverse=True)[:2]
    more: set[bytes] = set()
    for w in words:
        more.update(_lines_with(blob, w.encode("utf-8", "surrogateescape"),
                                _MAX_WORD_HITS))
    more.discard(enc)
    import difflib          # only on this error path
    ranked = difflib.get_close_matches(
        enc, _shortlist(enc, more) + [n.encode("utf-8", "surrogateescape")
                                      for n in near],
        n=limit, cutoff=_MIN_RATIO)
    out: list[str] = []
    for cand in clones + sorted(near) + [r.decode("utf-8", "surrogateescape")
                                         for r in ranked]:
        if cand not in out:
            out.append(cand)
    return out[:limit]
