"""Published correlations (results/reference/t22.csv) set beside a study's: `analysis compare`.

The reference table is long: one row per printed ρ with its source (the figure or table that prints it:
Table 3, Fig. 6, Fig. 7, Fig. 12, Fig. 14), setting (scratch / pretrained), kind (pair / driver), task names
and n. Task names are matched ignoring case, `-`, `_` and spaces; pairs in either order. Every reference row
is listed; only rows of the study's setting (a pipeline study trains from scratch) can have a counterpart.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from analysis.errors import AnalysisError
from analysis.tables import require_columns

REFERENCE_COLUMNS = ("source", "setting", "kind", "task_a", "task_b", "driver", "spearman", "n")


def normalise(name: object) -> str:
    """A task name reduced for matching: lower case without '-', '_' or spaces."""
    return re.sub(r"[-_\s]", "", str(name).lower()) if isinstance(name, str) else ""


def validate_reference(reference: pd.DataFrame) -> pd.DataFrame:
    """Check the reference table's columns and fill empty names with ''."""
    require_columns(reference, REFERENCE_COLUMNS, "reference table")
    out = reference.copy()
    for col in ("task_a", "task_b", "driver"):
        out[col] = out[col].fillna("").astype(str)
    return out


def compare(
    reference: pd.DataFrame, correlations: pd.DataFrame, drivers: pd.DataFrame, setting: str = "scratch"
) -> pd.DataFrame:
    """One row per published ρ, in the reference's order: the study's ρ with CI and n where the study has
    the pair or driver and the row's setting is the study's `setting`; NaN and n = 0 otherwise."""
    reference = validate_reference(reference)
    if reference.empty:
        raise AnalysisError("the reference table has no rows")
    pairs = {}
    for row in correlations.itertuples(index=False):
        key = frozenset((normalise(row.task_a), normalise(row.task_b)))
        pairs[key] = row
    driven = {(normalise(r.task), r.driver): r for r in drivers.itertuples(index=False)}
    rows = []
    for ref in reference.itertuples(index=False):
        out = {
            "source": ref.source,
            "setting": ref.setting,
            "kind": ref.kind,
            "task_a": ref.task_a,
            "task_b": ref.task_b or ref.driver,
            "published": float(ref.spearman),
            "published_n": int(ref.n),
            "study": math.nan,
            "study_ci_low": math.nan,
            "study_ci_high": math.nan,
            "study_n": 0,
        }
        hit = None
        if ref.setting == setting:  # fine-tuned rows (Fig. 12) have no counterpart in a from-scratch study
            if ref.kind == "pair":
                hit = pairs.get(frozenset((normalise(ref.task_a), normalise(ref.task_b))))
            else:
                hit = driven.get((normalise(ref.task_a), ref.driver))
        if hit is not None:
            out.update(
                study=hit.spearman,
                study_ci_low=getattr(hit, "spearman_ci_low", math.nan),
                study_ci_high=getattr(hit, "spearman_ci_high", math.nan),
                study_n=int(hit.n),
            )
        rows.append(out)
    table = pd.DataFrame(rows)
    table["difference"] = table["study"] - table["published"]
    low, high = table["study_ci_low"], table["study_ci_high"]
    inside = ((table["published"] >= low) & (table["published"] <= high)).astype("boolean")
    inside[low.isna() | high.isna()] = pd.NA
    table["published_in_ci"] = inside
    return table
