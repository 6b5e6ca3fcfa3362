"""Peak resident memory of training on features of the full TAU development-set size (bounded memory).

For each system, fabricates (RANDOM values, the real per-clip shapes of the system's paper profile)
the feature stores of 12,292 clips on disk, then trains a few steps of the step that reads the
most data in a fresh process and prints its peak RSS against the 6 GB target. Files are deleted
after each system. Check free disk first: the paper profiles need ~6 GB (SE-CRNN), ~20 GB
(dual-stream, raw 224x224 frames) and ~32 GB (joint, raw 288x288 frames); ``--clips`` scales down.

    .venv/bin/python benchmarks/bench_scale_memory.py [--systems secrnn dualstream joint] [--clips 12292]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILES = {"secrnn": "paper.yaml", "dualstream": "paper-dualstream.yaml", "joint": "paper-joint.yaml"}
#: The step that reads the most data per system at its paper profile.
STEPS = {"secrnn": "fusion", "dualstream": "fusion", "joint": "fusion"}
TARGET_GB = 6.0


def profile_doc(system: str) -> dict:
    doc = yaml.safe_load((REPO / "profiles" / PROFILES[system]).read_text())
    doc["model"]["system"] = system
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--clips", type=int, default=12_292)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to fabricate (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the fabricated files")
    args = parser.parse_args()

    from avsc.benchmarking.fabricate import fabricate_workspace, feature_shapes
    from avsc.config.settings import Params
    from avsc.systems import get_system
    from avsc.systems.base import STAGES

    rows = []
    for system in args.systems:
        doc = profile_doc(system)
        params = Params.model_validate(doc)
        shapes = feature_shapes(params)
        modalities = get_system(system).modalities(STEPS[system], params)
        shapes = {m: s for m, s in shapes.items() if m in modalities}
        need = sum(s.nbytes for s in shapes.values()) * args.clips
        free = shutil.disk_usage(args.dir or tempfile.gettempdir()).free
        print(f"{system}: {', '.join(f'{m} {s.shape} {s.dtype}' for m, s in shapes.items())}", flush=True)
        print(f"  {args.clips} clips need {need / 1e9:.1f} GB on disk; {free / 1e9:.1f} GB free", flush=True)
        if need > 0.8 * free:
            print("  SKIPPED: not enough free disk (use --clips to scale down)", flush=True)
            continue
        folder = Path(tempfile.mkdtemp(prefix=f"avsc-scale-{system}-", dir=args.dir))
        try:
            started = time.perf_counter()
            written = fabricate_workspace(folder, doc, params, n_clips=args.clips, shapes=shapes)
            made = time.perf_counter() - started
            print(f"  fabricated {sum(written.values()) / 1e9:.1f} GB in {made:.0f} s", flush=True)
            env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
            command = [sys.executable, "-m", "avsc.benchmarking.memory", str(folder), STEPS[system]]
            # at least one whole update: every micro-batch of a gradient-accumulation cycle
            accumulate = params.train_section(STAGES[STEPS[system]]).gradient_accumulation_steps
            out = subprocess.run(
                [*command, "--steps", str(max(args.steps, accumulate))],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode:
                print(out.stderr[-3000:], flush=True)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["disk_gb"] = sum(written.values()) / 1e9
            rows.append(row)
            print(f"  {json.dumps(row)}", flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    print()
    print(
        f"{'system':<11} {'step':<7} {'clips':>6} {'features GB':>11} {'batch':>9} {'s/pass':>7} "
        f"{'peak RSS GB':>11}  target"
    )
    for r in rows:
        ok = "ok" if r["peak_rss_gb"] <= TARGET_GB else "MISSED"
        accumulate = r.get("gradient_accumulation_steps", 1)
        batch = f"{accumulate}x{r['batch_size'] // accumulate}" if accumulate > 1 else str(r["batch_size"])
        print(
            f"{r['system']:<11} {r['step']:<7} {r['n_train'] + r['n_validation']:>6} {r['disk_gb']:>11.1f} "
            f"{batch:>9} {r['seconds_per_step']:>7.1f} {r['peak_rss_gb']:>11.2f}  <= {TARGET_GB:g} GB {ok}"
        )
    print("(random feature values; train + validation clips read, evaluate clips fabricated but not read;")
    print(" batch: forward passes x examples per pass under gradient accumulation; s/pass: per forward pass)")


if __name__ == "__main__":
    main()
