"""The promotion rule of ``avsc promote``, as a pure function of two registry versions' tags.

A challenger replaces the champion only when the two are comparable and the challenger is better:

1. The challenger's evaluate log-loss must be a finite number (a missing or non-finite tag is
   never promoted, even with no champion).
2. No champion yet: the challenger becomes champion.
3. Real data outranks synthetic data: a challenger trained and evaluated on real TAU data replaces
   a champion from the synthetic sample without comparing numbers (the synthetic champion never
   blocks it); a synthetic challenger is never promoted over a real-data champion.
4. Otherwise the two must share the model system, the dataset version (``dataset_hash``), the
   number of evaluated 1-s segments, the number of clips skipped by the feature stages and the
   head whose predictions are scored; anything else is "not comparable" and the champion stays.
5. Then the lower class-wise log-loss wins (a tie keeps the champion).

:func:`settle` applies the rule to the versions of promotions that ran at the same time (see
:mod:`avsc.tracking.registry`), so concurrent promotions end where serial ones would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

#: Tags that must agree for two versions to be compared on their numbers, with readable names.
COMPARABLE = {
    "system": "model system",
    "dataset_hash": "dataset version",
    "n_segments": "number of evaluated segments",
    "n_skipped": "number of skipped clips",
    "final_head": "scored head",
}


@dataclass(frozen=True)
class Decision:
    """What promotion decided and why (the reason is recorded on the version)."""

    promote: bool
    reason: str


def tag_logloss(tags: Mapping[str, str]) -> float | None:
    """The version's evaluate log-loss, or ``None`` when the tag is missing or not a finite number."""
    try:
        value = float(tags["logloss"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _short(value: str | None) -> str:
    return "?" if value is None else (value[:12] if len(value) > 16 else value)


def decide(challenger: Mapping[str, str], champion: Mapping[str, str] | None) -> Decision:
    """Apply the promotion rule (module docstring) to two versions' tags."""
    new = tag_logloss(challenger)
    if new is None:
        return Decision(
            False, f"challenger has no finite evaluate log-loss (tag logloss={challenger.get('logloss')!r})"
        )
    if champion is None:
        return Decision(True, "no champion yet: the first challenger becomes champion")
    new_data, old_data = challenger.get("data"), champion.get("data")
    if new_data == "synthetic" and old_data not in (None, "synthetic"):
        return Decision(False, f"a synthetic-data challenger is never promoted over a {old_data}-data champion")
    if old_data == "synthetic" and new_data not in (None, "synthetic"):
        return Decision(True, f"real ({new_data}) data replaces the synthetic-sample champion")
    for key, what in COMPARABLE.items():
        if challenger.get(key) != champion.get(key):
            return Decision(
                False,
                f"not comparable: {what} differs (challenger {_short(challenger.get(key))}, "
                f"champion {_short(champion.get(key))})",
            )
    old = tag_logloss(champion)
    if old is None:
        return Decision(True, f"challenger log-loss {new:.4f}; the champion has no finite log-loss")
    if new < old:
        return Decision(True, f"challenger log-loss {new:.4f} < champion {old:.4f}")
    return Decision(False, f"challenger log-loss {new:.4f} is not better than champion {old:.4f}")


def settle(
    champion: tuple[str, Mapping[str, str]] | None, contenders: list[tuple[str, Mapping[str, str]]]
) -> tuple[str | None, str]:
    """The version that should be champion: ``champion``, or a contender the rule prefers to it.

    ``champion`` and ``contenders`` are ``(version, tags)``; contenders are tried in version
    order, each against the best so far (what serial promotions would have left). Returns the
    version and the reason of the last change (empty when the champion stays).
    """
    best, best_tags = champion if champion is not None else (None, None)
    reason = ""
    for version, tags in sorted(contenders, key=lambda c: int(c[0])):
        if version == best:
            continue
        decision = decide(tags, best_tags)
        if decision.promote:
            best, best_tags, reason = version, tags, decision.reason
    return best, reason
