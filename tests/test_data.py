"""The CelebA reader, preprocessing, manifests and captions, on generated trees."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.cards import dataset_card
from bench.data.captions import caption
from bench.data.celeba import read_index
from bench.data.manifests import members, read_manifest, training_multiset
from bench.data.preprocess import crop_box, load_images, preprocess
from bench.errors import BenchError
from bench.utils.paths import data_root
from tests.conftest import make_celeba


def test_reader_reads_official_and_half_size(tmp_path: Path) -> None:
    for size in ((178, 218), (89, 109)):
        root = make_celeba(tmp_path / f"c{size[0]}", n=6, size=size)
        index = read_index(root)
        assert index.files[0] == "000001.jpg" and index.attributes.shape == (6, 40)
        assert index.identities.tolist() == [1, 1, 2, 2, 3, 3]


def test_crop_is_the_same_region_at_both_sizes() -> None:
    crop = {"left": 0.08427, "top": 0.18349, "size": 0.83146}
    full, half = crop_box(178, 218, crop), crop_box(89, 109, crop)
    assert full == (15, 40, 163, 188)
    assert all(abs(a / 2 - b) <= 0.5 for a, b in zip(full, half))
    # a half-size copy of an image gives (nearly) the same preprocessed pixels
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 255, (218, 178, 3), dtype=np.uint8)).filter(
        __import__("PIL.ImageFilter", fromlist=["GaussianBlur"]).GaussianBlur(6)
    )
    small = big.resize((89, 109), Image.Resampling.LANCZOS)
    a = preprocess(big, crop, 16).astype(int)
    b = preprocess(small, crop, 16).astype(int)
    assert np.abs(a - b).mean() < 4


def test_missing_root_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BENCH_DATA", raising=False)
    with pytest.raises(BenchError, match="pass --data-root or set BENCH_DATA"):
        data_root()
    with pytest.raises(BenchError, match="does not exist"):
        data_root(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="not in CelebA's layout"):
        read_index(tmp_path / "empty")


def test_attribute_rows_that_disagree_with_identities(celeba_root: Path) -> None:
    ident = celeba_root / "identity_CelebA.txt"
    ident.write_text("\n".join(ident.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(BenchError, match="disagree on 1 image"):
        read_index(celeba_root)


def test_attribute_count_mismatch(celeba_root: Path) -> None:
    attr = celeba_root / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    attr.write_text("\n".join(["999"] + lines[1:]) + "\n")
    with pytest.raises(BenchError, match="header says 999 images"):
        read_index(celeba_root)


def test_corrupt_jpeg_is_named(world: Path, celeba_root: Path) -> None:
    card = dataset_card("celeba")
    names = members(card, "8")
    (celeba_root / "img_align_celeba" / names[0]).write_bytes(b"\xff\xd8not a jpeg")
    with pytest.raises(BenchError, match=f"{names[0]} is corrupt"):
        load_images(card, celeba_root, names, 8)


def test_manifests_are_nested_and_identity_disjoint(world: Path, celeba_root: Path) -> None:
    card = dataset_card("celeba")
    index = read_index(celeba_root)
    small, large = members(card, "8"), members(card, "24")
    assert large[:8] == small and len(set(large)) == 24
    non = read_manifest(card.nonmembers)
    ident = dict(zip(index.files, index.identities.tolist()))
    assert len(non) == 8
    assert not {ident[f] for f in non} & {ident[f] for f in large}


def test_unknown_and_unsuppliable_scales(world: Path, celeba_root: Path) -> None:
    card = dataset_card("celeba")
    with pytest.raises(BenchError, match=r"unknown scale '3k'.*valid: 8, 24, 100"):
        members(card, "3k")
    with pytest.raises(BenchError, match=r"scale 100 needs 100 member images.*supplies \d+"):
        members(card, "100", read_index(celeba_root))


def test_canary_multiset(world: Path) -> None:
    card = dataset_card("celeba")
    files, counts = training_multiset(card, "24", "24")
    assert len(files) == 24 and sorted(counts.tolist()) == [1] * 22 + [4, 4]


def test_ladder_multiset_has_every_tier(world: Path) -> None:
    card = dataset_card("celeba")
    files, counts = training_multiset(card, "24", "ladder-24")
    assert len(files) == 24 and sorted(counts.tolist()) == [1] * 20 + [2, 2, 8, 8]
    # Ladder members are drawn after the canaries, so adding a ladder leaves them unchanged.
    assert sorted(training_multiset(card, "24", "24")[1].tolist()) == [1] * 22 + [4, 4]


def test_malformed_ladder_manifest_is_one_line(world: Path) -> None:
    card = dataset_card("celeba")
    path = card.path.parent / "celeba" / "ladder-24.txt"
    path.write_text(path.read_text().replace(" 8\n", " eight\n", 1))
    with pytest.raises(BenchError, match="is not 'file repeats"):
        training_multiset(card, "24", "ladder-24")


def test_tier_hits_count_distinct_members_per_duplicate_count() -> None:
    from bench.zoo.memorisation import tier_hits

    counts = np.array([8, 8, 2, 2, 1, 1])
    flags = np.array([True, True, True, False, True])
    nearest = np.array([0, 0, 2, 3, 5])  # member 0 twice, member 2, member 5; 3 is not flagged
    assert tier_hits(flags, nearest, counts) == {8: 1, 2: 1, 1: 1}
    assert tier_hits(flags, nearest, np.ones(6, dtype=np.int64)) is None


def test_preprocess_cache_round_trip(
    world: Path, celeba_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.data.preprocess

    card = dataset_card("celeba")
    names = members(card, "8")
    first = load_images(card, celeba_root, names, 8)

    def refuse(*args: object) -> None:
        raise AssertionError("the second load must come from the cache")

    monkeypatch.setattr(bench.data.preprocess, "preprocess", refuse)
    assert np.array_equal(first, load_images(card, celeba_root, names, 8))
    assert first.dtype == np.uint8 and first.shape == (8, 8, 8, 3)


def test_caption_is_deterministic_text() -> None:
    attrs = dict.fromkeys(
        [
            "Smiling",
            "Young",
            "Male",
            "Wavy_Hair",
            "Straight_Hair",
            "Bald",
            "Bangs",
            "No_Beard",
            "Mustache",
            "Heavy_Makeup",
            "Mouth_Slightly_Open",
            "Black_Hair",
            "Blond_Hair",
            "Brown_Hair",
            "Gray_Hair",
            "Eyeglasses",
            "Wearing_Hat",
            "Wearing_Earrings",
            "Wearing_Necklace",
            "Wearing_Lipstick",
        ],
        False,
    )
    attrs.update(
        Smiling=True,
        Young=True,
        Wavy_Hair=True,
        Blond_Hair=True,
        Wearing_Earrings=True,
        No_Beard=True,
    )
    assert caption(attrs) == "a smiling young woman with wavy blond hair, wearing earrings"


# --- list files and images that are not what their names say (issue 33) --------------------


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(b"1\n\xff\xfe not utf-8\n"), "is not UTF-8 text"),
        (lambda p: (p.unlink(), p.symlink_to(p)), "cannot be read (Too many levels"),
        (lambda p: (p.unlink(), os.mkfifo(p)), "is a FIFO, not a regular file"),
        (lambda p: (p.unlink(), p.symlink_to("/dev/zero")), "is a device, not a regular file"),
        (lambda p: (p.unlink(), p.symlink_to(p.parent / "nowhere")), "is a link to nothing"),
    ],
)
@pytest.mark.parametrize("file", ["list_attr_celeba.txt", "identity_CelebA.txt"])
def test_a_list_file_that_is_not_text_is_one_line(
    celeba_root: Path, file: str, damage, message: str
) -> None:
    """Not UTF-8 raised UnicodeDecodeError; a FIFO or /dev/zero hung or filled memory."""
    damage(celeba_root / file)
    with pytest.raises(BenchError, match=re.escape(message)):
        read_index(celeba_root)


def test_a_non_integer_identity_is_one_line(celeba_root: Path) -> None:
    ident = celeba_root / "identity_CelebA.txt"
    lines = ident.read_text().splitlines()
    first = lines[0].split()[0]
    ident.write_text("\n".join([f"{first} 12x", *lines[1:]]) + "\n")
    with pytest.raises(BenchError, match=f"identity of {first} is '12x', not an integer"):
        read_index(celeba_root)


@pytest.mark.parametrize("kind", ["fifo", "device", "loop"])
def test_an_image_that_is_a_fifo_a_device_or_a_loop_is_named_without_hanging(
    world: Path, celeba_root: Path, kind: str
) -> None:
    card = dataset_card("celeba")
    names = members(card, "8")
    path = celeba_root / "img_align_celeba" / names[1]
    path.unlink()
    {"fifo": lambda: os.mkfifo(path), "device": lambda: path.symlink_to("/dev/zero")}.get(
        kind, lambda: path.symlink_to(path)
    )()
    with pytest.raises(BenchError, match=re.escape(str(path))):
        load_images(card, celeba_root, names, 8)


def test_a_16_bit_member_is_scaled_not_clipped(world: Path, celeba_root: Path) -> None:
    """Pillow's convert("RGB") clips I;16 to 255: a 16-bit copy of a member came out white."""
    from bench.data.celeba import load_image

    grey = np.linspace(0, 255, 89 * 109).reshape(109, 89).round().astype(np.uint8)
    Image.fromarray(grey).save(celeba_root / "img_align_celeba" / "000001.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(celeba_root / "deep.png")
    assert Image.open(celeba_root / "deep.png").mode == "I;16"
    (celeba_root / "img_align_celeba" / "000002.png").write_bytes(
        (celeba_root / "deep.png").read_bytes()
    )
    eight = np.asarray(load_image(celeba_root, "000001.png"))
    sixteen = np.asarray(load_image(celeba_root, "000002.png"))
    assert np.array_equal(eight, sixteen)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    file=st.sampled_from(["list_attr_celeba.txt", "identity_CelebA.txt"]),
    line=st.integers(0, 4),
    junk=st.binary(max_size=40) | st.text(max_size=40).map(str.encode),
)
def test_fuzzed_list_files_are_read_or_refused_in_one_line(
    tmp_path_factory, file: str, line: int, junk: bytes
) -> None:
    """Any bytes in place of one line of a list file: the index reads, or one BenchError line."""
    root = make_celeba(tmp_path_factory.mktemp("fuzz") / "celeba", n=4)
    path = root / file
    lines = path.read_bytes().split(b"\n")
    lines[min(line, len(lines) - 1)] = junk
    path.write_bytes(b"\n".join(lines))
    try:
        read_index(root)
    except BenchError as exc:
        assert "\n" not in str(exc)
