"""Bring your own model: a diffusers ``save_pretrained`` folder attacked with ``--model-path``,
scored against the member set it names, and filed in its own leaderboard section."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler, UNet2DModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import main
from bench.utils.paths import reports_dir

RUN = ["run", "--attack", "carlini", "--scale", "8", "--budget", "8"]


def save_pretrained(
    folder: Path, size: int = 8, channels: int = 3, scheduler_cls: type = DDPMScheduler
) -> Path:
    """A tiny untrained DDPM saved as a pipeline folder, as a user outside the suite would."""
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=4,
        act_fn="gelu",
    )
    scheduler = scheduler_cls(num_train_timesteps=100, prediction_type="sample", clip_sample=True)
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder)
    return folder


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def written() -> list[Path]:
    roots = [Path(os.environ["BENCH_HOME"]), Path(os.environ["BENCH_REPORTS"])]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())


def test_a_save_pretrained_folder_is_attacked_scored_and_filed_apart(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = save_pretrained(tmp_path / "my-ddpm", scheduler_cls=DDIMScheduler)
    assert main([*RUN, "--model-path", str(folder), "--steps", "3", "--publish", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["external"] is True and rec["model"].startswith("my-ddpm-")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    from bench.utils.digest import sha256

    assert rec["checkpoint_sha256"] == sha256(weights)
    # The full configs as sampled: the folder's own UNet keys and its scheduler class.
    assert rec["model_config"]["unet"]["act_fn"] == "gelu"
    assert rec["model_config"]["scheduler"]["_class_name"] == "DDIMScheduler"
    assert rec["metrics"]["ums"] and rec["scale"] == "8"
    assert main(["run", "--attack", "carlini", "--scale", "8", "--budget", "8", "--publish"]) == 0
    zoo = json.loads(
        next((reports_dir() / "runs" / "carlini" / "tiny-8").glob("*.json")).read_text()
    )
    assert zoo["external"] is False and zoo["model_config"]["unet"]["_class_name"] == "UNet2DModel"

    assert main(["report"]) == 0
    board = (reports_dir() / "leaderboard.md").read_text()
    head, external = board.split("## External models")
    assert rec["model"] in external and rec["model"] not in head
    assert "tiny-8" in head and "tiny-8" not in external.split("\n## ")[0]


def test_a_curve_of_a_folder(world: Path, tmp_path: Path, capsys) -> None:
    folder = save_pretrained(tmp_path / "m")
    args = ["curve", "--attack", "carlini", "--model-path", str(folder), "--budgets", "4,8"]
    assert main([*args, "--seeds", "0", "--steps", "2"]) == 2
    assert "--model-path needs --scale or --members" in one_error_line(capsys)
    assert main([*args, "--seeds", "0", "--steps", "2", "--scale", "8", "--publish"]) == 0
    records = sorted((reports_dir() / "curves" / "runs" / "carlini").rglob("*.json"))
    assert [json.loads(p.read_text())["budget"] for p in records] == [4, 8]
    assert all(json.loads(p.read_text())["external"] for p in records)
    assert main(["report"]) == 0
    assert "Efficiency curves" not in (reports_dir() / "leaderboard.md").read_text()


def test_a_sweep_of_a_folder(world: Path, tmp_path: Path, capsys) -> None:
    folder = save_pretrained(tmp_path / "m")
    args = ["sweep", "--attack", "carlini", "--model-path", str(folder), "--scale", "8"]
    args += ["--param", "clique_k", "--values", "2,3", "--budget", "8", "--steps", "2"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    records = sorted((tmp_path / "out" / "sweeps" / "runs" / "carlini").rglob("*.json"))
    assert sorted(json.loads(p.read_text())["params"]["clique_k"] for p in records) == [2, 3]
    assert all(json.loads(p.read_text())["external"] for p in records)


def test_members_listed_in_a_manifest(world: Path, tmp_path: Path, capsys) -> None:
    from bench.data.manifests import read_manifest

    folder = save_pretrained(tmp_path / "m")
    listed = read_manifest(world / "datasets" / "celeba" / "members-8.txt")[:5]
    manifest = tmp_path / "members.txt"
    manifest.write_text("\n".join(listed) + "\n")
    run = ["run", "--attack", "carlini", "--budget", "8", "--model-path", str(folder)]
    assert main([*run, "--members", str(manifest), "--steps", "2", "--publish", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["scale"] == "5-listed" and rec["member_manifest"]["n"] == 5
    assert main(["report"]) == 0
    assert "5-listed" in (reports_dir() / "leaderboard.md").read_text().split("External models")[1]

    nonmember = read_manifest(world / "datasets" / "celeba" / "nonmembers.txt")[0]
    manifest.write_text(f"{listed[0]}\n{nonmember}\n")
    before = written()
    assert main([*run, "--members", str(manifest)]) == 2
    assert "in the dataset's non-member pool" in one_error_line(capsys)
    manifest.write_text(f"{listed[0]}\n{listed[0]}\n")
    assert main([*run, "--members", str(manifest)]) == 2
    assert f"lists {listed[0]} twice" in one_error_line(capsys)
    assert main(["run", "--attack", "carlini", "--members", str(manifest)]) == 2
    assert "apply to --model-path" in one_error_line(capsys)
    assert written() == before


def test_sampler_and_steps_flags_reach_the_sampler(world: Path, tmp_path: Path) -> None:
    from bench.cards import attack_card
    from bench.zoo.targets import external_target

    folder = save_pretrained(tmp_path / "m")
    target = external_target(attack_card("carlini"), str(folder), "8", "cpu", sampler="ddim")
    assert type(target.make_sampler()).__name__ == "DDIMScheduler"
    assert target.sampling_steps == 50  # the suite's default
    target = external_target(attack_card("carlini"), str(folder), "8", "cpu", steps=7)
    assert type(target.make_sampler()).__name__ == "DDPMScheduler" and target.sampling_steps == 7


def test_not_a_diffusers_folder(world: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "junk").mkdir()
    before = written()
    assert main([*RUN, "--model-path", str(tmp_path / "junk")]) == 2
    assert "is not a diffusers folder" in one_error_line(capsys)
    assert written() == before


@pytest.mark.parametrize(
    "size, channels, expected",
    [(12, 3, "samples 12px images"), (8, 1, "maps 1 to 1 channels")],
)
def test_weights_that_do_not_fit_the_member_set(
    world: Path, tmp_path: Path, capsys, size: int, channels: int, expected: str
) -> None:
    folder = save_pretrained(tmp_path / "m", size=size, channels=channels)
    before = written()
    assert main([*RUN, "--model-path", str(folder)]) == 2
    assert expected in one_error_line(capsys)
    assert written() == before


def test_weights_that_do_not_fit_their_config(world: Path, tmp_path: Path, capsys) -> None:
    folder = save_pretrained(tmp_path / "m")
    config = folder / "unet" / "config.json"
    config.write_text(config.read_text().replace('"layers_per_block": 1', '"layers_per_block": 2'))
    assert main([*RUN, "--model-path", str(folder)]) == 2
    assert "does not fit its own config" in one_error_line(capsys)


def test_a_scheduler_class_diffusers_lacks(world: Path, tmp_path: Path, capsys) -> None:
    folder = save_pretrained(tmp_path / "m")
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace("DDPMScheduler", "WarpScheduler"))
    before = written()
    assert main([*RUN, "--model-path", str(folder)]) == 2
    assert "'WarpScheduler' is not a diffusers scheduler class" in one_error_line(capsys)
    assert main([*RUN, "--model-path", str(save_pretrained(tmp_path / "n")), "--sampler", "x"]) == 2
    assert "'x' is not a diffusers scheduler class" in one_error_line(capsys)
    assert written() == before


def test_a_caption_conditional_folder_is_refused_in_one_line(
    world: Path, tmp_path: Path, capsys
) -> None:
    from diffusers import UNet2DConditionModel

    folder = tmp_path / "cond"
    UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        cross_attention_dim=16,
        attention_head_dim=4,
        layers_per_block=1,
    ).save_pretrained(folder / "unet")
    DDPMScheduler(num_train_timesteps=100).save_pretrained(folder / "scheduler")
    args = ["run", "--attack", "text-conditional", "--scale", "8", "--model-path", str(folder)]
    assert main(args) == 2
    assert "text-conditional extraction needs the suite's caption encoder" in one_error_line(capsys)


def test_zoo_import_makes_a_first_class_zoo_model(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.cards import attack_card, model_card
    from bench.cards.registry import read_toml
    from bench.zoo.load import load_denoiser
    from bench.zoo.targets import external_target

    folder = save_pretrained(tmp_path / "m", scheduler_cls=DDIMScheduler)
    assert main(["zoo", "import", str(folder), "--name", "mine-8", "--scale", "8"]) == 0
    card = model_card("mine-8")
    raw = read_toml(card.path)
    assert card.imported and "training" not in raw and raw["trained"]["checkpoint_sha256"]
    assert raw["architecture"]["act_fn"] == "gelu"
    assert raw["scheduler"]["sampler"] == "DDIMScheduler"
    assert card.checkpoint_path.parent == world / "models" / "checkpoints"
    # The card builds the very network that was saved: the folder's UNet's outputs, exactly.
    theirs = external_target(attack_card("carlini"), str(folder), "8", "cpu").load_denoiser()
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([5, 50])
    with torch.no_grad():
        assert torch.equal(load_denoiser(card)(x, t), theirs(x, t))
    capsys.readouterr()
    assert main(["zoo", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mine-8"]["status"] == "trained"  # so the grid attacks it
    assert rows["mine-8"]["imported"] and rows["mine-8"]["images_seen"] is None
    run = ["run", "--attack", "carlini", "--model", "mine-8", "--scale", "8", "--budget", "8"]
    assert main([*run, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["external"] is False

    before = written() + sorted((world / "models").rglob("*"))
    assert main(["zoo", "import", str(folder), "--name", "mine-8", "--scale", "8"]) == 2
    assert "model 'mine-8' already exists" in one_error_line(capsys)
    assert written() + sorted((world / "models").rglob("*")) == before


def test_an_imported_card_refuses_weights_that_do_not_fit(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bench.cards import model_card
    from bench.errors import BenchError
    from bench.zoo.build import build_unet
    from bench.zoo.load import load_denoiser

    grey = save_pretrained(tmp_path / "grey", channels=1)
    before = sorted((world / "models").rglob("*"))
    assert main(["zoo", "import", str(grey), "--name", "grey-8", "--scale", "8"]) == 2
    assert "maps 1 to 1 channels" in one_error_line(capsys)
    assert sorted((world / "models").rglob("*")) == before

    folder = save_pretrained(tmp_path / "m")
    assert main(["zoo", "import", str(folder), "--name", "mine-8", "--scale", "8"]) == 0
    path = model_card("mine-8").path
    text = path.read_text()
    path.write_text(text.replace("resolution = 8", "resolution = 16"))
    with pytest.raises(BenchError, match="sample_size is 8, but its member set is 16"):
        load_denoiser(model_card("mine-8"))
    path.write_text(text.replace("in_channels = 3", "in_channels = 1"))
    with pytest.raises(BenchError, match="in_channels is 1, but its member set is 3"):
        build_unet(model_card("mine-8"))


def test_other_steps_or_sampler_keep_their_own_cell_and_record(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--steps`` and ``--sampler`` change every output, so they are part of the cell: a rerun
    with other values used to resume the first run's outputs and overwrite its record."""
    folder = save_pretrained(tmp_path / "m")
    run = [*RUN, "--model-path", str(folder), "--json", "--out", str(tmp_path / "out")]
    settings = [["--steps", "2"], ["--steps", "3"], ["--steps", "2", "--sampler", "ddim"]]
    records = []
    for extra in settings:
        assert main([*run, *extra]) == 0
        records.append(json.loads(capsys.readouterr().out))
    assert len({r["model"] for r in records}) == 3 and len({r["outputs"] for r in records}) == 3
    assert len(list((tmp_path / "out" / "runs").rglob("*.json"))) == 3
    assert main([*run, "--steps", "2"]) == 0  # the same setting again is the same cell
    assert json.loads(capsys.readouterr().out)["model"] == records[0]["model"]


