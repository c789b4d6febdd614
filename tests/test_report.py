"""The leaderboard: one budget in the main table, superseded records apart, rankings explained."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.cards import attack_card
from bench.metrics import BAND_NAMES
from bench.records import record_path
from bench.report import write_leaderboard
from bench.report.frame import load_records
from bench.report.tables import ordering_table as _ordering_table
from bench.utils.paths import cards_dir, reports_dir
from tests.conftest import cell_record


def _rows(text: str, section: str) -> list[str]:
    """Table rows of one '## ' section of the leaderboard."""
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return [line for line in part.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_main_table_holds_one_budget_and_the_shipped_defaults(trained: Path) -> None:
    for seed in (0, 1):
        cell_record(
            "carlini", "8", seed=seed, progress=False, results=reports_dir()
        )  # the card's N_G = 16
    cell_record("carlini", "8", seed=0, budget=8, results=reports_dir())
    cell_record(
        "carlini",
        "8",
        seed=0,
        overrides={"clique_k": 2},
        progress=False,
        results=reports_dir(),
    )
    card = cards_dir("attacks") / "carlini.toml"
    card.write_text(
        card.read_text().replace("\n[defaults_from]", '\ntuned_on = ["tiny-8"]\n[defaults_from]')
    )
    text = write_leaderboard().read_text()
    df = load_records(reports_dir())
    assert len(df) == 4 and df["shipped"].sum() == 2
    main = _rows(text, "Attacks at the shared budget")
    assert len(main) == 1 and "tiny-8 †" in main[0] and "| 16 " in main[0] and " ± " in main[0]
    other = _rows(text, "Other configurations")
    assert sorted(row.split("|")[1].strip() for row in other) == ["16", "8"]
    assert "## Signal above chance" in text
    assert (reports_dir() / "leaderboard.png").is_file()


def test_records_of_an_older_attack_card_are_superseded(trained: Path) -> None:
    rec = cell_record("carlini", "8", seed=0, results=reports_dir())
    old = record_path(rec, root=reports_dir()).with_name("seed0-n16-old.json")
    old.write_text(json.dumps({**rec, "attack_version": 0}))
    text = write_leaderboard().read_text()
    assert len(_rows(text, "Attacks at the shared budget")) == 1
    assert "attack card v0 (now v1)" in text.split("## Superseded records", 1)[1]


def _ordering_rows(hits: dict[str, float], chance: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "scale": "64",
                "model": "m",
                "budget": 512,
                "attack": a,
                "seed": seed,
                **{f"ums_{b}": v + 0.01 * seed for b in BAND_NAMES},
                **{f"hit_{b}": hits[a] for b in BAND_NAMES},
                **{f"nm_hit_{b}": chance for b in BAND_NAMES},
            }
            for a, v in (("side", 0.3), ("side-ti", 0.2), ("carlini", 0.2))
            for seed in range(3)
        ]
    )


def ordering_table(df):  # the order SIDE's card claims
    return _ordering_table(df, attack_card("side").claims["order"]["attacks"])


def test_ordering_table_compares_with_the_paper_where_there_is_signal() -> None:
    table = ordering_table(_ordering_rows({"side": 0.5, "side-ti": 0.1, "carlini": 0.1}, 0.1))
    assert len(table) == len(BAND_NAMES)
    # A tie is not the paper's strict order, and it is printed as one.
    assert set(table["paper's order holds"]) == {"undecided"}
    assert table["measured (mean UMS %)"].iloc[0] == "side 31.00 > carlini 21.00 = side-ti 21.00"


def test_ordering_verdicts_say_when_seed_noise_decides_them() -> None:
    def seeds(values: dict[str, list[float]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "scale": "64",
                    "model": "m",
                    "budget": 512,
                    "attack": a,
                    "seed": seed,
                    **{f"ums_{b}": v for b in BAND_NAMES},
                    **{f"hit_{b}": 0.5 for b in BAND_NAMES},
                    **{f"nm_hit_{b}": 0.1 for b in BAND_NAMES},
                }
                for a, vs in values.items()
                for seed, v in enumerate(vs)
            ]
        )

    def verdict(values: dict[str, list[float]]) -> str:
        return ordering_table(seeds(values))["paper's order holds"].iloc[0]

    # Paired by seed, one-sided at α = 0.05 on 2 df. Side − side-ti per seed: 20, 20, 20 (SE 0);
    # side-ti − carlini: 20, 21, 19 (SE 0.58, t 34.6, p 0.0004).
    apart = {"side": [0.50, 0.51, 0.49], "side-ti": [0.30, 0.31, 0.29], "carlini": [0.1, 0.1, 0.1]}
    assert verdict(apart) == "holds"
    # −10, 19, 21: mean 10, SE 10, t 1, p 0.21: a lead the seeds cannot confirm.
    assert verdict({**apart, "side": [0.2, 0.5, 0.5]}) == "undecided"
    # −20, −31, −9: mean −20, SE 6.35, t −3.15, p 0.044: a reversal they do confirm.
    assert verdict({**apart, "side": [0.1, 0.0, 0.2]}) == "fails"
    assert verdict({**apart, "side": [0.1, 0.3, 0.4]}) == "undecided"  # −20, −1, 11
    column = "gaps in the paper's order (one-sided p, α 0.05)"
    gaps = ordering_table(seeds(apart))[column].iloc[0]
    assert gaps == "side − side-ti: +20.00 (p 0.000); side-ti − carlini: +20.00 (p 0.000)"


def test_ordering_is_not_judged_on_chance_look_alikes() -> None:
    table = ordering_table(_ordering_rows({"side": 0.1, "side-ti": 0.1, "carlini": 0.05}, 0.1))
    assert set(table["paper's order holds"]) == {"no signal above chance"}


def test_the_order_is_judged_at_every_curve_budget(trained: Path) -> None:
    """SIDE's claim is about efficiency: the order gets a verdict at each budget of the curves,
    from the cards' defaults only."""
    from tests.conftest import FAST_SIDE, curve_records, set_card_values

    card = cards_dir("attacks") / "side-ti.toml"
    set_card_values(card, "cpu", FAST_SIDE)
    for attack in ("carlini", "side-ti"):
        curve_records(attack, "tiny-8", [4, 8], [0, 1], results=reports_dir())
    # Overrides, at a budget of their own: a row for N_G 2 would mean they were judged.
    for attack, override in (("carlini", {"clique_k": 2}), ("side-ti", {"guidance_scale": 1.0})):
        curve_records(
            attack, "tiny-8", [2], [0], overrides=override, progress=False, results=reports_dir()
        )
    curves = load_records(reports_dir(), "curves/runs")
    assert (~curves["defaults"]).sum() == 2
    rows = _rows(write_leaderboard().read_text(), "The paper's order across budgets")
    assert [row.split("|")[1].strip() for row in rows] == ["4", "8"]
    assert all(" high " in row and "side-ti − carlini:" in row for row in rows)


