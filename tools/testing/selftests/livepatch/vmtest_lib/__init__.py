# SPDX-License-Identifier: GPL-2.0-only
"""vmtest: run the klp-convert livepatch selftests in QEMU.

  config      options, paths, exit codes
  cli         main(argv): --suite, --all, --print-env, --run
  runner      one kernel: set up, build, boot, judge (an Outcome)
  matrix      --all: one TAP line per kernel, the exit status
  build       the hooked headers copy and the test modules
  initramfs   the busybox initramfs and its /init (prints kselftest TAP)
  qemu        booting the kernel and watching its console
  tap         parsing the console into TAP results

The kernel environments (importable by tests and benchmarks; API in env):
  env         environment(suite): kernel, headers, where to build, run()
  suites      the supported Debian suites and their build suites
  aptsources  the host's Debian mirror, from its apt sources
  aptstate    a private apt state per suite (update, show, download)
  kernelpkgs  which packages make a suite's kernel; where files land
  unpack      download and dpkg-deb -x into a cached directory
  chroot      cached debootstrap chroots; running a command inside one
  cache       the cache directory, locks, atomic entries
  fetch       the host's own packages (plain vmtest, the host suite)
  progress    progress lines on stderr
"""
