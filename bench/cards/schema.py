"""Typed views of the TOML cards.

Cards stay the single source of truth; these frozen dataclasses only give the code names to hold
on to, so a typo in a field fails at load time rather than deep inside a training run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cards.registry import load_cards, lookup, read_toml
from bench.errors import BenchError

TRAINED_MARKER = "# --- written by `bench zoo train`; do not edit below this line ---"


@dataclass(frozen=True)
class DatasetCard:
    name: str
    version: int
    path: Path
    crop: dict[str, float]
    nonmembers: Path
    scales: dict[str, dict[str, Any]]
    canaries: dict[str, dict[str, Any]]
    metrics: dict[str, Any]

    def check_scale(self, scale: str) -> dict[str, Any]:
        if scale not in self.scales:
            raise BenchError(
                f"unknown scale {scale!r} for dataset {self.name}; valid: {', '.join(self.scales)}"
            )
        return self.scales[scale]

    def bands(self, resolution: int) -> dict[str, Any]:
        """ℓ2 band edges and their calibration at one resolution."""
        per_res = self.metrics.get("bands", {}).get(str(resolution))
        if per_res is None:
            raise BenchError(
                f"dataset card {self.path} has no ℓ2 bands for {resolution}px; run "
                f"`python -m bench data calibrate --resolution {resolution}`"
            )
        return per_res


MODEL_ROLES = ("ranked", "tuning")


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: int
    path: Path
    dataset: str
    scale: str
    profile: str
    resolution: int
    conditioning: str
    canaries: str | bool
    architecture: dict[str, Any]
    scheduler: dict[str, Any]
    training: dict[str, Any]
    evaluation: dict[str, Any]
    trained: dict[str, Any] = field(default_factory=dict)
    # Made by `bench zoo import` from someone else's diffusers folder: it has no [training] table.
    imported: bool = False
    # "tuning": attack defaults are chosen on it and the grid and leaderboard never rank it, so no
    # ranked number comes from the model a setting was fitted to.
    role: str = "ranked"
    # A tuning model's measured headroom (``[headroom]``): members its unguided samples copy
    # against what generate-and-filter finds at the shared N_G, with the records it came from.
    headroom: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint_path(self) -> Path:
        """Beside the card, so a card folder added through ``BENCH_CARDS`` carries its own."""
        return self.path.parent / "checkpoints" / f"{self.name}.safetensors"


@dataclass(frozen=True)
class AttackCard:
    name: str
    version: int
    path: Path
    implementation: str
    paper: str
    threat_model: str
    applies_to: tuple[str, ...]
    defaults: dict[str, dict[str, Any]]
    sources: dict[str, str]
    # Models a default was tuned on: their leaderboard rows are not independent of the choice.
    tuned_on: tuple[str, ...] = ()
    # Named parameter overrides that switch the attack's mechanism off (SIDE's λ = 0). Declared by
    # the card, so a user's attack gets its reference rows and floor mutations without Python.
    mechanism_off: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Inclusive (low, high) bounds of numeric parameters, from the card's ``[bounds]`` table
    # (``name = { min = 0 }``); None leaves a side open, an unlisted parameter is only finite.
    bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # Command-line shorthands for parameters (``[aliases]``: ``lambda = "guidance_scale"`` makes
    # ``--lambda`` set SIDE's guidance scale); an attack without the alias refuses the flag.
    aliases: dict[str, str] = field(default_factory=dict)
    # What `bench sweep` sweeps when no --param is given, and its values (``[sweep]``).
    sweep: dict[str, Any] = field(default_factory=dict)
    # The papers' claims about this attack, as data with their source (``[claims.<kind>]``); the
    # report judges each one against the records.
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Profiles whose defaults are another profile's (``[defaults_from] cpu32 = "cpu"``), with any
    # ``[defaults.<profile>]`` entries on top: a profile without its own tuning model carries
    # tuned values, and the card and the report say which.
    defaults_from: dict[str, str] = field(default_factory=dict)

    def params(self, profile: str) -> dict[str, Any]:
        if profile not in self.defaults:
            raise BenchError(f"attack {self.name} has no defaults for profile {profile!r}")
        return dict(self.defaults[profile])

    def reference_values(self, param: str) -> list[Any]:
        """Values of ``param`` that on their own switch the mechanism off: a sweep's reference."""
        return [o[param] for o in self.mechanism_off.values() if set(o) == {param}]


