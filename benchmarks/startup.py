"""Start-up: time from the command to the first training step, against `import torch`.

Two kinds of fresh processes, alternating over `--repeats` rounds:
- `python -c "import torch"`: the floor any PyTorch program pays (until the import is
  done, as the process itself reports it: its exit is not counted);
- `python -m ganlab trainer.epochs=1 ...` (the default ring8 run) with a small shim that
  timestamps the phases of start-up and exits at the first discriminator step.
The shim is imported first, so torch and ganlab's trainer module are imported before
anything else (with the garbage collector paused, as `ganlab-train` pauses it first
thing: ganlab.core.collection); every later import is counted in the phase that
triggers it. Times are
from just before the process is started (measured by this script) to each phase.

    python benchmarks/startup.py [--repeats 5] [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SHIM = r"""
import json, os, sys, time
try:  # ganlab-train's main() pauses the garbage collector first thing; so does the shim
    from ganlab.core import collection
    collection.pause()
except ImportError:  # code from before the collector was paused at start-up
    pass
import ganlab.training.steps as trainer_module
marks = {"imports (torch, ganlab.training.steps)": time.time()}
def mark(name):
    marks.setdefault(name, time.time())
def wrap(module, attr, before=None, after=None):
    original = getattr(module, attr)
    def wrapper(*args, **kwargs):
        if before: mark(before)
        result = original(*args, **kwargs)
        if after: mark(after)
        return result
    setattr(module, attr, wrapper)
import ganlab.launch.overrides, ganlab.training.run, ganlab.training.loop
wrap(ganlab.launch.overrides, "check_overrides", after="command line checked")
wrap(ganlab.training.run.Run, "create", before="Hydra composed the config")
wrap(ganlab.training.loop.FitLoop, "run", before="run created (store, params, model)")
def first_step(self, sigma, _original=trainer_module.Trainer._d_step):
    mark("first training step (epoch-0 monitors done)")
    print("GANLAB_STARTUP " + json.dumps(marks), file=sys.__stderr__, flush=True)
    os._exit(0)
trainer_module.Trainer._d_step = first_step
import runpy
sys.argv = ["ganlab"] + sys.argv[1:]
runpy.run_module("ganlab", run_name="__main__")
"""


BARE_TORCH = (
    "import torch, time, sys; "
    "print('GANLAB_STARTUP {\"torch\": %f}' % time.time(), file=sys.stderr)"
)


def timed(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, dict, float]:
    started = time.time()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    ended = time.time()
    marks = {}
    for line in result.stderr.splitlines():
        if line.startswith("GANLAB_STARTUP "):
            marks = {k: v - started for k, v in json.loads(line.split(" ", 1)[1]).items()}
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return started, marks, ended - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", help="extra overrides for the ganlab run")
    args = parser.parse_args()
    torch_times, phases = [], []
    with tempfile.TemporaryDirectory() as root:
        env = {**os.environ, "GANLAB_ROOT": root}
        command = [sys.executable, "-c", SHIM, "trainer.epochs=1", "trainer.progress=none"]
        for _ in range(args.repeats):
            torch_times.append(timed([sys.executable, "-c", BARE_TORCH], env, root)[1]["torch"])
            phases.append(timed([*command, *args.overrides], env, root)[1])
    bare = statistics.median(torch_times)
    print(f"{args.repeats} rounds, medians; {os.cpu_count()} cores")
    print(f"  python -c 'import torch'            {bare:6.2f} s")
    names = list(phases[0])
    previous = 0.0
    for name in names:
        at = statistics.median(p[name] for p in phases)
        print(f"  {name:<44}{at:6.2f} s  (+{at - previous:5.2f})")
        previous = at
    first = statistics.median(p[names[-1]] for p in phases)
    print(
        f"command to first step: {first:.2f} s = import torch + {first - bare:.2f} s "
        f"(target: import torch + 2 s)"
    )


if __name__ == "__main__":
    main()
