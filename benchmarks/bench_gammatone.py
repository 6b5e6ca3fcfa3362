"""Benchmark avsc's fast gammatonegram against the reference ``gammatone.gtgram.gtgram``.

Run: ``.venv/bin/python benchmarks/bench_gammatone.py``. Uses the real clips in
``<repo>/../shared/tau_audio``; prints a table and writes ``benchmarks/results/gammatone.json``.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from avsc.features.audio import clip_features, logmel, resample
from avsc.features.gammatone import gammatonegram

log = logging.getLogger("bench_gammatone")
REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO.parent / "shared" / "tau_audio"
OUT = REPO / "benchmarks" / "results" / "gammatone.json"
SR = 44100
PARAMS = dict(n_bands=64, window_s=0.04, hop_s=0.02, f_min=50.0)
N_REF_TIMED = 3
N_REPEAT = 3


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from gammatone.gtgram import gtgram

    wavs = sorted(AUDIO.glob("*.wav"))
    if not wavs:
        log.error("no real TAU clips: %s is absent or empty (expected 8 *.wav beside the repo)", AUDIO)
        return 2
    clips = []
    for wav in wavs:
        audio, sr = sf.read(wav, dtype="float64", always_2d=True)
        clips.append((wav.name, audio, sr))
    gammatonegram(resample(clips[0][1][:, 0], sr_in=clips[0][2], sr_out=SR), SR, **PARAMS)  # warm the plan cache

    rows, ref_times, fast_times, mel_times = [], [], [], []
    for i, (name, audio, sr) in enumerate(clips):
        x = resample(audio[:, 0], sr_in=sr, sr_out=SR)
        t_ref, ref = _timed(gtgram, x, SR, PARAMS["window_s"], PARAMS["hop_s"], PARAMS["n_bands"], PARAMS["f_min"])
        if i < N_REF_TIMED:
            ref_times.append(t_ref)
        fast_runs = [_timed(gammatonegram, x, SR, **PARAMS) for _ in range(N_REPEAT)]
        fast = fast_runs[0][1]
        fast_times.extend(t for t, _ in fast_runs)
        mel_times.extend(_timed(logmel, x, SR, **PARAMS)[0] for _ in range(N_REPEAT))
        a, b = np.log(ref + 1e-8), np.log(fast + 1e-8)
        corr = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        rows.append(
            dict(
                clip=name,
                shape_ok=ref.shape == fast.shape,
                shape=list(fast.shape),
                corr=corr,
                max_abs_log_diff=float(np.abs(a - b).max()),
                ref_s=t_ref,
                fast_s=statistics.median(t for t, _ in fast_runs),
            )
        )

    t_clip = []
    for _name, audio, sr in clips:
        t, feats = _timed(clip_features, audio, sr, kind="gammatone", sample_rate=SR, **PARAMS)
        t_clip.append(t)
    duration = sum(a.shape[0] / sr for _, a, sr in clips)
    ref_med, fast_med, mel_med = (statistics.median(v) for v in (ref_times, fast_times, mel_times))
    corrs = [r["corr"] for r in rows]
    summary = dict(
        n_clips=len(rows),
        corr_min=min(corrs),
        corr_mean=float(np.mean(corrs)),
        max_abs_log_diff=max(r["max_abs_log_diff"] for r in rows),
        shapes_identical=all(r["shape_ok"] for r in rows),
        ref_s_per_channel=ref_med,
        fast_s_per_channel=fast_med,
        speedup=ref_med / fast_med,
        logmel_s_per_channel=mel_med,
        fast_vs_logmel=fast_med / mel_med,
        clip_features_clips_per_s=len(clips) / sum(t_clip),
        clip_features_x_realtime=duration / sum(t_clip),
        clip_features_shape=list(feats.shape),
    )

    print(f"{'clip':42s} {'shape':>9s} {'corr':>8s} {'maxdiff':>8s} {'ref s':>7s} {'fast ms':>8s}")
    for r in rows:
        print(
            f"{r['clip']:42s} {'ok' if r['shape_ok'] else 'DIFF':>9s} {r['corr']:8.5f} {r['max_abs_log_diff']:8.3f} "
            f"{r['ref_s']:7.2f} {r['fast_s'] * 1e3:8.1f}"
        )
    s = summary
    print(
        f"corr min/mean {s['corr_min']:.5f}/{s['corr_mean']:.5f}  max |log diff| {s['max_abs_log_diff']:.3f}  "
        f"shapes identical: {s['shapes_identical']}"
    )
    print(
        f"per 10-s channel: reference {ref_med:.2f} s (median of {len(ref_times)}), fast {fast_med * 1e3:.1f} ms "
        f"(median of {len(fast_times)}), librosa logmel {mel_med * 1e3:.1f} ms (fast/logmel {s['fast_vs_logmel']:.2f})"
    )
    print(
        f"clip_features (resample + 3 channels, 1 process): {s['clip_features_clips_per_s']:.2f} clips/s, "
        f"{s['clip_features_x_realtime']:.1f}x real time, shape {tuple(s['clip_features_shape'])}"
    )
    print(f"gammatone: corr_min={s['corr_min']:.5f} speedup={s['speedup']:.1f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(summary=summary, clips=rows), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
