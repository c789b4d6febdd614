"""Typed views of the TOML cards.

Cards stay the single source of truth; these frozen dataclasses only give the code names to hold
on to, so a typo in a field fails at load time rather than deep inside a training run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cards.cardfile import ParamTable
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


# Keys of a ``[params.<name>]`` table that describe the parameter; every other key is a profile.
PARAM_KEYS = tuple(ParamTable.model_fields)


@dataclass(frozen=True)
class Param:
    """One attack parameter, declared once in its card's ``[params.<name>]`` table.

    Args:
        name: the constructor argument it sets.
        values: its value by profile (the card's own profiles; ``[defaults_from]`` resolves the
            borrowed ones), whose type is the parameter's type.
        source: one line: where the value comes from (paper, sweep report, suite's choice).
        low, high: inclusive bounds of a numeric parameter (None: open).
        alias: a command-line flag for it (``lambda`` makes ``--lambda`` set it).
        off: named values that switch the attack's mechanism off (a sweep's reference rows and
            `bench floors`' parameter mutations).
        sweep: what `bench sweep` sweeps when no ``--param`` is given (at most one parameter).
        neutral: the value at which the parameter changes nothing the attack computed before it
            was declared. A record leaves a parameter at this value out of its ``params`` and
            its key, so adding a parameter keeps every earlier record's name and match.
        cost_only: the parameter only sets what the attack spends, not what it aims at; a sweep
            of it picks the cheapest value not clearly below the card's
            (``bench.metrics.selection.cheapest_not_worse``), not the best one.
    """

    name: str
    values: dict[str, Any]
    source: str
    low: float | None = None
    high: float | None = None
    alias: str | None = None
    off: dict[str, Any] = field(default_factory=dict)
    sweep: tuple[Any, ...] = ()
    neutral: Any = None
    cost_only: bool = False

    def is_neutral(self, value: Any) -> bool:
        return (
            self.neutral is not None and type(value) is type(self.neutral) and value == self.neutral
        )


@dataclass(frozen=True)
class AttackCard:
    """An attack card: its implementation and paper, and each parameter declared once
    (``declared``); the per-profile ``defaults`` and the tables below are read off those
    declarations, so no value has a second place to drift in."""

    name: str
    version: int
    path: Path
    implementation: str
    paper: str
    threat_model: str
    applies_to: tuple[str, ...]
    declared: dict[str, Param]
    # Every profile's full parameter set, borrowed profiles (``[defaults_from]``) resolved.
    defaults: dict[str, dict[str, Any]]
    # Models a default was tuned on: their leaderboard rows are not independent of the choice.
    tuned_on: tuple[str, ...] = ()
    # The papers' claims about this attack, as data with their source (``[claims.<kind>]``); the
    # report judges each one against the records.
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Profiles whose values are another profile's (``[defaults_from] cpu32 = "cpu"``), with any
    # value a parameter declares for the profile itself on top: a profile without its own tuning
    # model carries tuned values, and the card and the report say which.
    defaults_from: dict[str, str] = field(default_factory=dict)

    @property
    def sources(self) -> dict[str, str]:
        return {name: p.source for name, p in self.declared.items()}

    @property
    def bounds(self) -> dict[str, tuple[float | None, float | None]]:
        """Inclusive (low, high) bounds of the numeric parameters that declare any."""
        return {
            name: (p.low, p.high)
            for name, p in self.declared.items()
            if p.low is not None or p.high is not None
        }

    @property
    def aliases(self) -> dict[str, str]:
        """Command-line shorthands: alias -> parameter."""
        return {p.alias: name for name, p in self.declared.items() if p.alias}

    @property
    def mechanism_off(self) -> dict[str, dict[str, Any]]:
        """Named parameter values that switch the mechanism off (SIDE's λ = 0), by name; two
        parameters naming the same entry are switched together."""
        out: dict[str, dict[str, Any]] = {}
        for name, p in self.declared.items():
            for label, value in p.off.items():
                out.setdefault(label, {})[name] = value
        return out

    @property
    def sweep(self) -> dict[str, Any]:
        """What `bench sweep` sweeps without ``--param``: {"param", "values"}, or empty."""
        for name, p in self.declared.items():
            if p.sweep:
                return {"param": name, "values": list(p.sweep)}
        return {}

    def params(self, profile: str) -> dict[str, Any]:
        if profile not in self.defaults:
            raise BenchError(
                f"attack {self.name} has no values for profile {profile!r}; its profiles: "
                f"{', '.join(self.defaults)}"
            )
        return dict(self.defaults[profile])

    def runs_on(self, conditioning: str, profile: str) -> bool:
        """Whether the attack runs on a model of this conditioning in this profile: its card
        names the conditioning and declares the profile (``side-paper`` has no 16 or 32 px
        profile). Grids, pool-saving counts and `bench perf` enumerate by this."""
        return conditioning in self.applies_to and profile in self.defaults

    def recorded(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` as a record holds them: without parameters at their neutral value, the
        computation they left unchanged (``Param.neutral``)."""
        return {
            k: v
            for k, v in params.items()
            if k not in self.declared or not self.declared[k].is_neutral(v)
        }

    def reference_values(self, param: str) -> list[Any]:
        """Values of ``param`` that on their own switch the mechanism off: a sweep's reference."""
        return [o[param] for o in self.mechanism_off.values() if set(o) == {param}]


def dataset_card(name: str) -> DatasetCard:
    path, raw = lookup("datasets", name, "dataset")
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
    """The typed view of a card ``bench.cards.cardfile.ModelFile`` has checked."""
    return ModelCard(
        name=raw["name"],
        version=raw["version"],
        path=path,
        dataset=raw["dataset"],
        scale=raw["scale"],
        profile=raw["profile"],
        resolution=raw["resolution"],
        conditioning=raw["conditioning"],
        canaries=raw.get("canaries", False),
        architecture=raw["architecture"],
        scheduler=raw["scheduler"],
        training=raw.get("training", {}),
        evaluation=raw.get("evaluation", {}),
        trained=raw.get("trained", {}),
        imported=raw.get("imported", False),
        role=raw.get("role", "ranked"),
        headroom=raw.get("headroom", {}),
    )


def model_card_at(path: Path) -> ModelCard:
    """The model card in one file, found by path rather than by name."""
    return _model_from_raw(path, read_toml(path, "models"))


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
    defaults_from = dict(raw.get("defaults_from", {}))
    declared = _declared(path, raw["params"], defaults_from)
    return AttackCard(
        name=raw["name"],
        version=raw["version"],
        path=path,
        implementation=raw["implementation"],
        paper=raw["paper"],
        threat_model=raw["threat_model"],
        applies_to=tuple(raw.get("applies_to", ["unconditional"])),
        declared=declared,
        defaults=_resolve_defaults(path, declared, defaults_from),
        tuned_on=tuple(raw.get("tuned_on", ())),
        claims=dict(raw.get("claims", {})),
        defaults_from=defaults_from,
    )


def _declared(path: Path, table: Any, defaults_from: dict[str, str]) -> dict[str, Param]:
    """Each ``[params.<name>]`` table as a ``Param``. Every parameter must give a value for every
    profile the card has of its own (a profile any parameter names and no ``[defaults_from]``
    entry borrows), so a value can never be missing for one profile and silently defaulted.
    Each table's types were checked with the card (``bench.cards.cardfile.ParamTable``)."""
    profiles = {k for t in table.values() for k in t if k not in PARAM_KEYS} - set(defaults_from)
    out = {}
    for name, entry in table.items():
        missing = sorted(profiles - set(entry))
        if missing:
            raise BenchError(
                f"card {path}: parameter {name} has no value for profile(s) "
                f"{', '.join(missing)}; every parameter declares every profile "
                f"({', '.join(sorted(profiles))})"
            )
        out[name] = _param(name, entry)
    aliases = [p.alias for p in out.values() if p.alias]
    swept = [p.name for p in out.values() if p.sweep]
    if len(set(aliases)) != len(aliases) or len(swept) > 1:
        raise BenchError(f"card {path}: an alias names one parameter, and one parameter sweeps")
    return out


def _param(name: str, entry: dict[str, Any]) -> Param:
    return Param(
        name=name,
        values={k: v for k, v in entry.items() if k not in PARAM_KEYS},
        source=entry["source"],
        low=entry.get("min"),
        high=entry.get("max"),
        alias=entry.get("alias"),
        off=dict(entry.get("off", {})),
        sweep=tuple(entry.get("sweep", [])),
        neutral=entry.get("neutral"),
        cost_only=bool(entry.get("cost_only", False)),
    )


def _resolve_defaults(
    path: Path, declared: dict[str, Param], defaults_from: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every profile's parameters; a ``[defaults_from]`` profile takes its source profile's
    values under any a parameter declares for it.

    One level only: a profile that borrows from a borrower would hide where its values were tuned.
    """
    own = {k for p in declared.values() for k in p.values} - set(defaults_from)
    out = {prof: {n: p.values[prof] for n, p in declared.items()} for prof in sorted(own)}
    for profile, source in defaults_from.items():
        if source not in out:
            raise BenchError(
                f"card {path}: defaults_from.{profile} = {source!r} names no profile with its "
                f"own values; valid: {', '.join(out)}"
            )
        out[profile] = {n: p.values.get(profile, out[source][n]) for n, p in declared.items()}
    return out


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
