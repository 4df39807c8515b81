"""Sampling the running hub with py-spy during a stage, and its top functions by own time.

py-spy reads the hub process from outside (no change to the hub, every thread seen). Only
samples of the thread holding the GIL are kept (`--gil`): in a threaded Python server that is
the one resource every request queues for, so "own time" here is where the GIL goes, and the
share of sampling rounds that found the GIL held says how close the hub is to being GIL-bound.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_RATE_PER_S = 200
STOP_WAIT_S_MAX = 30.0
TOP_FUNCTIONS = 15
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


@dataclass
class Profile:
    """One stage's samples: where the raw file is, and the summary (or why there is none)."""

    stage: str
    raw_path: Path
    error: str = ""
    samples: int = 0
    duration_s: float = 0.0
    own: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)

    def top(self, count: int = TOP_FUNCTIONS) -> list[dict[str, Any]]:
        return [
            {
                "function": name,
                "own_percent": round(100 * own / self.samples, 1),
                "total_percent": round(100 * self.total[name] / self.samples, 1),
            }
            for name, own in self.own.most_common(count)
        ]

    def gil_held_percent(self) -> float | None:
        """Share of py-spy's sampling rounds that found some hub thread holding the GIL."""
        rounds = self.duration_s * SAMPLE_RATE_PER_S
        return round(min(100.0, 100 * self.samples / rounds), 1) if rounds else None

    def summary(self) -> dict[str, Any]:
        if self.error:
            return {"raw_path": None, "error": self.error}
        return {
            "raw_path": str(self.raw_path),
            "samples": self.samples,
            "gil_held_percent": self.gil_held_percent(),
            "top": self.top(),
        }

    def text(self) -> str:
        if self.error:
            return f"profile of {self.stage}: not available ({self.error})"
        lines = [
            f"profile of {self.stage}: {self.samples} samples of the thread holding the GIL "
            f"(GIL held in {self.gil_held_percent()}% of sampling rounds)",
            f"  raw stacks: {self.raw_path}",
            f"  {'own %':>6} {'total %':>8}  function (file)",
        ]
        lines += [
            f"  {row['own_percent']:>6} {row['total_percent']:>8}  {row['function']}"
            for row in self.top()
        ]
        return "\n".join(lines)


def py_spy_path() -> str | None:
    """py-spy next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def frame_name(frame: str) -> str:
    """`handle (exchange/api/pipeline.py:120)` → `handle (exchange/api/pipeline.py)`."""
    match = FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def summarize(profile: Profile) -> None:
    """Reads py-spy's raw (collapsed stacks) output: `frame;frame;...;frame count` per line."""
    for line in profile.raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(frame) for frame in stack.split(";")]
        profile.samples += count
        profile.own[frames[-1]] += count
        for name in set(frames):
            profile.total[name] += count


@contextmanager
def sampled(pid: int, stage: str, raw_path: Path) -> Iterator[Profile]:
    """py-spy records `pid` for the duration of the block; the profile is filled in after."""
    profile = Profile(stage, raw_path)
    executable = py_spy_path()
    if executable is None:
        profile.error = "py-spy is not installed (pip install py-spy)"
        yield profile
        return
    command = [executable, "record", "--pid", str(pid), "--format", "raw", "--nonblocking"]
    command += ["--gil", "--rate", str(SAMPLE_RATE_PER_S), "--output", str(raw_path)]
    recorder = subprocess.Popen(  # noqa: S603 - our own fixed argv
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    started_s = time.perf_counter()
    try:
        yield profile
    finally:
        profile.duration_s = time.perf_counter() - started_s
        _stop(recorder, profile)


def _stop(recorder: subprocess.Popen[bytes], profile: Profile) -> None:
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        _, stderr = recorder.communicate(timeout=STOP_WAIT_S_MAX)
    except subprocess.TimeoutExpired:
        recorder.kill()
        _, stderr = recorder.communicate()
    if not profile.raw_path.exists():
        reason = stderr.decode(errors="replace").strip().splitlines()
        profile.error = f"py-spy could not sample the hub: {reason[0] if reason else 'no output'}"
        return
    summarize(profile)
