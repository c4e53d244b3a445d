"""The result store: compute once at a tier, replay anywhere, never unpickle.

    result, meta = cached("trainability", "grid", settings, compute, tier="cpu")
    python -m mfat.chapter.results show results/cpu/trainability/grid-1a2b3c4d5e6f7a8b.json

A result is what a measurement returns: a dict of numpy arrays, torch tensors, numbers, strings, lists, tuples,
nested dicts (keys may be numbers, strings or tuples of them) and pandas data frames. It is written as two files:

- ``<tag>-<key>.npz``: every array (and every numpy scalar, as a 0-d array), read back with
  ``numpy.load(..., allow_pickle=False)``, so an object array, which would need pickle, is refused;
- ``<tag>-<key>.json``: the structure that puts the arrays back in place, the SHA-256 of the ``.npz``, and the
  provenance (tier, settings, schema, commit, device, versions, date, wall time).

A result whose ``.npz`` does not match its recorded digest, whose structure cannot be read, or that would need
pickle, is refused with :class:`ResultRefused`, naming the file. Both files are written atomically (the ``.npz``
first, so a ``.json`` never points at a missing array file). The key is a digest of (tag, settings, schema): a
refactor does not change it; a change of what a measurement returns bumps its ``schema``.

Tiers: ``quick`` is always recomputed (the build must exercise the code); ``cpu`` and ``full`` are stored under
``results/<tier>/<chapter stem>/`` and reused; with ``replay=True`` a missing one is :class:`MissingResult`.

Long measurements are lists of units (a width of a grid, a chunk of cells, a sweep point):
:func:`cached_units` stores each unit as it finishes in ``<tag>-<key>.units/``, so an interrupted run, rerun,
computes only the missing units; once all are there it stores the combined result and removes the unit files.
Each unit must draw its randomness from its own seed (never from a stream shared with other units), so that a
resumed run is bit-for-bit the uninterrupted one.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mfat.atomic import atomic_write_bytes, atomic_write_json
from mfat.chapter.executors import serial
from mfat.chapter.settings import PROFILES
from mfat.paths import repo_root, results_dir
from mfat.validation import check_choice, check_int

__all__ = ["TIERS", "STORED_TIERS", "FORMAT", "ResultRefused", "MissingResult", "settings_key", "encode", "decode",
           "save", "load", "result_path", "cached", "cached_units", "unit_key", "summary", "main"]

TIERS = PROFILES  # quick, cpu, full (mfat.chapter.settings)
STORED_TIERS = ("cpu", "full")
FORMAT = 1  # version of the file format written here (the structure's encoding)


class ResultRefused(ValueError):
    """A stored result that cannot be trusted or read without pickle (the message names the file)."""


class MissingResult(FileNotFoundError):
    """A replayed result is not in the store."""


# --------------------------------------------------------------------------------------------- the codec
def _plain(settings) -> dict:
    if dataclasses.is_dataclass(settings):
        return dataclasses.asdict(settings)
    return dict(settings)


class _Encoder:
    """Turns a result into (structure, arrays): JSON-ready structure plus a dict of named numpy arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray, where: str) -> str:
        if a.dtype.hasobject:
            raise TypeError(f"{where}: an object array would need pickle; store numbers or strings")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = a
        return name

    def key(self, k, where: str):
        if isinstance(k, tuple):
            return {"tuple": [self.key(v, where) for v in k]}
        if isinstance(k, (str, bool, int)) or k is None:
            return k
        if isinstance(k, float):
            return {"float": repr(k)}
        if isinstance(k, np.generic):
            return self.key(k.item(), where)
        raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} cannot be stored")

    def value(self, v, where: str):
        import pandas as pd

        if isinstance(v, dict):
            return {"dict": [[self.key(k, where), self.value(x, f"{where}[{k!r}]")] for k, x in v.items()]}
        if isinstance(v, (list, tuple)):
            kind = "list" if isinstance(v, list) else "tuple"
            return {kind: [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, pd.DataFrame):
            return {"frame": {"columns": [self.key(c, where) for c in v.columns],
                              "data": [self.column(v[c].to_numpy(), f"{where}[{c!r}]") for c in v.columns],
                              "index": self.index(v.index, where)}}
        if isinstance(v, pd.Series):
            return {"series": {"name": self.key(v.name, where), "data": self.column(v.to_numpy(), where),
                               "index": self.index(v.index, where)}}
        if isinstance(v, np.ndarray):
            return {"array": self.array(v, where)}
        if isinstance(v, np.generic):
            return {"scalar": self.array(np.asarray(v), where)}
        if type(v).__module__ == "torch" and type(v).__name__ == "Tensor":
            return {"tensor": self.array(v.detach().cpu().numpy(), where)}
        if isinstance(v, float) and not math.isfinite(v):
            return {"float": repr(v)}
        if isinstance(v, (str, bool, int, float)) or v is None:
            return v
        raise TypeError(f"{where}: a value of type {type(v).__name__} cannot be stored without pickle")

    def column(self, values: np.ndarray, where: str):
        if values.dtype.hasobject:
            if all(isinstance(x, str) for x in values):
                return {"array": self.array(values.astype(str), where)}
            return {"list": [self.value(x, where) for x in values.tolist()]}
        return {"array": self.array(values, where)}

    def index(self, index, where: str):
        import pandas as pd

        if isinstance(index, pd.RangeIndex):
            return {"range": [index.start, index.stop, index.step], "name": self.key(index.name, where)}
        if isinstance(index, pd.MultiIndex):
            return {"multi": [self.column(index.get_level_values(i).to_numpy(), where) for i in range(index.nlevels)],
                    "names": [self.key(n, where) for n in index.names]}
        return {"values": self.column(index.to_numpy(), where), "name": self.key(index.name, where)}


def encode(result) -> tuple[dict, dict[str, np.ndarray]]:
    """(structure, arrays) of ``result``; ``TypeError`` names the first part that would need pickle."""
    enc = _Encoder()
    structure = enc.value(result, "result")
    return structure, enc.arrays


def _decode_key(k):
    if isinstance(k, dict):
        if "tuple" in k:
            return tuple(_decode_key(v) for v in k["tuple"])
        if "float" in k:
            return float(k["float"])
    return k


def decode(structure, arrays) -> object:
    """The inverse of :func:`encode`: the result, with arrays taken from ``arrays`` (a mapping name -> array)."""
    import pandas as pd

    def column(c):
        if "array" in c:
            return arrays[c["array"]]
        items = value(c)  # one object per row (lists of equal length must not become a 2-D array)
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = item
        return out

    def index(ix):
        if "range" in ix:
            return pd.RangeIndex(*ix["range"], name=_decode_key(ix["name"]))
        if "multi" in ix:
            return pd.MultiIndex.from_arrays([column(c) for c in ix["multi"]],
                                             names=[_decode_key(n) for n in ix["names"]])
        return pd.Index(column(ix["values"]), name=_decode_key(ix["name"]))

    def value(v):
        if not isinstance(v, dict):
            return v
        if "dict" in v:
            return {_decode_key(k): value(x) for k, x in v["dict"]}
        if "list" in v:
            return [value(x) for x in v["list"]]
        if "tuple" in v:
            return tuple(value(x) for x in v["tuple"])
        if "array" in v:
            return arrays[v["array"]]
        if "scalar" in v:
            return arrays[v["scalar"]][()]
        if "tensor" in v:
            import torch

            return torch.from_numpy(np.array(arrays[v["tensor"]]))
        if "float" in v:
            return float(v["float"])
        if "frame" in v:
            f = v["frame"]
            cols = [_decode_key(c) for c in f["columns"]]
            return pd.DataFrame({c: column(d) for c, d in zip(cols, f["data"])}, index=index(f["index"]),
                                columns=pd.Index(cols) if cols else None)
        if "series" in v:
            s = v["series"]
            return pd.Series(column(s["data"]), index=index(s["index"]), name=_decode_key(s["name"]))
        raise ValueError(f"unknown entry {sorted(v)}")

    return value(structure)


# --------------------------------------------------------------------------------------------- files
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(path: Path, result, meta: dict) -> Path:
    """Write ``result`` to ``path`` (``.npz``) and its structure, digest and ``meta`` beside it (``.json``)."""
    path = Path(path).with_suffix(".npz")
    structure, arrays = encode(result)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_json(path.with_suffix(".json"), {**meta, "format": FORMAT, "npz": path.name,
                                                  "sha256": _sha256(data), "structure": structure})
    return path


def read_meta(path: Path) -> dict:
    """The JSON record of a stored result (``path``: its ``.json`` or ``.npz``)."""
    meta_path = Path(path).with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise ResultRefused(f"{meta_path}: unreadable result record ({exc})") from None
    if meta.get("format") != FORMAT or "sha256" not in meta or "structure" not in meta:
        raise ResultRefused(f"{meta_path}: not a result record of format {FORMAT}")
    return meta


def load(path: Path) -> tuple[object, dict]:
    """(result, meta) of a stored result; :class:`ResultRefused` if it is tampered with or needs pickle."""
    meta = read_meta(path)
    npz = Path(path).with_suffix(".npz")
    try:
        data = npz.read_bytes()
    except OSError as exc:
        raise ResultRefused(f"{npz}: missing array file ({exc})") from None
    if _sha256(data) != meta["sha256"]:
        raise ResultRefused(f"{npz}: SHA-256 {_sha256(data)} does not match the recorded {meta['sha256']} "
                            f"(the file was changed after it was stored); refusing to use it")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        result = decode(meta["structure"], arrays)
    except ValueError as exc:  # numpy raises ValueError for object arrays when pickle is not allowed
        raise ResultRefused(f"{npz}: cannot be read without pickle or is malformed ({exc})") from None
    except KeyError as exc:
        raise ResultRefused(f"{npz}: the structure names a missing array {exc}") from None
    return result, {k: v for k, v in meta.items() if k != "structure"}


# --------------------------------------------------------------------------------------------- the store
def settings_key(tag: str, settings, schema: int = 1) -> str:
    """A 16-hex-digit key of (tag, settings, schema): not of the package version, so refactors keep it."""
    blob = json.dumps({"tag": tag, "settings": _plain(settings), "schema": schema}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(chapter: str, tag: str, settings, tier: str, schema: int = 1) -> Path:
    """``results/<tier>/<chapter stem>/<tag>-<key>.npz``."""
    tier = check_choice("tier", tier, STORED_TIERS)
    return results_dir(tier) / chapter / f"{tag}-{settings_key(tag, settings, schema)}.npz"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo_root()), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "-C", str(repo_root()), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(tier: str, device: str, wall_time_s: float) -> dict:
    """Where and when a result was computed."""
    import torch

    from mfat import __version__

    return {"tier": tier, "device": device, "commit": _commit(), "mfat_version": __version__,
            "torch_version": torch.__version__, "numpy_version": np.__version__, "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "wall_time_s": round(wall_time_s, 3)}


def cached(chapter: str, tag: str, settings, compute: Callable[[], object], *, tier: str, replay: bool = False,
           device: str = "cpu", schema: int = 1) -> tuple[object, dict]:
    """``(result, meta)`` of ``compute()`` under ``settings`` at ``tier``.

    ``quick``: computed every time, nothing stored. ``cpu``/``full``: loaded from the store when present (and
    verified), else computed and stored, unless ``replay``, where a missing result is :class:`MissingResult`.
    """
    tier = check_choice("tier", tier, TIERS)
    schema = check_int("schema", schema, min_value=1)
    path = result_path(chapter, tag, settings, tier, schema) if tier in STORED_TIERS else None
    if path is not None and path.with_suffix(".json").exists():
        return load(path)
    if replay:
        where = path if path is not None else "the store (the quick tier is never stored)"
        raise MissingResult(f"no stored {tier}-tier result for '{chapter}/{tag}' ({where}); run the chapter at "
                            f"--profile {tier} without --replay on a machine that can (see README)")
    start = time.perf_counter()
    result = compute()
    meta = {"chapter": chapter, "tag": tag, "schema": schema, "settings": _plain(settings),
            **provenance(tier, device, time.perf_counter() - start)}
    if path is not None:
        meta["key"] = path.stem
        save(path, result, meta)
    return result, meta


def unit_key(unit) -> str:
    """A 16-hex-digit key of one unit descriptor (a JSON-able value such as ``{"N": 64}``)."""
    return hashlib.sha256(json.dumps(unit, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_units(chapter: str, tag: str, settings, units: list, compute_unit: Callable[[object], object],
                 combine: Callable[[list], object], *, tier: str, replay: bool = False, device: str = "cpu",
                 schema: int = 1, gpus: float = 0.0, executor: Callable = serial) -> tuple[object, dict]:
    """Like :func:`cached` for a measurement made of independent units.

    ``units``: JSON-able descriptors; ``compute_unit(unit)`` -> the unit's result (its randomness seeded from the
    unit alone); ``combine(results)`` -> the measurement's result from the unit results in the order of ``units``.
    ``executor(compute_unit, pending, gpus=gpus)`` yields ``(index into pending, result)`` as units finish, in any
    order (default :func:`mfat.chapter.executors.serial`; ``gpus``: what each unit declares it needs); each is
    stored at once, so a rerun after a crash resumes from the store.
    """
    tier = check_choice("tier", tier, TIERS)
    if not isinstance(units, list) or not units:
        raise ValueError(f"parameter 'units' = {units!r} is out of range: allowed a non-empty list")
    keys = [unit_key(u) for u in units]
    if len(set(keys)) != len(keys):
        raise ValueError("parameter 'units' has repeated entries: allowed distinct unit descriptors")
    if tier not in STORED_TIERS:
        if replay:
            raise MissingResult(f"no stored {tier}-tier result for '{chapter}/{tag}': the quick tier is never stored")
        start = time.perf_counter()
        done = dict(executor(compute_unit, units, gpus=gpus))
        meta = {"chapter": chapter, "tag": tag, "schema": schema, "settings": _plain(settings), "units": len(units),
                **provenance(tier, device, time.perf_counter() - start)}
        return combine([done[i] for i in range(len(units))]), meta

    def compute_all():
        folder = result_path(chapter, tag, settings, tier, schema).with_suffix(".units")
        done, pending = {}, []
        for i, (unit, k) in enumerate(zip(units, keys)):
            if (folder / f"{k}.json").exists():
                done[i] = load(folder / f"{k}.npz")[0]
            else:
                pending.append(i)
        for j, out in executor(compute_unit, [units[i] for i in pending], gpus=gpus):
            i = pending[j]
            save(folder / f"{keys[i]}.npz", out, {"chapter": chapter, "tag": tag, "unit": units[i],
                                                  "settings": _plain(settings), **provenance(tier, device, 0.0)})
            done[i] = out
        return combine([done[i] for i in range(len(units))]), folder

    box = {}

    def compute():
        box["result"], box["folder"] = compute_all()
        return box["result"]

    result, meta = cached(chapter, tag, settings, compute, tier=tier, replay=replay, device=device, schema=schema)
    if "folder" in box:  # the combined result is stored: the unit files have done their job
        for f in box["folder"].glob("*"):
            f.unlink()
        box["folder"].rmdir()
    return result, meta


# --------------------------------------------------------------------------------------------- show
def _describe(v, indent: str = "") -> list[str]:
    import pandas as pd

    if isinstance(v, dict):
        out = []
        for k, x in v.items():
            inner = _describe(x, indent + "  ")
            if len(inner) == 1:
                out.append(f"{indent}{k!r}: {inner[0].strip()}")
            else:
                out += [f"{indent}{k!r}:"] + inner
        return out
    if isinstance(v, (list, tuple)):
        if len(v) <= 8 and all(not isinstance(x, (dict, list, tuple, np.ndarray, pd.DataFrame)) for x in v):
            return [f"{indent}{v!r}"]
        return [f"{indent}{type(v).__name__} of {len(v)}:"] + [line for x in v[:20] for line in _describe(x, indent + "  ")]
    if isinstance(v, pd.DataFrame):
        return [f"{indent}data frame {v.shape[0]} x {v.shape[1]}:"] + [
            f"{indent}  {line}" for line in v.to_string(max_rows=10, max_cols=12).split("\n")]
    if isinstance(v, np.ndarray) or hasattr(v, "numpy"):
        a = np.asarray(v)
        if a.size and np.issubdtype(a.dtype, np.number):
            return [f"{indent}array {a.dtype} {a.shape}: min {np.nanmin(a):.6g}, mean {np.nanmean(a):.6g}, "
                    f"max {np.nanmax(a):.6g}"]
        return [f"{indent}array {a.dtype} {a.shape}: {np.array2string(a.ravel()[:6], threshold=6)}"]
    return [f"{indent}{v!r}"]


def _arrays_summary(path: Path) -> str:
    """A readable summary of a bare ``.npz`` (a git diff of the array file: names, shapes, ranges)."""
    data = path.read_bytes()
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            lines = [line for name in z.files for line in _describe({name: z[name]})]
    except ValueError as exc:
        raise ResultRefused(f"{path}: cannot be read without pickle or is malformed ({exc})") from None
    return "\n".join([f"sha256: {_sha256(data)}"] + lines) + "\n"


def summary(path: Path) -> str:
    """A readable summary of a stored result: provenance, then every entry (shapes and ranges of arrays).

    Given a ``.npz`` alone, or a ``.json`` without its ``.npz`` (as ``git diff`` hands a text-conversion driver
    an old version), it summarises what it has.
    """
    path = Path(path)
    if path.suffix == ".npz" and not path.with_suffix(".json").exists():
        return _arrays_summary(path)
    if path.suffix == ".json" and not path.with_suffix(".npz").exists():
        meta = read_meta(path)
        return "\n".join(f"{k}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(meta.items())) + "\n"
    result, meta = load(path)
    head = [f"{k}: {meta[k]}" for k in ("chapter", "tag", "tier", "schema", "key", "date", "device", "commit",
                                        "wall_time_s", "sha256") if k in meta]
    head.append("settings: " + json.dumps(meta.get("settings", {}), sort_keys=True))
    return "\n".join(head + ["result:"] + _describe(result, "  ")) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfat.chapter.results", description="Inspect stored results.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print a readable summary of a stored result (.json or .npz)")
    show.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(summary(args.file))
    except ResultRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
