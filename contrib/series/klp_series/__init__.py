# SPDX-License-Identifier: GPL-2.0-only
"""gen-patch-series: the klp-convert project as an upstream patch series.

Modules, one job each:

  base        which kernel a tree is, and the series' layout on it
  project     the project's committed files and what never goes upstream
  plan        the patches: which project files each one takes, and where
  merge       merging a project file into a file the kernel already has
  edits       small edits of kernel files (MAINTAINERS, livepatch.h, ...)
  assemble    the temporary git tree, the commits, git format-patch
  checkpatch  the tree's checkpatch.pl --strict and the justifications
  buildcheck  make M=samples/livepatch after every patch
  cover       the cover letter
  templates   the long texts (templates/*.txt)
  cli         the command line
"""