# --- a folder's configs, checked against what diffusers accepts before any work (issue 33) ----

UNET_BREAKS = [
    ({"_class_name": 5}, "describes a '5'"),
    ({"_class_name": ["UNet2DModel"]}, "describes a"),
    ({"sample_size": {"h": 8}}, "sample_size is {'h': 8}"),
    ({"norm_num_groups": 3}, "norm_num_groups 3 must divide every block_out_channels"),
    ({"down_block_types": ["DownBlock2D"]}, "the block lists must be as long as each other"),
    ({"in_channels": -3}, "in_channels is -3: input should be greater than or equal to 1"),
    ({"act_fn": "wobble"}, "diffusers refuses it as a UNet2DModel"),
]
SCHEDULER_BREAKS = [
    ({"prediction_type": "noise"}, "prediction_type is 'noise': input should be 'epsilon'"),
    ({"beta_schedule": "cubic"}, "diffusers refuses"),
    ({"num_train_timesteps": 0}, "num_train_timesteps is 0: input should be greater than"),
    ({"num_train_timesteps": -5}, "num_train_timesteps is -5"),
    ({"_class_name": "SchedulerMixin"}, "'SchedulerMixin' is not a diffusers scheduler class"),
    ({"timestep_spacing": "sideways"}, "diffusers refuses"),
]


