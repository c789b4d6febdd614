"""``RunKey``: the one type that builds and parses a run folder's name (issue 35: the name was
built as an f-string in one place and parsed by a regex in another)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.records import RunKey

KEY = RunKey("celeba-64-cpu", "0123456789ab", "side-ti", 5, "cf70a8ec81", 3, 512, "-compiled-ub16")


def test_a_key_builds_the_layout_the_committed_records_name() -> None:
    assert KEY.relative == Path(
        "celeba-64-cpu/0123456789ab/side-ti-v5-cf70a8ec81/seed3-n512-compiled-ub16"
    )
    assert KEY.prep == Path("celeba-64-cpu/0123456789ab/prep/seed3-compiled-ub16")
    assert RunKey.variant_of(True, 16) == "-compiled-ub16" and RunKey.variant_of(False, None) == ""


@pytest.mark.parametrize("variant", ["", "-compiled", "-ub16", "-compiled-ub16"])
def test_parsing_a_built_name_gives_the_key_back(variant: str) -> None:
    key = RunKey("m", "0123456789ab", "text-conditional", 12, "abcdef0123", 0, 2048, variant)
    assert RunKey.parse(key.relative) == key


@pytest.mark.parametrize(
    "relative",
    [
        "m/0123456789ab/carlini-v1-abcdef0123/seed0-n0512",  # a budget with a leading zero
        "m/0123456789ab/carlini-v1-abcdef0123/seed0-n512-fast",  # an unknown variant
        "m/0123456789ab/carlini-abcdef0123/seed0-n512",  # no version
        "m/0123456789ab/prep/seed0",  # the preparation folder
        "m/carlini-v1-abcdef0123/seed0-n512",  # no weights
    ],
)
def test_what_is_no_run_folder_parses_to_none(relative: str) -> None:
    assert RunKey.parse(Path(relative)) is None
