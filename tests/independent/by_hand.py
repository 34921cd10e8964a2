"""The artifact's bin lookup as credit-core/src/artifact.rs documents it, in plain Python (no
project code), for the independent checks: a bin's place among all of a feature's bins (range
bins, then the missing bin, then one bin per special-code group), and those bins in that order."""

from __future__ import annotations

import bisect


def bin_number(card: dict, value: float | None) -> int:
    """The bin's place among all bins: range bins, then the missing bin, then special codes."""
    n_range = len(card["range_bins"])
    if value is None:
        return n_range
    for s, sb in enumerate(card.get("special_bins", [])):
        if value in sb["codes"]:
            return n_range + int("missing_bin" in card) + s
    return bisect.bisect_right(card["edges"], value)


def all_bins(card: dict) -> list[dict]:
    bins = list(card["range_bins"])
    if "missing_bin" in card:
        bins.append(card["missing_bin"])
    return bins + [sb["bin"] for sb in card.get("special_bins", [])]
