"""Fixtures that build their own tiny world: a CelebA-layout tree, cards and a cache.

Nothing here needs the real CelebA: images are generated smooth colour fields saved as JPEG in the
official layout, so the reader, manifests, training and attacks run end to end in seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.utils.paths import REPO_ROOT

# Tiny models run faster on one thread, and a second core stays free for whatever else runs.
torch.set_num_threads(1)

ATTRS = [
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
]


def make_celeba(root: Path, n: int = 48, size: tuple[int, int] = (89, 109), seed: int = 0) -> Path:
    """A CelebA-layout tree of ``n`` generated JPEGs, two images per identity."""
    rng = np.random.default_rng(seed)
    (root / "img_align_celeba").mkdir(parents=True)
    w, h = size
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    for name in names:
        c = rng.uniform(0, 255, (3, 3))
        img = np.stack([c[k, 0] + c[k, 1] * xx + c[k, 2] * yy for k in range(3)], -1)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            root / "img_align_celeba" / name, quality=95
        )
    attrs = rng.choice([-1, 1], size=(n, 40))
    lines = [str(n), " ".join(ATTRS)] + [
        f"{f} " + " ".join(f"{v:2d}" for v in row) for f, row in zip(names, attrs)
    ]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "identity_CelebA.txt").write_text(
        "\n".join(f"{f} {i // 2 + 1}" for i, f in enumerate(names)) + "\n"
    )
    (root / "list_eval_partition.txt").write_text("\n".join(f"{f} 0" for f in names) + "\n")
    return root


DATASET_CARD = """name = "celeba"
version = 1
nonmembers = "celeba/nonmembers.txt"
crop = { left = 0.08427, top = 0.18349, size = 0.83146 }

[manifest_seeds]
nonmembers = 1
members = 2
canaries = 3
nonmember_pool = 8

[scales]
"8" = { size = 8, manifest = "celeba/members-8.txt" }
"24" = { size = 24, manifest = "celeba/members-24.txt" }
"100" = { size = 100, seed = 4 }

[canaries]
"24" = { scale = "24", count = 2, repeats = 4, manifest = "celeba/canaries-24.txt" }
"ladder-24" = { scale = "24", count = 2, tiers = [2, 8], manifest = "celeba/ladder-24.txt" }

[metrics]
deltas = [0.05, 0.1, 0.15]

[metrics.budget]
cpu = 16

[metrics.bands."8"]
high = { lo = 0.0, hi = 0.05 }
mid = { lo = 0.05, hi = 0.1 }
low = { lo = 0.1, hi = 0.2 }
"""


def model_card_text(
    name: str,
    scale: str,
    conditioning: str = "unconditional",
    canaries: str | bool = False,
    images_seen: int = 64,
) -> str:
    down = "CrossAttnDownBlock2D" if conditioning == "caption" else "AttnDownBlock2D"
    up = "CrossAttnUpBlock2D" if conditioning == "caption" else "AttnUpBlock2D"
    can = f'"{canaries}"' if canaries else "false"
    return f"""name = "{name}"
version = 1
dataset = "celeba"
scale = "{scale}"
profile = "cpu"
resolution = 8
conditioning = "{conditioning}"
canaries = {can}

[architecture]
block_out_channels = [8, 16, 16]
layers_per_block = 1
down_block_types = ["DownBlock2D", "DownBlock2D", "{down}"]
up_block_types = ["{up}", "UpBlock2D", "UpBlock2D"]
norm_num_groups = 4
attention_head_dim = 4
text_dim = 16
text_len = 32

[scheduler]
num_train_timesteps = 100
beta_schedule = "linear"
prediction_type = "sample"
clip_sample = true
sampling_steps = 4

[training]
images_seen = {images_seen}
batch = 8
lr = 2e-3
warmup_steps = 2
grad_clip = 1.0
ema_decay = 0.9
bf16 = false
seed = 0

[evaluation]
samples = 8
seed = 1
"""


@pytest.fixture(autouse=True)
def cpu_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests compute on the CPU even on a GPU host: exact-resume and the attack-strength floors
    compare bit-exact or CPU-measured values, which cuDNN's kernels would not reproduce."""
    monkeypatch.setenv("BENCH_DEVICE", "cpu")


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """One torch thread (as at import) whatever the CLI would pick, and no loaded-machine notice:
    tests count the lines a command prints, and CI machines are often busy.
    ``tests/test_runtime.py`` checks the notice itself."""
    from bench.utils import runtime

    monkeypatch.setenv("BENCH_THREADS", "1")
    monkeypatch.delenv("BENCH_COMPILE", raising=False)
    monkeypatch.setattr(runtime, "machine_load", lambda: None)
    runtime.warn_if_loaded.cache_clear()


