"""The cards layer: typed views of the TOML cards, their registry, and the checks on every number.

Cards are the single source of truth for attacks, models and datasets (``schema``), found in the
card folders by a cached registry (``registry``), and every number from a card or a user passes
``validate`` (``overrides`` types command-line values by the card's defaults).
"""

from bench.cards.schema import (
    TRAINED_MARKER,
    AttackCard,
    DatasetCard,
    ModelCard,
    Param,
    attack_card,
    attack_names,
    dataset_card,
    find_model,
    model_card,
    model_card_at,
    model_cards,
    scale_order,
    toml_table,
    write_trained,
)

__all__ = [
    "TRAINED_MARKER",
    "AttackCard",
    "DatasetCard",
    "ModelCard",
    "Param",
    "attack_card",
    "attack_names",
    "dataset_card",
    "find_model",
    "model_card",
    "model_card_at",
    "model_cards",
    "scale_order",
    "toml_table",
    "write_trained",
]
