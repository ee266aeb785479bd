"""Image folders: layout, every PIL mode, bad files, decode-once cache and its invalidation."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from imagefiles import blob_image, write_labelled_folder, write_unlabelled_folder
from PIL import Image

from pretrain.core.config import ConfigError, DataConfig
from pretrain.core.data import DataError, load_splits
from pretrain.core.decode import DecodeSettings, decode_image
from pretrain.core.image_sizes import evenly_spaced, header_size


def folder_cfg(root, cache_dir, **kw) -> DataConfig:
    keys = {"name": "image_folder", "root": str(root), "cache_dir": str(cache_dir), "workers": 1, **kw}
    return DataConfig.from_mapping(keys)  # the folder's own keys (cache, on_bad_file) too


@pytest.fixture
def messy_folder(tmp_path):
    """4 classes x 12 PNGs (nested), plus files in every mode, three broken files and noise."""
    root = write_labelled_folder(tmp_path / "labelled")
    extra = root / "class0" / "modes"
    extra.mkdir()
    rgb = blob_image(0, 99, 20)
    Image.fromarray(rgb).convert("L").save(extra / "grey.png")
    Image.fromarray(np.dstack([rgb, np.full((20, 20), 255, np.uint8)])).save(extra / "rgba.png")
    Image.fromarray(rgb).convert("P").save(extra / "palette.png")
    Image.fromarray(np.asarray(Image.fromarray(rgb).convert("L"), np.uint16) * 257).save(extra / "deep16.png")
    Image.fromarray(rgb).convert("CMYK").save(extra / "cmyk.jpg")
    Image.fromarray(rgb).save(extra / "ñandú_żółw.png")  # a non-ASCII name
    good = (root / "class1" / "img0.png").read_bytes()
    (root / "class1" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "class2" / "text.png").write_text("this is not an image")
    (root / "class3" / "empty.png").write_bytes(b"")
    (root / "class3" / ".hidden.png").write_bytes(good)  # hidden: ignored
    (root / "class3" / "notes.txt").write_text("ignored: not an image extension")
    (root / ".git").mkdir()  # hidden folder: not a class
    return root


def test_labelled_folder_with_every_mode_and_bad_files(messy_folder, tmp_path, capsys):
    cfg = folder_cfg(messy_folder, tmp_path / "cache", image_size=16, val_size=8, test_size=8)
    splits = load_splits(cfg)
    assert splits.classes == ("class0", "class1", "class2", "class3")
    total = len(splits.train) + len(splits.val) + len(splits.test)
    assert total == 4 * 12 + 6  # 48 PNGs + 6 mode files; the 3 broken, hidden and .txt files are out
    assert splits.train.image_shape == (3, 16, 16)  # colour files: RGB by default
    assert len(splits.mean) == 3 and all(0 < m < 1 for m in splits.mean)
    assert "skipped 3 unreadable files" in capsys.readouterr().out
    listing = next((tmp_path / "cache").glob("*/bad_files.txt")).read_text()
    for name in ("truncated.png", "text.png", "empty.png"):
        assert name in listing
    assert len(listing.splitlines()) == 3 and all("\t" in line for line in listing.splitlines())
    # class-balanced carving: every class is in validation and test in proportion
    assert set(splits.val.y.tolist()) == set(splits.test.y.tolist()) == {0, 1, 2, 3}


def test_on_bad_file_error_stops_at_the_first(messy_folder, tmp_path):
    with pytest.raises(DataError, match=r"truncated\.png.*on_bad_file=error"):
        load_splits(folder_cfg(messy_folder, tmp_path / "cache", image_size=16, on_bad_file="error"))
    assert not list((tmp_path / "cache").glob("*/meta.json"))  # no half-written cache entry


@pytest.mark.parametrize("channels", [1, 3])
def test_modes_convert_to_the_asked_channels(tmp_path, channels):
    red = np.zeros((6, 6, 3), np.uint8)
    red[..., 0] = 255
    files = {
        "rgb.png": Image.fromarray(red),
        "rgba_clear.png": Image.fromarray(np.dstack([red, np.zeros((6, 6), np.uint8)])),  # fully transparent
        "palette.png": Image.fromarray(red).convert("P"),
        "deep.png": Image.fromarray(np.full((6, 6), 65535, np.uint16)),  # 16-bit white
        "cmyk.tif": Image.fromarray(red).convert("CMYK"),
    }
    settings = DecodeSettings(0, "crop", channels)
    out = {}
    for name, img in files.items():
        img.save(tmp_path / name)
        out[name] = decode_image(tmp_path / name, settings)
        assert out[name].shape == (channels, 6, 6) and out[name].dtype == np.uint8
    red_value = [255, 0, 0] if channels == 3 else [76]  # ITU-R 601 luma of pure red
    for name in ("rgb.png", "palette.png", "cmyk.tif"):
        assert out[name][:, 0, 0].tolist() == red_value, name
    assert out["rgba_clear.png"].max() == 0  # transparent pixels become black
    assert out["deep.png"].min() == 255  # 65535 in 16 bits is white in 8


def test_exif_orientation_is_honoured(tmp_path):
    img = np.zeros((4, 8, 3), np.uint8)  # 4 rows, 8 columns; the left half bright
    img[:, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(img).save(tmp_path / "turned.jpg", exif=exif, quality=100)
    pixels = decode_image(tmp_path / "turned.jpg", DecodeSettings(0, "crop", 3))
    assert pixels.shape == (3, 8, 4)  # displayed upright: 8 rows, 4 columns
    assert pixels[:, :2].mean() > 200 and pixels[:, -2:].mean() < 50  # the bright half is now on top


def test_resize_crop_and_squash(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # the centre third is bright
    Image.fromarray(wide).save(tmp_path / "wide.png")
    crop = decode_image(tmp_path / "wide.png", DecodeSettings(5, "crop", 1))
    squash = decode_image(tmp_path / "wide.png", DecodeSettings(5, "squash", 1))
    assert crop.shape == squash.shape == (1, 5, 5)
    assert crop.min() > 200  # the centre crop is the bright third
    assert squash[0, :, 0].max() < 50 and squash[0, :, 2].min() > 200  # squashed: dark, bright, dark


def test_cache_is_reused_and_invalidated_when_a_file_changes(tmp_path, capsys):
    root = write_labelled_folder(tmp_path / "data", classes=2, per_class=10)
    cfg = folder_cfg(root, tmp_path / "cache", val_size=4, test_size=4)
    first = load_splits(cfg)
    assert "decoding 20 images" in capsys.readouterr().out
    again = load_splits(cfg)
    assert "decoding" not in capsys.readouterr().out  # read back from the cache
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.val.y, again.val.y)
    changed = root / "class0" / "img0.png"
    Image.fromarray(np.full((20, 20, 3), 7, np.uint8)).save(changed)
    os.utime(changed, ns=(1, 10**18))  # a new modification time whatever the clock's resolution
    load_splits(cfg)
    assert "decoding 20 images" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("*/meta.json"))) == 2


def test_split_folders_are_used_as_given(tmp_path):
    for split, n in (("train", 10), ("val", 3), ("test", 4)):
        write_labelled_folder(tmp_path / "d" / split, classes=2, per_class=n, nested=False, seed=len(split))
    splits = load_splits(folder_cfg(tmp_path / "d", tmp_path / "cache"))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (20, 6, 8)
    assert splits.train.image_shape == (3, 20, 20)  # native size kept


def test_unlabelled_folder_gives_pretraining_images_only(tmp_path):
    root = write_unlabelled_folder(tmp_path / "photos", n=30)
    splits = load_splits(folder_cfg(root, tmp_path / "cache", image_size=12, channels=1))
    assert not splits.labelled and splits.test is None
    assert len(splits.train) + len(splits.val) == 30 and bool((splits.train.y == -1).all())
    assert splits.train.image_shape == (1, 12, 12)


def test_streamed_images_equal_cached_ones(tmp_path):
    root = write_labelled_folder(tmp_path / "data", classes=2, per_class=8)
    cached = load_splits(folder_cfg(root, tmp_path / "cache", image_size=8, val_size=4, test_size=4))
    streamed = load_splits(folder_cfg(root, tmp_path / "cache", image_size=8, val_size=4, test_size=4, cache=False))
    for a, b in ((cached.train, streamed.train), (cached.test, streamed.test)):
        assert torch.equal(a.x[torch.arange(len(a))], b.x[torch.arange(len(b))]) and torch.equal(a.y, b.y)
    assert cached.mean == pytest.approx(streamed.mean)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "a").mkdir(parents=True), r"class folder .*a holds no image files"),
        (lambda root: root.mkdir(), r"holds no image files"),
        (lambda root: None, r"is not a folder"),
        (lambda root: write_labelled_folder(root, classes=2, per_class=2), r"cannot carve 3 val images out of 1"),
    ],
    ids=["empty class", "no images", "missing", "split too small"],
)
def test_unusable_folders_are_clear_errors(tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(DataError, match=message):
        load_splits(folder_cfg(root, tmp_path / "cache", test_size=3, val_size=3))


def test_non_square_native_images_need_an_image_size(tmp_path):
    (tmp_path / "d" / "c").mkdir(parents=True)
    for i in range(12):
        Image.fromarray(np.zeros((10, 14, 3), np.uint8)).save(tmp_path / "d" / "c" / f"{i}.png")
    with pytest.raises(DataError, match="not square; set data.image_size"):
        load_splits(folder_cfg(tmp_path / "d", tmp_path / "cache"))


def test_bad_data_settings_are_config_errors():
    with pytest.raises(ConfigError, match="data.resize"):
        DataConfig(resize="stretch")
    with pytest.raises(ConfigError, match="data.channels"):
        DataConfig(channels=2)
    with pytest.raises(ConfigError, match="data.storage"):
        DataConfig(storage="cloud")


def test_a_cache_built_skipping_bad_files_still_refuses_them_under_error(messy_folder, tmp_path):
    load_splits(folder_cfg(messy_folder, tmp_path / "cache", image_size=16))  # skip: builds the entry
    with pytest.raises(DataError, match=r"on_bad_file=error; found in the cache"):
        load_splits(folder_cfg(messy_folder, tmp_path / "cache", image_size=16, on_bad_file="error"))


def test_split_folders_must_agree_on_labels(tmp_path):
    write_labelled_folder(tmp_path / "d" / "train", classes=2, per_class=6)
    write_unlabelled_folder(tmp_path / "d" / "test", n=4)  # loose files: unlabelled beside a labelled train/
    with pytest.raises(DataError, match=r"test has classes \[\], train/ has \['class0', 'class1'\]"):
        load_splits(folder_cfg(tmp_path / "d", tmp_path / "cache"))


def test_subsets_of_streamed_images_stay_unread(tmp_path):
    root = write_labelled_folder(tmp_path / "data", classes=2, per_class=10)
    cfg = folder_cfg(root, tmp_path / "cache", image_size=8, val_size=4, test_size=4, cache=False, train_subset=6)
    splits = load_splits(cfg)
    assert len(splits.train) == 6 and not isinstance(splits.train.x, torch.Tensor)  # still files, decoded when read


def write_sized(folder, sizes: dict[str, tuple[int, int]]) -> None:
    """folder/<name>.png for each name -> (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (w, h) in sizes.items():
        Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(folder / f"{name}.png")


def test_native_size_is_the_most_common_not_the_first_file(tmp_path, capsys):
    write_sized(tmp_path / "d" / "train" / "c", {f"a{i}": (20, 20) for i in range(3)})  # sorted first: the old rule
    write_sized(tmp_path / "d" / "train" / "c", {f"b{i:03d}": (24, 24) for i in range(40)})
    write_sized(tmp_path / "d" / "train" / "c", {"c_outlier": (60, 60)})  # one far outlier does not stop it
    for split in ("val", "test"):
        write_sized(tmp_path / "d" / split / "c", {f"v{i}": (24, 24) for i in range(4)})
    splits = load_splits(folder_cfg(tmp_path / "d", tmp_path / "cache"))
    assert splits.train.image_shape == (3, 24, 24)
    out = capsys.readouterr().out
    assert "image size 24x24: the most common among 44 sampled files (24x24: 40, 20x20: 3, 60x60: 1)" in out
    assert "the other 4 are resized to it" in out


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({f"{c}{i}": (s, s) for c, s in zip("abc", (20, 24, 28)) for i in range(10)}, "vary widely"),
        ({**{f"a{i}": (16, 16) for i in range(20)}, **{f"b{i}": (40, 40) for i in range(4)}}, "vary widely"),
        ({**{f"a{i}": (40, 30) for i in range(20)}, **{f"b{i}": (20, 20) for i in range(2)}}, "40x30 .* not square"),
    ],
    ids=["no-majority", "sides-beyond-2x", "non-square-majority"],
)
def test_mixed_sizes_without_image_size_stop_with_the_spread(tmp_path, sizes, message):
    write_sized(tmp_path / "d" / "c", sizes)
    cfg = folder_cfg(tmp_path / "d", tmp_path / "cache", val_size=4, test_size=4)
    with pytest.raises(DataError, match=message) as err:
        load_splits(cfg)
    assert "set data.image_size=S" in str(err.value)
    assert all(f"{w}x{h}: " in str(err.value) for w, h in set(sizes.values()))  # the spread is shown
    resized = load_splits(folder_cfg(tmp_path / "d", tmp_path / "cache", val_size=4, test_size=4, image_size=12))
    assert resized.train.image_shape == (3, 12, 12)  # a size chosen by the user always works


def test_header_sizes_follow_exif_orientation_without_decoding(tmp_path):
    img = Image.fromarray(np.zeros((20, 30, 3), np.uint8))  # 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: decoded as 20 wide, 30 high
    img.save(tmp_path / "turned.jpg", exif=exif.tobytes())
    img.save(tmp_path / "upright.png")
    assert header_size(tmp_path / "turned.jpg") == (20, 30)
    assert decode_image(tmp_path / "turned.jpg", DecodeSettings(0, "crop", 3)).shape == (3, 30, 20)  # agrees
    assert header_size(tmp_path / "upright.png") == (30, 20)
    assert header_size(tmp_path / "missing.png") is None


def test_sampling_takes_at_most_the_sample_evenly():
    assert evenly_spaced(list(range(10)), 4) == [0, 2, 5, 7]
    assert evenly_spaced(list(range(3)), 256) == [0, 1, 2]
    assert len(evenly_spaced(list(range(511)), 256)) == 256