def _require(raw: dict[str, Any], path: Path, *keys: str) -> None:
    missing = [k for k in keys if k not in raw]
    if missing:
        raise BenchError(f"card {path} lacks required field(s): {', '.join(missing)}")


def dataset_card(name: str) -> DatasetCard:
    path, raw = lookup("datasets", name, "dataset")
    _require(raw, path, "crop", "nonmembers", "scales")
    return DatasetCard(
        name=raw["name"],
        version=raw["version"],
        path=path,
        crop=raw["crop"],
        nonmembers=path.parent / raw["nonmembers"],
        scales=raw["scales"],
        canaries=raw.get("canaries", {}),
        metrics=raw.get("metrics", {}),
    )


def _model_from_raw(path: Path, raw: dict[str, Any]) -> ModelCard:
    imported = raw.get("imported", False) is True
    # An imported model was trained elsewhere: a [training] table would only invent numbers.
    training = () if imported else ("training",)
    _require(
        raw,
        path,
        "dataset",
        "scale",
        "profile",
        "resolution",
        "conditioning",
        "architecture",
        "scheduler",
        *training,
    )
    if raw["conditioning"] not in ("unconditional", "caption"):
        raise BenchError(f"card {path}: conditioning must be 'unconditional' or 'caption'")
    if raw.get("role", "ranked") not in MODEL_ROLES:
        raise BenchError(f"card {path}: role must be one of {', '.join(MODEL_ROLES)}")
    return ModelCard(
        name=raw["name"],
        version=raw["version"],
        path=path,
        dataset=raw["dataset"],
        scale=str(raw["scale"]),
        profile=raw["profile"],
        resolution=int(raw["resolution"]),
        conditioning=raw["conditioning"],
        canaries=raw.get("canaries", False),
        architecture=raw["architecture"],
        scheduler=raw["scheduler"],
        training=raw.get("training", {}),
        evaluation=raw.get("evaluation", {}),
        trained=raw.get("trained", {}),
        imported=imported,
        role=raw.get("role", "ranked"),
        headroom=raw.get("headroom", {}),
    )


def model_card_at(path: Path) -> ModelCard:
    """The model card in one file, found by path rather than by name."""
    return _model_from_raw(path, read_toml(path))


def model_card(name: str) -> ModelCard:
    return _model_from_raw(*lookup("models", name, "model"))


def model_cards() -> list[ModelCard]:
    return [_model_from_raw(p, raw) for p, raw in load_cards("models").values()]


def find_model(scale: str, profile: str, conditioning: str, canaries: bool = False) -> ModelCard:
    """The zoo model for one benchmark cell; the scale is checked against the zoo's scales."""
    cards = [c for c in model_cards() if c.profile == profile]
    scales = sorted({c.scale for c in cards}, key=scale_order)
    if scale not in scales:
        raise BenchError(
            f"unknown scale {scale!r} for profile {profile}; valid: {', '.join(scales)}"
        )
    matches = [
        card
        for card in cards
        if card.scale == scale
        and card.conditioning == conditioning
        and bool(card.canaries) == canaries
    ]
    # A scale is served by the zoo's own card; an imported card is attacked by name (--model),
    # so importing a model never changes what `--scale S` means.
    own = [card for card in matches if not card.imported]
    matches = own or matches
    if len(matches) > 1:
        # Never let whichever card sorts first take a scale over silently.
        names = ", ".join(f"{c.name} ({c.path})" for c in matches)
        raise BenchError(
            f"scale {scale} is served by {len(matches)} model cards: {names}; pick one with "
            "--model, or move the extra cards out of the card folders"
        )
    if matches:
        return matches[0]
    kind = f"{conditioning}{' canary' if canaries else ''}"
    raise BenchError(f"the {profile} zoo has no {kind} model at scale {scale}")


