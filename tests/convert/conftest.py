# SPDX-License-Identifier: GPL-2.0-only
"""pytest picks up the fixtures of convert_support.py here.  Test modules import
helpers from convert_support, never from "conftest": every test directory has a
conftest module, and which one that name means depends on the order pytest
imported them."""

from convert_support import fixture_obj  # noqa: F401
