"""Generated pages of the book: the scorecard (every claim of every chapter) and the status page.

Both are written as MyST markdown into ``book/`` just before the site is built, from the records the
chapters and the runner leave in ``<output_dir>`` (``claims/``, ``runs/``, ``benchmarks/``).
:func:`write_all` raises when a claim failed, so that the build fails with it.
"""

from __future__ import annotations

import csv
import json

from mfat.atomic import atomic_write_text
from mfat.chapter.claims import load_claims
from mfat.paths import output_dir, repo_root

__all__ = ["markdown_table", "scorecard_markdown", "status_markdown", "plan_markdown", "write_all"]


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A GitHub-flavoured markdown table of ``rows`` (dicts) restricted to ``columns``."""
    def cell(v) -> str:
        if isinstance(v, float):
            v = f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |\n" for r in rows)


def _chapter_title(stem: str) -> str:
    return stem.split("_", 1)[1].replace("_", " ").capitalize() if "_" in stem else stem


KIND_LABEL = {"confirms": "confirms the theory", "deviation": "measures a deviation", "machinery": "checks the machinery"}


def scorecard_summary(claims: list[dict]) -> list[dict]:
    """One row per chapter: its theorem, tier, and how many claims confirm the theory, measure a deviation from
    it, or check the machinery (claims without a kind count as confirmations)."""
    rows = []
    for ch in sorted({c["chapter"] for c in claims}):
        mine = [c for c in claims if c["chapter"] == ch]
        kinds = [c.get("kind", "confirms") for c in mine]
        rows.append({"chapter": f"[{_chapter_title(ch)}]({ch}.ipynb)", "theorem": mine[0]["theorem"],
                     "tier": ", ".join(sorted({c["profile"] for c in mine})), "claims": len(mine),
                     "confirmed": kinds.count("confirms"), "deviations measured": kinds.count("deviation"),
                     "machinery": kinds.count("machinery"),
                     "held": "✓ all" if all(c["passed"] for c in mine) else f"✗ {sum(not c['passed'] for c in mine)} failed"})
    return rows


def scorecard_markdown(claims: list[dict]) -> str:
    n_pass = sum(c["passed"] for c in claims)
    text = ["# Scorecard\n",
            "Which of the papers' results hold, and at which scale? Each chapter asserts claims: a prediction of "
            "the theory, a measurement, and a tolerance (derived from the sample size where it is statistical). "
            "A claim either **confirms** the theory, **measures a deviation** from it (the size of the deviation "
            "is what is asserted: it is a finding, not a confirmation), or **checks the machinery** the other "
            "claims rely on (an estimator, a sampler, the training engine). A failed claim stops the chapter and "
            "the build. The tier says at which scale the numbers were computed (see the introduction).\n",
            f"**{n_pass} of {len(claims)} claims held.**\n",
            markdown_table(scorecard_summary(claims), ["chapter", "theorem", "tier", "claims", "confirmed",
                                                       "deviations measured", "machinery", "held"])]
    for ch in sorted({c["chapter"] for c in claims}):
        rows = [dict(c, passed="✓" if c["passed"] else "✗ FAIL", kind=KIND_LABEL[c.get("kind", "confirms")])
                for c in claims if c["chapter"] == ch]
        text.append(f"\n## {_chapter_title(ch)}\n\nClaims of [the chapter]({ch}.ipynb), in the order it makes them.\n")
        text.append(markdown_table(rows, ["passed", "claim", "kind", "predicted", "measured", "tolerance",
                                          "theorem", "profile"]))
    return "\n".join(text)


def _read_runs() -> list[dict]:
    folder = output_dir() / "runs"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def status_markdown(runs: list[dict]) -> str:
    text = ["# Status\n",
            "How each page of this build was produced: the tier its numbers come from (quick: computed during "
            "the build; cpu or full: replayed from committed results when *replay* is true), the device, the "
            "versions, the wall time and the peak memory (resident set of the chapter's kernel) of its last "
            "execution.\n",
            markdown_table([dict(r, tier=r.get("profile")) for r in runs],
                           ["chapter", "tier", "replay", "status", "device", "wall_time_s", "peak_memory_mb", "torch",
                            "mfat", "date"])]
    text.append(plan_markdown())
    text.append("\n## Benchmarks\n\nTables written by `scripts/bench_*.py` (`make bench`). Those under `results/benchmarks/` "
                "were committed from the 2-core development machine while other jobs were running (load 4-8), so their "
                "times are pessimistic; tables under `_output/benchmarks/` come from this machine's last `make bench`.\n")
    bench = output_dir() / "benchmarks"
    tables = sorted(bench.glob("*.csv")) if bench.exists() else []
    committed = sorted((repo_root() / "results" / "benchmarks").glob("*.csv"))
    for path in committed + tables:
        with path.open() as fh:
            rows = list(csv.DictReader(fh))
        if rows:
            text.append(f"\n## Benchmark: {path.stem}\n\nFrom `{path.relative_to(repo_root()) if path.is_relative_to(repo_root()) else path.name}`.\n")
            text.append(markdown_table(rows, list(rows[0])))
    return "\n".join(text)


def plan_markdown(profile: str = "full", gpus: int = 8) -> str:
    """The section "Cost at the paper's scale": :func:`mfat.chapter.plan.plan` of ``profile`` on one and on ``gpus``
    GPUs, with the throughput model it used (``python -m mfat plan``)."""
    from mfat.chapter import plan

    text = [f"\n## Cost at the paper's scale\n\nThe plan of the `{profile}` tier (`python -m mfat plan --profile "
            f"{profile} --gpus {gpus}`): the work each chapter's settings imply, counted (matrix products, Gaussian "
            "draws, sequential layer passes), and the hours a throughput model gives for it. These are estimates "
            "from counted work and stated or measured rates, not measurements of the chapters.\n"]
    try:
        gpu, cpu = plan.default_gpu(), plan.default_cpu()
    except ValueError as err:
        return "".join(text) + f"\nNo plan: {err}\n"
    table = plan.plan(profile, gpus=gpus, gpu=gpu, cpu=cpu)
    text.append(f"GPU model: {gpu.source}. CPU model: {cpu.source}.\n")
    text.append(markdown_table(table.to_dict("records"), list(table.columns)))
    return "\n".join(text)


def write_all(book_dir=None) -> None:
    """Write ``scorecard.md`` and ``status.md`` into ``book_dir`` (default ``book/``); raise if a claim failed."""
    claims = load_claims() if (output_dir() / "claims").exists() else []
    book = book_dir or repo_root() / "book"
    atomic_write_text(book / "scorecard.md", scorecard_markdown(claims))
    atomic_write_text(book / "status.md", status_markdown(_read_runs()))
    failed = [c for c in claims if not c["passed"]]
    if failed:
        names = "; ".join(f"{c['chapter']}: {c['claim']}" for c in failed)
        raise SystemExit(f"error: {len(failed)} claim(s) failed: {names}")