def test_each_profile_gets_its_own_sections(trained: Path) -> None:
    """A cpu32 model's rows never rank beside a cpu model's: each profile has its own headings
    (named with its resolution) and plots, its budget curves' sections included."""
    from bench.cards import model_card
    from bench.zoo.manage import train_card
    from tests.conftest import curve_records, model_card_text

    dataset = trained / "datasets" / "celeba.toml"
    dataset.write_text(dataset.read_text().replace("cpu = 16\n", "cpu = 16\ncpu32 = 16\n"))
    text = model_card_text("tiny-8-wide", "8").replace('profile = "cpu"', 'profile = "cpu32"')
    (trained / "models" / "tiny-8-wide.toml").write_text(text)
    train_card(model_card("tiny-8-wide"), None, progress=False)
    cell_record("carlini", model="tiny-8", results=reports_dir())
    cell_record("carlini", model="tiny-8-wide", profile="cpu32", results=reports_dir())
    board = write_leaderboard().read_text()
    cpu = _rows(board, "Attacks at the shared budget (cpu profile, 8×8)")
    wide = _rows(board, "Attacks at the shared budget (cpu32 profile, 8×8)")
    assert len(cpu) == 1 and "tiny-8-wide" not in cpu[0] and "tiny-8" in cpu[0]
    assert len(wide) == 1 and "tiny-8-wide" in wide[0]
    assert "carlini run with their cards' cpu defaults" in board
    assert (reports_dir() / "leaderboard-cpu32.png").is_file()
    assert "## Efficiency curves" not in board

    curve_records("carlini", "tiny-8", [4, 8], [0], results=reports_dir())
    curve_records("carlini", "tiny-8-wide", [4, 8], [0], profile="cpu32", results=reports_dir())
    board = write_leaderboard().read_text()
    cpu = _rows(board, "Efficiency curves (cpu profile, 8×8)")
    wide = _rows(board, "Efficiency curves (cpu32 profile, 8×8)")
    assert len(cpu) == 2 and not any("tiny-8-wide" in row for row in cpu)
    assert len(wide) == 2 and all("tiny-8-wide" in row for row in wide)
    assert "![distinct members against budget](curves-cpu32.png)" in board
    assert (reports_dir() / "curves.png").is_file()
    assert (reports_dir() / "curves-cpu32.png").is_file()


def test_the_config_hash_comes_from_the_record_not_its_file_name(trained: Path) -> None:
    """The leaderboard's `config` is the record's cell key, computed from what the record holds;
    a renamed file changes nothing."""
    from bench.records import cell_key

    rec = cell_record("carlini", "8", seed=0, results=reports_dir())
    path = record_path(rec, root=reports_dir())
    path.rename(path.with_name("seed0-n16-renamed.json"))
    (row,) = _rows(write_leaderboard().read_text(), "Attacks at the shared budget")
    assert f"| {cell_key(rec)} " in row and "renamed" not in row