def scale_order(scale: str) -> int:
    """Sort key for scale names such as 64, 256, 1k, 5k, and listed member sets (``40-listed``)."""
    size = re.match(r"(\d+)(k?)", scale)
    if size is None:
        return 0
    return int(size[1]) * (1000 if size[2] else 1)


def attack_card(name: str) -> AttackCard:
    path, raw = lookup("attacks", name, "attack")
    _require(raw, path, "implementation", "paper", "threat_model", "defaults")
    defaults_from = dict(raw.get("defaults_from", {}))
    defaults = _resolve_defaults(path, raw["defaults"], defaults_from)
    mechanism_off = raw.get("mechanism_off", {})
    _check_mechanism_off(path, mechanism_off, defaults)
    return AttackCard(
        name=raw["name"],
        version=raw["version"],
        path=path,
        implementation=raw["implementation"],
        paper=raw["paper"],
        threat_model=raw["threat_model"],
        applies_to=tuple(raw.get("applies_to", ["unconditional"])),
        defaults=defaults,
        sources=raw.get("sources", {}),
        tuned_on=tuple(raw.get("tuned_on", ())),
        mechanism_off=mechanism_off,
        bounds=_bounds(path, raw.get("bounds", {})),
        aliases=dict(raw.get("aliases", {})),
        sweep=dict(raw.get("sweep", {})),
        claims=dict(raw.get("claims", {})),
        defaults_from=defaults_from,
    )


def _resolve_defaults(
    path: Path, defaults: dict[str, dict[str, Any]], defaults_from: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Each ``[defaults_from]`` profile as its source profile's defaults under its own entries.

    One level only: a profile that borrows from a borrower would hide where its values were tuned.
    """
    out = {name: dict(values) for name, values in defaults.items()}
    for profile, source in defaults_from.items():
        if source not in defaults or source in defaults_from:
            raise BenchError(
                f"card {path}: defaults_from.{profile} = {source!r} names no profile with its "
                f"own defaults; valid: {', '.join(p for p in defaults if p not in defaults_from)}"
            )
        out[profile] = {**defaults[source], **defaults.get(profile, {})}
    return out


def _bounds(path: Path, table: Any) -> dict[str, tuple[float | None, float | None]]:
    """``[bounds]`` entries ``name = { min = …, max = … }`` as (low, high) pairs."""
    if not isinstance(table, dict):
        raise BenchError(f"card {path}: [bounds] maps parameter names to {{ min, max }} tables")
    out = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) - {"min", "max"}:
            raise BenchError(f"card {path}: bounds.{name} takes min and/or max, got {entry!r}")
        out[name] = (entry.get("min"), entry.get("max"))
    return out


def _check_mechanism_off(path: Path, tables: Any, defaults: dict[str, dict[str, Any]]) -> None:
    """Each entry must name parameters every profile has, or its mutation would fail mid-run."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) and t for t in tables.values()):
        raise BenchError(f"card {path}: [mechanism_off] maps names to tables of parameters")
    known = set.intersection(*(set(d) for d in defaults.values())) if defaults else set()
    for name, overrides in tables.items():
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise BenchError(
                f"card {path}: mechanism_off {name!r} sets {', '.join(unknown)}, "
                "which the card's defaults do not have"
            )


def attack_names() -> list[str]:
    return sorted(load_cards("attacks"))


def write_trained(card: ModelCard, trained: dict[str, Any]) -> None:
    """Replace the card's machine-written ``[trained]`` table, keeping the hand-written part."""
    from bench.utils.atomic import write_text_atomic

    text = card.path.read_text()
    head = text.split(TRAINED_MARKER)[0].rstrip() + "\n\n"
    write_text_atomic(card.path, head + toml_table("trained", trained, TRAINED_MARKER))


def toml_table(name: str, values: dict[str, Any], heading: str = "") -> str:
    """``values`` as a TOML table (scalars, lists and inline tables), under an optional comment."""
    lines = [heading] if heading else []
    lines.append(f"[{name}]")
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
