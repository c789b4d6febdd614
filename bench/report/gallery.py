"""Galleries of a run's outputs beside the members they copy, for a person to look at.

They are written under BENCH_HOME only, never next to the leaderboard: the members are CelebA
faces, whose licence keeps them (and anything that reproduces them) out of the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.metrics import BAND_NAMES
from bench.records import read_record
from bench.utils.atomic import write_atomic
from bench.utils.paths import bench_home, home_path


def write_gallery(
    record_path: Path, folder: Path, n: int = 32, data_root: str | None = None
) -> Path | None:
    """A PNG in ``folder`` (under BENCH_HOME, never in the repository: the members are CelebA
    faces) of a run's outputs closest to a member, each beside that member and the distance.

    Returns None when this machine does not hold the run's outputs (records travel, shards
    don't), or holds shards that do not verify, or the run attacked an external folder, whose
    member set the record only names.
    """
    from PIL import Image, ImageDraw

    from bench.cards import dataset_card, model_card
    from bench.data.subset import members
    from bench.metrics.neighbours import NeighbourIndex
    from bench.utils.imageio import to_unit
    from bench.utils.paths import data_root as celeba_root

    rec = read_record(record_path)
    run_dir = home_path(rec["outputs"], f"run record {record_path}: outputs")
    outputs = None if rec.get("external") else _outputs(run_dir)
    if outputs is None:
        return None
    card = model_card(rec["model"])
    member_set = members(card, celeba_root(data_root))
    bands = dataset_card(card.dataset).bands(card.resolution)
    dist, idx = NeighbourIndex(to_unit(member_set.images)).knn(to_unit(outputs), 1)
    order = np.argsort(dist[:, 0], kind="stable")[:n]
    zoom, label, cols = 4, 14, 8
    side = card.resolution * zoom
    cell_w, cell_h = 2 * side + 6, side + label + 6
    rows = -(-len(order) // cols)
    canvas = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for k, i in enumerate(order):
        r, c = divmod(k, cols)
        x, y = c * cell_w, r * cell_h
        pair = (outputs[i], member_set.images[idx[i, 0]])
        for j, image in enumerate(pair):
            tile = Image.fromarray(image).resize((side, side), Image.Resampling.NEAREST)
            canvas.paste(tile, (x + j * side, y))
        d = float(dist[i, 0])
        band = next((b for b in BAND_NAMES if bands[b]["lo"] <= d < bands[b]["hi"]), "-")
        draw.text((x + 2, y + side + 1), f"l2 {d:.3f} {band}", fill="black")
    out = folder / f"{record_path.parent.parent.name}-{rec['model']}-{record_path.stem}.png"
    write_atomic(out, lambda p: canvas.save(p, format="PNG"))
    return out


def _outputs(run_dir: Path) -> np.ndarray | None:
    """A run's outputs, shard by shard, or None when it has none here or one does not verify.

    Read without removing anything: a run's cell remakes a damaged shard, but a picture has no
    business deleting the only copy of a run's outputs (shards written before they carried a
    digest do not verify)."""
    from bench.attacks.store import read_shard, shard_name
    from bench.utils.cachefiles import CORRUPT

    shards = []
    while (path := run_dir / shard_name(len(shards))).is_file():
        try:
            shards.append(read_shard(path)["images"])
        except CORRUPT:
            return None
    return np.concatenate(shards) if shards else None


def galleries_dir() -> Path:
    return bench_home() / "galleries"
