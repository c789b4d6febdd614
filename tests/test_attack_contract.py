"""Every attack card, run on the test world: the contract each attack keeps, checked generically.

An attack is two files and no edit to the suite, so the suite holds every card to the same rules
without naming any: exactly ``budget`` outputs, the four cost counts, the same outputs and record
for the same seed, first outputs that are a smaller run where the class claims ``prefix_valid``,
and the threat model its card grants being the one its class was written for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.attacks.base import grants_captions, load_attack
from bench.attacks.declared import attack_class
from bench.attacks.store import RunStore
from bench.cards import attack_card, attack_names, model_cards
from bench.records import types
from bench.utils.paths import REPO_ROOT, bench_home
from tests.conftest import FAST_SIDE, cell_record

# Small settings by parameter name, applied to whichever card has the parameter, so every card
# runs in seconds on the tiny models (none of them names an attack).
FAST = {**FAST_SIDE, "per_caption": 4, "clique_k": 2}
CARDS = sorted(p.stem for p in (REPO_ROOT / "attacks").glob("*.toml"))


def fast(name: str) -> dict:
    params = attack_card(name).params("cpu")
    return {k: v for k, v in FAST.items() if k in params}


def model_for(name: str) -> str:
    conditioning = attack_card(name).applies_to[0]
    return next(
        c.name
        for c in sorted(model_cards(), key=lambda c: c.name)
        if c.scale == "8" and c.conditioning == conditioning and not c.canaries
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", CARDS)
def test_every_attack_card_keeps_the_contract(trained: Path, name: str) -> None:
    assert name in attack_names()
    acard, model = attack_card(name), model_for(name)
    attack = load_attack(acard, acard.params("cpu") | fast(name))
    assert type(attack).threat_model == acard.threat_model
    assert grants_captions(acard, attack) == (acard.threat_model == "white-box+captions")
    assert attack_class(acard) is type(attack)

    def run(budget: int, fresh: bool = True) -> tuple[dict, np.ndarray]:
        rec = cell_record(
            name, "8", model=model, budget=budget, overrides=fast(name), write=False, fresh=fresh
        )
        return rec, RunStore(bench_home() / rec["outputs"]).images()

    rec, outputs = run(16)
    assert len(outputs) == 16 and rec["metrics"]["n_outputs"] == 16
    assert outputs.dtype == np.uint8 and outputs.shape[1:] == (8, 8, 3)
    assert set(rec["cost"]) == types.declared_keys(types.Cost)
    assert rec["cost"]["unet_evaluations"] > 0
    assert all(
        rec["cost"][f"prep_{k}_evaluations"] <= rec["cost"][f"{k}_evaluations"]
        for k in ("unet", "classifier")
    )
    again, same = run(16)
    assert np.array_equal(same, outputs), "the same seed must give the same outputs"
    assert again["metrics"] == rec["metrics"] and again["cost"] == rec["cost"]
    if type(attack).prefix_valid:
        _, smaller = run(8)
        assert np.array_equal(smaller, outputs[:8]), "prefix_valid: budget 8 is the first 8"
