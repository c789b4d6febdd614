"""Speed that holds when the CPU is shared: a fixed sampling slice timed alone and beside a
spinning process, for each setting the suite can choose (issue 37 §5).

Issue 37 measured the main job at 4.5× its quiet time beside one other CPU-bound process, and
its sampling at 7×: torch's threads wait for each other at every parallel region, so a thread
whose core is shared holds the others back. Which setting holds up best (torch's threads, the
OpenMP wait policy, images per UNet call) is a measurement, not a guess, so `bench perf
--shared-cpu` makes it:

- Each setting runs in its own subprocess (``python -m bench.runner.sharedcpu``), because OpenMP
  reads ``OMP_WAIT_POLICY`` once, when torch loads it; the threads come in as ``BENCH_THREADS``.
- Inside it, the measurement starts one competing process itself (``spinner``: a CPU-bound
  Python loop), pauses it (SIGSTOP) for each "alone" timing and resumes it (SIGCONT) for each
  "shared" one, the two taking turns, so both sides of the ratio come from the same minutes and
  a machine that gets busier midway slows both. Each side keeps its median repeat: beside a
  spinner the fastest repeat is the one the scheduler happened to favour, not what a long job
  sees.
- The spinner is killed when the measurement ends, by error too, and exits by itself if the
  process that started it dies (it watches its parent's id), so it never outlives the run.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.errors import BenchError
from bench.utils.runtime import available_cpus, requested_threads

WAIT_POLICIES = (None, "passive", "active")  # None: OMP_WAIT_POLICY unset, the runtime's default
GOAL = 2.2  # issue 37: a job beside one competing process takes at most 2.2× its quiet time

# CPU-bound until its parent is no longer the process that started it (the parent died and it
# was re-parented): a spinner never outlives the measurement that started it, even one killed
# without running its cleanup. The starter's id comes as an argument, since reading it at start
# would read the new parent's when the starter died while the spinner was still starting.
SPIN = (
    "import os, sys\n"
    "parent = int(sys.argv[1])\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        pass\n"
)


@dataclass(frozen=True)
class Setting:
    """One way the suite could run: torch's threads, OpenMP's wait policy, images per UNet call.

    Args:
        threads: torch's intra-op threads (``BENCH_THREADS``).
        wait_policy: ``OMP_WAIT_POLICY`` (``passive``, ``active``), or None to leave it unset.
        unet_batch: most images per UNet call (the work split); None keeps the card's own.
    """

    threads: int
    wait_policy: str | None
    unet_batch: int | None

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this setting's threads and wait policy (an unset policy removed)."""
        env = {k: v for k, v in base.items() if k != "OMP_WAIT_POLICY"}
        env["BENCH_THREADS"] = str(self.threads)
        if self.wait_policy is not None:
            env["OMP_WAIT_POLICY"] = self.wait_policy
        return env


@dataclass(frozen=True)
class SharedCpuSettings:
    """The workload and the settings tried.

    Args:
        model: the zoo card whose UNet samples (trained weights where it has a checkpoint).
        batch: images per sampling batch (the suite's 256).
        steps: sampling steps of the slice (short: the slice stands for any sampling loop).
        repeats: alternating alone/shared timings per setting (each side keeps its median).
        threads: torch threads tried; 0 stands for all the CPUs this process may use.
        wait_policies: ``OMP_WAIT_POLICY`` values tried (None: unset).
        unet_batches: images per UNet call tried (None: the card's own).
    """

    model: str = "celeba-64-cpu"
    batch: int = 256
    steps: int = 5
    repeats: int = 3
    threads: tuple[int, ...] = (1, 2, 0)
    wait_policies: tuple[str | None, ...] = WAIT_POLICIES
    unet_batches: tuple[int | None, ...] = (None, 32)


QUICK = {"batch": 16, "steps": 2, "repeats": 1, "unet_batches": (None, 8)}


def settings_tried(settings: SharedCpuSettings) -> list[Setting]:
    """Every combination, threads resolved (0: all CPUs) and repeats dropped (2 is all on 2)."""
    threads = sorted({n or available_cpus() for n in settings.threads})
    return [
        Setting(n, policy, split)
        for n in threads
        for policy in settings.wait_policies
        for split in settings.unet_batches
    ]


