# SPDX-License-Identifier: GPL-2.0-only
"""vmtest: run the klp-convert livepatch selftests in QEMU.

  config     options, paths, exit codes
  fetch      Debian packages and the kernel version to test
  build      the hooked headers copy and the test modules
  initramfs  the busybox initramfs and its /init (prints kselftest TAP)
  qemu       booting the kernel and watching its console
  tap        parsing the console into TAP results
  cli        main(argv)
"""