def _edit(folder: Path, part: str, change: dict) -> None:
    name = "config.json" if part == "unet" else "scheduler_config.json"
    path = folder / part / name
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


@pytest.mark.parametrize(
    ("part", "change", "message"),
    [("unet", *b) for b in UNET_BREAKS] + [("scheduler", *b) for b in SCHEDULER_BREAKS],
)
def test_a_config_diffusers_would_refuse_is_one_line_before_any_work(
    world: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    part: str,
    change: dict,
    message: str,
) -> None:
    """Each of these ended in a traceback, some (an unknown prediction_type) after sampling had
    begun; ``zoo import`` also left its card behind, blocking the name."""
    folder = save_pretrained(tmp_path / "m")
    _edit(folder, part, change)
    before = written() + sorted((world / "models").rglob("*"))
    assert main([*RUN, "--model-path", str(folder), "--steps", "2"]) == 2
    assert message in one_error_line(capsys)
    assert main(["zoo", "import", str(folder), "--name", "mine", "--scale", "8"]) == 2
    assert message in one_error_line(capsys)
    assert written() + sorted((world / "models").rglob("*")) == before


def test_steps_above_the_training_steps_and_sampler_base_classes(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = save_pretrained(tmp_path / "m")  # trained with 100 steps
    before = written()
    assert main([*RUN, "--model-path", str(folder), "--steps", "101"]) == 2
    assert "--steps 101 is more than the 100 steps" in one_error_line(capsys)
    assert main([*RUN, "--model-path", str(folder), "--sampler", "SchedulerMixin"]) == 2
    assert "'SchedulerMixin' is not a diffusers scheduler class" in one_error_line(capsys)
    assert written() == before


def test_a_long_folder_name_and_import_name(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = save_pretrained(tmp_path / ("m" * 240))
    out = tmp_path / "out"
    assert main([*RUN, "--model-path", str(folder), "--steps", "2", "--out", str(out)]) == 0
    assert len(list(out.rglob("*.json"))) == 1
    capsys.readouterr()
    assert main(["zoo", "import", str(folder), "--name", "n" * 300, "--scale", "8"]) == 2
    assert "is not a valid name: use at most 100" in one_error_line(capsys)


def test_a_failed_import_leaves_nothing_whatever_stopped_it(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a BenchError used to clean up: any other failure left the card, blocking the name."""
    import bench.zoo.import_folder as importer

    folder = save_pretrained(tmp_path / "m")
    before = sorted((world / "models").rglob("*"))

    def broken(card):
        raise RuntimeError("a fault while loading")

    monkeypatch.setattr(importer, "load_denoiser", broken)
    with pytest.raises(RuntimeError):
        importer.import_folder(str(folder), "mine", "8")
    assert sorted((world / "models").rglob("*")) == before


FUZZ_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.lists(st.integers(-4, 64), max_size=4)
)
UNET_KEYS = [
    "_class_name", "sample_size", "in_channels", "block_out_channels", "down_block_types",
    "up_block_types", "layers_per_block", "norm_num_groups", "attention_head_dim", "act_fn",
    "norm_eps", "time_embedding_type", "freq_shift", "downsample_padding",
    "resnet_time_scale_shift",
]  # fmt: skip
SCHEDULER_KEYS = [
    "_class_name", "num_train_timesteps", "prediction_type", "beta_schedule", "beta_start",
    "beta_end", "clip_sample", "clip_sample_range", "timestep_spacing", "steps_offset",
    "variance_type", "thresholding", "set_alpha_to_one", "rescale_betas_zero_snr",
]  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return save_pretrained(tmp_path_factory.mktemp("pristine") / "m")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_folder_configs_load_or_are_one_line(pristine: Path, tmp_path_factory, data) -> None:
    """Any value at any key the suite or diffusers reads: the folder loads and dry-runs, or one
    BenchError line; never a traceback."""
    import shutil

    from bench.errors import BenchError
    from bench.zoo import external

    folder = tmp_path_factory.mktemp("fuzz") / "m"
    shutil.copytree(pristine, folder)
    part = data.draw(st.sampled_from(["unet", "scheduler"]))
    key = data.draw(st.sampled_from(UNET_KEYS if part == "unet" else SCHEDULER_KEYS))
    _edit(folder, part, {key: data.draw(FUZZ_VALUES)})
    steps = data.draw(st.integers(1, 120))
    try:
        read = external.read_folder(folder)
        external.dry_run(read, None, steps)
        external.load_unet(read)
    except BenchError as exc:
        assert "\n" not in str(exc)