def default_setting() -> Setting:
    """What the suite runs with now: its threads rule, the wait policy of this environment and
    the card's own images per call."""
    return Setting(requested_threads(), os.environ.get("OMP_WAIT_POLICY") or None, None)


class Spinner:
    """The competing process, paused or running; each change waits until the kernel reports it
    (a signal is delivered asynchronously), and asking for the state it is in does nothing."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.paused = False

    def pause(self) -> None:
        if not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            os.waitpid(self.proc.pid, os.WUNTRACED)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            os.waitpid(self.proc.pid, os.WCONTINUED)
            self.paused = False


@contextmanager
def spinner() -> Iterator[Spinner]:
    """One competing CPU-bound process, started here and killed on the way out, error or not."""
    if not hasattr(signal, "SIGSTOP"):
        raise BenchError("the shared-CPU measurement pauses its spinner with SIGSTOP (POSIX only)")
    proc = subprocess.Popen(
        [sys.executable, "-c", SPIN, str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Spinner(proc)
    finally:
        proc.kill()
        proc.wait()


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def alone_and_shared(work: Callable[[], object], spin: Spinner, repeats: int) -> dict[str, float]:
    """``work`` timed with the spinner paused and running, in turns, after one untimed warm-up
    alone; each side's median repeat, and ``ratio``: shared over alone."""
    spin.pause()
    work()
    alone, shared = [], []
    for _ in range(repeats):
        alone.append(timed(work))
        spin.resume()
        shared.append(timed(work))
        spin.pause()
    a, s = statistics.median(alone), statistics.median(shared)
    return {"alone_s": a, "shared_s": s, "ratio": s / a}


def measure_here(model: str, batch: int, steps: int, repeats: int, unet_batch: int | None) -> dict:
    """One setting, in this process (the subprocess's side): threads from ``BENCH_THREADS``, the
    wait policy from the environment torch was loaded in."""
    import torch

    from bench.cards import model_card
    from bench.runner.throughput import perf_model
    from bench.utils.runtime import apply_threads
    from bench.zoo.build import build_sampler
    from bench.zoo.sampling import batch_generator, sample_batch

    threads = apply_threads()
    perf = perf_model(model_card(model))
    card = perf.card
    den = perf.denoiser if unet_batch is None else replace(perf.denoiser, unet_batch=unet_batch)

    @torch.no_grad()
    def work() -> object:
        sampler = build_sampler(card)
        return sample_batch(den, sampler, batch, card.resolution, steps, batch_generator(0, 0))

    with spinner() as spin:
        times = alone_and_shared(work, spin, repeats)
    return times | {
        "threads": threads,
        "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "unet_batch": den.unet_batch or batch,
        "image_steps_per_s": batch * steps / times["alone_s"],
    }


def run_setting(settings: SharedCpuSettings, setting: Setting) -> dict[str, Any]:
    """One setting in a fresh subprocess, so OpenMP starts with this setting's environment."""
    job = {
        "model": settings.model,
        "batch": settings.batch,
        "steps": settings.steps,
        "repeats": settings.repeats,
        "unet_batch": setting.unet_batch,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.runner.sharedcpu"],
        input=json.dumps(job),
        env=setting.environment(dict(os.environ)),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"the shared-CPU measurement of {setting} failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_shared_cpu(settings: SharedCpuSettings, progress: bool = False) -> dict[str, Any]:
    """Every setting, one subprocess each, as plain data for ``bench.report.sharedcpu``. The
    card is resolved first, so a wrong name is one line before any subprocess starts."""
    from bench.cards import model_card

    model_card(settings.model)
    rows = []
    for setting in settings_tried(settings):
        if progress:
            print(f"timing {setting} alone and beside a spinner …", flush=True)
        rows.append({"setting": asdict(setting)} | run_setting(settings, setting))
    return {
        "settings": asdict(settings),
        "cpus": available_cpus(),
        "default": asdict(default_setting()),
        "rows": rows,
    }


def main() -> int:
    """The subprocess of ``run_setting``: a JSON job on stdin, one JSON line on stdout."""
    try:
        print(json.dumps(measure_here(**json.loads(sys.stdin.read()))))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