@pytest.fixture
def celeba_root(tmp_path: Path) -> Path:
    return make_celeba(tmp_path / "celeba")


@pytest.fixture
def world(tmp_path: Path, celeba_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cards, manifests, cache and reports in tmp; BENCH_* point at them."""
    from bench.cards import dataset_card
    from bench.cards.registry import read_toml
    from bench.data.build_manifests import build_manifests
    from bench.data.celeba import read_index

    cards = tmp_path / "cards"
    (cards / "datasets").mkdir(parents=True)
    (cards / "models" / "checkpoints").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "attacks", cards / "attacks")
    (cards / "datasets" / "celeba.toml").write_text(DATASET_CARD)
    (cards / "models" / "tiny-8.toml").write_text(model_card_text("tiny-8", "8"))
    (cards / "models" / "tiny-24.toml").write_text(model_card_text("tiny-24", "24"))
    (cards / "models" / "tiny-8-caption.toml").write_text(
        model_card_text("tiny-8-caption", "8", conditioning="caption")
    )
    (cards / "models" / "tiny-24-canary.toml").write_text(
        model_card_text("tiny-24-canary", "24", canaries="24")
    )
    # The world's folder stands in for the repository's cards; no extension folder is added.
    monkeypatch.setenv("BENCH_CARDS_BASE", str(cards))
    monkeypatch.delenv("BENCH_CARDS", raising=False)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCH_DATA", str(celeba_root))
    monkeypatch.setenv("BENCH_REPORTS", str(tmp_path / "reports"))
    card = dataset_card("celeba")
    build_manifests(card, read_index(celeba_root), read_toml(card.path)["manifest_seeds"])
    return cards


# Small SIDE settings so the attack runs end to end on the tiny models in seconds.
FAST_SIDE = {
    "n_syn": 32,
    "n_clusters": 4,
    "tau": -1.0,
    "tau_null_q": 0.0,
    "clf_steps": 4,
    "clf_batch": 8,
    "clf_width": 8,
    "pca_dim": 8,
    "guidance_scale": 5.0,
}


def set_card_values(path: Path, profile: str, values: dict) -> None:
    """Rewrite ``profile``'s value of each parameter in ``values`` in the attack card at ``path``
    (each ``[params.<name>]`` table's ``<profile> = …`` line), keeping the rest of the card."""
    lines, current, done = [], None, set()
    for line in path.read_text().splitlines():
        if line.startswith("["):
            current = line.strip()[len("[params.") : -1] if line.startswith("[params.") else None
        if current in values and line.startswith(f"{profile} = "):
            line = f"{profile} = {values[current]!r}".replace("'", '"')
            done.add(current)
        lines.append(line)
    assert done == set(values), f"{path} declares no {profile} value for {set(values) - done}"
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def trained(world: Path) -> Path:
    """The tiny unconditional and caption models of ``world``, trained (seconds)."""
    from bench.cards import model_card
    from bench.zoo.manage import train_card

    train_card(model_card("tiny-8"), None, progress=False)
    train_card(model_card("tiny-8-caption"), None, progress=False)
    return world


def cell_record(
    attack: str,
    scale: str | None = None,
    *,
    model: str | None = None,
    profile: str = "cpu",
    seed: int = 0,
    budget: int | None = None,
    overrides: dict | None = None,
    root: str | None = None,
    progress: bool = False,
    write: bool = True,
    results: Path | None = None,
    fresh: bool = False,
    model_path: str | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    members: str | None = None,
    mutation: str | None = None,
) -> dict:
    """``run_cell`` on the cell the command line would name: the zoo model serving ``scale`` (or
    ``model``), or a user's folder (``model_path``)."""
    from bench.cards import attack_card
    from bench.runner.cell import run_cell
    from bench.runner.spec import CellSpec, FolderModel, RunOptions, zoo_model

    if model_path is not None:
        where = FolderModel(model_path, scale, members, sampler, steps)
    else:
        where = zoo_model(attack_card(attack), scale, profile, model)
    spec = CellSpec(attack, where, profile, seed, budget, overrides or {}, root)
    options = RunOptions(
        write=write, results=results, progress=progress, fresh=fresh, mutation=mutation
    )
    return run_cell(spec, options)


def curve_records(
    attack: str,
    model: str,
    budgets: list[int],
    seeds: list[int],
    *,
    overrides: dict | None = None,
    profile: str = "cpu",
    progress: bool = False,
    results: Path | None = None,
) -> list[Path]:
    """``run_curve`` on a zoo model."""
    from bench.runner.curves import run_curve
    from bench.runner.spec import CellSpec, RunOptions, ZooModel

    spec = CellSpec(attack, ZooModel(model), profile, overrides=overrides or {})
    return run_curve(spec, budgets, seeds, RunOptions(results=results, progress=progress))
