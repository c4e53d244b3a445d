"""mfat.chapter.results: the safe result store (npz + JSON structure, SHA-256, no pickle)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mfat.chapter import results


def _rich():
    """A result with every kind of entry the chapters store."""
    table = pd.DataFrame({"step": np.arange(3), "loss": [0.5, 0.25, float("nan")], "name": ["a", "b", "c"],
                          "flag": [True, False, True]})
    return {
        "x": np.arange(6, dtype=np.float64).reshape(2, 3),
        "ints": np.array([1, 2], dtype=np.int32),
        "words": np.array(["vanilla", "residual"]),
        "scalar": np.float64(0.1) / 3,
        "count": np.int64(7),
        "py": 1 / 3,
        "inf": math.inf,
        "flag": True,
        "none": None,
        "text": "l_inf",
        "tensor": torch.linspace(0, 1, 4, dtype=torch.float64),
        "nested": {(2.0, math.inf): {"norm": np.ones(2)}, ("adv_only", 64, 4): [1, 2.5, "s"], 3: (1, 2)},
        "table": table,
        "indexed": table.set_index("name"),
        "multi": table.set_index(["step", "name"]),
        "series": pd.Series([1.0, 2.0], index=["a", "b"], name="s"),
        "mixed": pd.DataFrame({"v": [1, "two"]}),
        # a column of equal-length lists (one list per row), as chapter 5's per-layer variances
        "lists": pd.DataFrame({"N": [64, 128], "layers": [[0.1, 0.2], [0.3, 0.4]]}),
    }


def _same(a, b):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, (pd.DataFrame, pd.Series)):
        pd.testing.assert_frame_equal(a, b) if isinstance(a, pd.DataFrame) else pd.testing.assert_series_equal(a, b)
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert type(a) is type(b) and a == b


def test_round_trip_is_exact(tmp_path):
    r = _rich()
    path = results.save(tmp_path / "r", r, {"tag": "t"})
    back, meta = results.load(path)
    _same(r, back)
    assert meta["tag"] == "t" and len(meta["sha256"]) == 64


def test_identical_data_give_identical_files(tmp_path):
    a = results.save(tmp_path / "a", _rich(), {})
    b = results.save(tmp_path / "b", _rich(), {})
    assert a.read_bytes() == b.read_bytes()


def test_a_flipped_byte_is_refused_naming_the_file(tmp_path):
    path = results.save(tmp_path / "r", {"x": np.arange(100.0)}, {})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(results.ResultRefused, match=r"r\.npz.*SHA-256"):
        results.load(path)


def test_a_result_that_needs_pickle_is_refused(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        results.save(tmp_path / "r", {"x": np.array([{"a": 1}], dtype=object)}, {})
    with pytest.raises(TypeError, match="pickle"):
        results.save(tmp_path / "r", {"f": lambda: 1}, {})
    # an array file that holds an object array (written by someone else), with a matching digest
    path = tmp_path / "evil.npz"
    np.savez(path, a0=np.array([{"a": 1}], dtype=object), allow_pickle=True)
    import hashlib

    meta = {"format": results.FORMAT, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "structure": {"dict": [["x", {"array": "a0"}]]}}
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(results.ResultRefused, match="evil.npz.*pickle"):
        results.load(path)


def test_a_malformed_record_is_refused(tmp_path):
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(results.ResultRefused, match="r.json"):
        results.load(tmp_path / "r.npz")


def test_quick_recomputes_stored_tiers_store_and_replay(tmp_outputs):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    settings = {"N": 4}
    results.cached("demo", "t", settings, compute, tier="quick")
    results.cached("demo", "t", settings, compute, tier="quick")
    assert len(calls) == 2
    with pytest.raises(results.MissingResult, match="quick"):
        results.cached("demo", "t", settings, compute, tier="quick", replay=True)
    for tier in ("cpu", "full"):
        out, meta = results.cached("demo", "t", settings, compute, tier=tier)
        out2, meta2 = results.cached("demo", "t", settings, compute, tier=tier, replay=True)
        assert np.array_equal(out2["x"], np.arange(3)) and meta2["settings"] == settings
        assert meta2["tier"] == tier and meta2["wall_time_s"] >= 0 and meta2["commit"]
        stored = list((tmp_outputs / "results" / tier / "demo").glob("t-*.json"))
        assert len(stored) == 1
    assert len(calls) == 4
    with pytest.raises(results.MissingResult, match="demo/t"):
        results.cached("demo", "t", {"N": 5}, compute, tier="cpu", replay=True)
    with pytest.raises(ValueError, match="'tier'"):
        results.cached("demo", "t", settings, compute, tier="medium")


def test_keys_depend_on_tag_settings_and_schema_not_the_version(monkeypatch):
    k = results.settings_key("t", {"N": 4})
    assert k != results.settings_key("t", {"N": 5}) != results.settings_key("u", {"N": 4})
    assert k != results.settings_key("t", {"N": 4}, schema=2)
    import mfat

    monkeypatch.setattr(mfat, "__version__", "9.9.9")
    assert results.settings_key("t", {"N": 4}) == k


def test_show_prints_a_readable_summary(tmp_path, capsys):
    path = results.save(tmp_path / "r", _rich(), {"tag": "demo", "tier": "cpu"})
    assert results.main(["show", str(path.with_suffix(".json"))]) == 0
    out = capsys.readouterr().out
    assert "tag: demo" in out and "array float64 (2, 3)" in out and "data frame 3 x 4" in out
    path.with_suffix(".json").unlink()
    assert results.main(["show", str(path)]) == 0  # the array file alone (a git diff of the .npz)
    assert "sha256:" in capsys.readouterr().out


class _Crash(RuntimeError):
    pass


def _unit(u):
    """A unit whose randomness is seeded from the unit alone."""
    g = torch.Generator().manual_seed(1000 + u["N"])
    return {"N": u["N"], "x": torch.randn(3, generator=g, dtype=torch.float64).numpy()}


def _combine(outs):
    return {"N": np.array([o["N"] for o in outs]), "x": np.stack([o["x"] for o in outs])}


def test_an_interrupted_run_resumes_the_missing_units_bit_for_bit(tmp_outputs):
    units = [{"N": n} for n in (8, 16, 32, 64)]
    reference, _ = results.cached_units("demo", "grid", {"a": 1}, units, _unit, _combine, tier="quick")
    calls, crash = [], [True]

    def crashing(u):
        calls.append(u["N"])
        if u["N"] == 32 and crash[0]:
            raise _Crash("killed midway")
        return _unit(u)

    with pytest.raises(_Crash):
        results.cached_units("demo", "grid", {"a": 1}, units, crashing, _combine, tier="cpu")
    folder = next((tmp_outputs / "results" / "cpu" / "demo").glob("grid-*.units"))
    assert len(list(folder.glob("*.npz"))) == 2  # N = 8 and 16 were stored as they finished
    calls.clear()
    crash[0] = False
    out, meta = results.cached_units("demo", "grid", {"a": 1}, units, crashing, _combine, tier="cpu")
    assert calls == [32, 64]  # only the missing units
    _same(reference, out)
    assert not folder.exists() and meta["tier"] == "cpu"
    again, _ = results.cached_units("demo", "grid", {"a": 1}, units, crashing, _combine, tier="cpu", replay=True)
    _same(reference, again)


def test_units_are_validated():
    with pytest.raises(ValueError, match="'units'"):
        results.cached_units("demo", "g", {}, [], _unit, _combine, tier="quick")
    with pytest.raises(ValueError, match="'units'"):
        results.cached_units("demo", "g", {}, [{"N": 8}, {"N": 8}], _unit, _combine, tier="quick")
