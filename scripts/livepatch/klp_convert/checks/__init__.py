# SPDX-License-Identifier: GPL-2.0-only
"""The rules: what the kernel would refuse, or apply other than meant,
caught at build time.

Each rule is one function that looks at one thing (a symbol, a section,
a module, or the relocations of one section at once) and returns the
message for what is wrong with it, or None; a rule over many relocations
returns (index, message) of the first offending one, found in one pass.
The callers (convert's plan checks, verify, strip, symcheck) add where it
is and raise or collect.

  module       whole-module rules (signature, .modinfo, machine, counts)
  symbols      intermediate and livepatch symbols
  relocations  relocations that move and their targets and sites; the
               relocation sections of a finished module (--check)
  finished     --check's rules for the rest of a finished module
  kernel       symbol verification against the target kernel

The rules and where the kernel enforces them are summarised in
Documentation/livepatch/klp-convert.rst.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    # the index of the offending item among those given, and the message
    Found = Optional[tuple[int, str]]


def error(message: str) -> str:
    """An error message (a function so that tests/docs finds the text
    and checks that it is documented)."""
    return message
