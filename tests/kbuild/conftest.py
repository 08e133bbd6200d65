# SPDX-License-Identifier: GPL-2.0-only
"""pytest picks up the fixtures of kbuild_support.py here.  Test modules import
helpers from kbuild_support, never from "conftest": every test directory has a
conftest module, and which one that name means depends on the order pytest
imported them."""

from kbuild_support import suite, kernel, kbuild, plain_kbuild  # noqa: F401
