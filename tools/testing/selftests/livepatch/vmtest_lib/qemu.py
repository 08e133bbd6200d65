# SPDX-License-Identifier: GPL-2.0-only
"""Boot the kernel under QEMU and follow its serial console."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from typing import Callable, List, NamedTuple, Optional

from .config import VmtestError

APPEND = ("console=ttyS0 panic=-1 oops=panic softlockup_panic=1 loglevel=2 rdinit=/init "
          "mitigations=off")


class Run(NamedTuple):
    finished: bool          # the init's done marker was seen
    timed_out: bool
    returncode: Optional[int]
    seconds: float


def command(vmlinuz: str, initrd: str, kvm: bool, memory: str) -> List[str]:
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise VmtestError("qemu-system-x86_64 not found (apt install qemu-system-x86)")
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", "max"]
    # One vCPU: with two, toggling a static key (text_poke_bp() waits for
    # every CPU) stalled both vCPUs under TCG on a loaded host, a soft
    # lockup; with one it passed under load, and the run is faster.
    return [qemu, *accel, "-m", memory, "-smp", "1", "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-kernel", vmlinuz, "-initrd", initrd, "-append", APPEND]


def boot(cmd: List[str], log_path: str, deadline: float, done_marker: str,
         on_line: Callable[[str], None]) -> Run:
    """Run QEMU until it exits or @deadline (time.monotonic()) passes;
    every console line goes to @log_path and to @on_line."""
    start = time.monotonic()
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def reader() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    finished = timed_out = False
    try:
        with open(log_path, "w") as log:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                try:
                    line = lines.get(timeout=min(left, 1.0))
                except queue.Empty:
                    continue
                if line is None:
                    break
                log.write(line)
                log.flush()
                if done_marker in line:
                    finished = True
                on_line(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return Run(finished, timed_out, proc.returncode, time.monotonic() - start)


def kvm_works(vmlinuz: str, initrd: str, workdir: str, marker: str,
              seconds: float = 20.0) -> bool:
    """Boot once with KVM; a KVM guest has been seen to hang at boot on
    these machines, so only a guest that reaches userspace in time counts."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    run = boot(command(vmlinuz, initrd, True, "512M"),
               os.path.join(workdir, "kvm-probe.log"),
               time.monotonic() + seconds, marker, lambda line: None)
    return run.finished
