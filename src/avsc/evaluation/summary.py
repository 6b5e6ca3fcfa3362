"""Print a short summary of the last evaluation (``python -m avsc.evaluation.summary``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from avsc.config.settings import find_root, load_params


def summary_text(metrics: dict) -> str:
    """One line per head: class-wise (macro) log-loss and accuracy, as DCASE reports them."""
    data = metrics.get("data", "?")
    lines = [
        f"evaluate ({'SYNTHETIC sample, not comparable with TAU' if data == 'synthetic' else data}, "
        f"{metrics.get('n_segments', '?')} one-second segments)",
        f"  {'head':<8}{'log-loss':>10}{'accuracy':>10}",
    ]
    for head, block in metrics.get("heads", {}).items():
        marker = "  <- final" if head == metrics.get("final_head") else ""
        lines.append(f"  {head:<8}{block['logloss']:>10.3f}{100 * block['accuracy']:>9.1f}%{marker}")
    return "\n".join(lines)


def main() -> int:
    root = find_root()
    params = load_params(root / "params.yaml")
    path = root / params.base.reports_dir / "evaluate" / "metrics.json"
    if not path.is_file():
        print(f"{path}: no evaluation yet; run `make run`", file=sys.stderr)
        return 1
    print(summary_text(json.loads(path.read_text())))
    comparison = Path(path.parent / "comparison.md")
    print(f"reports: {path.parent} (comparison with published numbers: {comparison})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
