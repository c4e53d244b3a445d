"""The chapter runner: jupytext py:percent -> papermill -> jupyter-book.

    python -m mfat run   [--profile quick|cpu|full] [--only 01 03] [--set N=500 --set L=4]
                                [--seed 0] [--device auto] [--replay] [--timeout 900]
    python -m mfat build [--strict/--no-strict]
    python -m mfat edition [--allow-quick] [--only 01]
    python -m mfat replay [--only 01]
    python -m mfat pdf
    python -m mfat list

``run`` executes the chapters one at a time, each in its own process (so that its wall time and peak
memory are its own), with an execution timeout. What the reader sees of the code is decided by rule
(:mod:`mfat.site.folding`): figure code folded, claims code removed, the parameters and set-up moved to a collapsed
section at the end. A failing cell, or a failing claim, stops the run with the error and a non-zero exit.
Each run leaves a record in ``<output_dir>/runs/<chapter>.json`` (profile, device, versions, wall
time, peak memory, status), from which the status page is built, and opens the page with a note of the tier,
hardware and date its numbers come from. ``build`` renders the executed notebooks with jupyter-book 1.x
(execution off, warnings as errors). ``edition`` renders every chapter from its best committed tier (full, else
cpu), replayed with every claim asserted, then builds the site: what is published. ``replay`` replays every
committed tier into ``<output_dir>/replay/`` (CI: code and committed evidence cannot drift apart).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mfat import __version__
from mfat.atomic import atomic_write_json
from mfat.chapter.settings import PROFILES
from mfat.paths import output_dir, repo_root
from mfat.runtime import device_name, resolve_device

__all__ = ["chapter_sources", "select", "parse_overrides", "execute_chapter", "main"]

BOOK = repo_root() / "book"


def chapter_sources() -> list[Path]:
    """The chapters' jupytext sources ``book/NN_<topic>.py``, in reading order."""
    return sorted(p for p in BOOK.glob("[0-9][0-9]_*.py"))


def select(only: list[str] | None) -> list[Path]:
    """Chapters whose stem equals or starts with one of ``only`` (all when empty)."""
    sources = chapter_sources()
    if not only:
        return sources
    picked = [p for p in sources if any(p.stem == o or p.stem.startswith(o) for o in only)]
    unknown = [o for o in only if not any(p.stem == o or p.stem.startswith(o) for p in sources)]
    if unknown:
        names = ", ".join(p.stem for p in sources)
        raise SystemExit(f"error: parameter 'only' = {unknown} matches no chapter: allowed prefixes of {names}")
    return picked


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["N=500", "L=4"]`` -> ``{"N": "500", "L": "4"}`` (values are validated by mfat.chapter.settings)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"error: parameter 'set' = {item!r} is malformed: allowed KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _validate_overrides(chapter: str, profile: str, overrides: dict) -> None:
    """Fail before starting a kernel when an override is unknown or out of range."""
    from mfat.chapter import settings as profiles

    if profiles.stem(chapter) in profiles.chapters():
        try:
            profiles.get(chapter, profile, overrides)
        except ValueError as exc:
            raise SystemExit(f"error: chapter {chapter}: {exc}") from None


def _to_notebook(source: Path, target: Path) -> None:
    import jupytext

    nb = jupytext.read(source)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    jupytext.write(nb, target)


def _fold(path: Path) -> None:
    """Give the executed notebook's cells their display tags (mfat.site.folding) and end it with the collapsed
    "Settings of this page" section: the parameters, the injected values, the set-up and the tiers' settings."""
    import nbformat

    from mfat.chapter import settings as profiles
    from mfat.site.folding import fold_notebook
    from mfat.site.pages import markdown_table

    nb = nbformat.read(path, as_version=4)
    table = ""
    if profiles.stem(path.stem) in profiles.chapters():
        frame = profiles.describe(path.stem).reset_index()
        frame["setting"] = [f"`{name}`" for name in frame["setting"]]
        table = markdown_table(frame.to_dict("records"), list(frame.columns))
    fold_notebook(nb, table)
    nbformat.write(nb, path)


def evidence_note(record: dict) -> str:
    """The note that opens a chapter page: the tier its numbers come from, the hardware and the date."""
    tier = record["tier"]
    if tier == "quick" or not record["stored"]:
        return (f"The numbers on this page were computed while the book was built, at the **{tier}** tier "
                f"(the small scale that runs on a 2-core CPU in minutes), on {record['device']}. The tiers are "
                f"described in the introduction.")
    runs = sorted({(m["date"][:10], m["device"], (m.get("commit") or "unknown")[:10]) for m in record["stored"]})
    when = "; ".join(f"on {d} with {dev} (commit {c})" for d, dev, c in runs)
    how = f"replayed from the stored results on {record['device']}" if record["replay"] else "stored as they ran"
    return (f"The numbers on this page come from the **{tier}** tier, computed {when}, and were {how}; every "
            f"claim was asserted again. The tiers are described in the introduction.")


def _add_evidence_note(path: Path) -> None:
    """Insert the evidence note after the page's title and its verdict box (a markdown cell tagged ``verdict``),
    from the chapter's record; an earlier note is replaced."""
    import nbformat

    record_path = output_dir() / "pages" / f"{path.stem}.json"
    if not record_path.exists():
        return
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "evidence-note" not in c.metadata.get("tags", [])]
    note = nbformat.v4.new_markdown_cell(f"```{{note}}\n{evidence_note(json.loads(record_path.read_text()))}\n```")
    note.metadata["tags"] = ["evidence-note"]
    verdict = [i for i, c in enumerate(nb.cells) if "verdict" in c.metadata.get("tags", [])]
    nb.cells.insert(verdict[0] + 1 if verdict else 1, note)
    nbformat.write(nb, path)


def execute_chapter(source: Path, parameters: dict, timeout: int, notebook_dir: Path | None = None) -> Path:
    """Convert ``source`` to ``<notebook_dir>/<stem>.ipynb`` (default ``book/``), execute it with papermill, fold
    its code (:mod:`mfat.site.folding`) and add the evidence note; return the notebook's path."""
    import papermill as pm

    target = (Path(notebook_dir) if notebook_dir else source.parent) / f"{source.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    (output_dir() / "pages" / f"{source.stem}.json").unlink(missing_ok=True)
    _to_notebook(source, target)
    pm.execute_notebook(str(target), str(target), parameters=parameters, kernel_name="python3",
                        execution_timeout=timeout, progress_bar=False, cwd=str(BOOK), log_output=False)
    _fold(target)
    _add_evidence_note(target)
    return target


def _versions() -> dict:
    import torch

    return {"mfat": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _run_one(source: Path, args, overrides: dict, *, profile: str | None = None, replay: bool | None = None,
             notebook_dir: Path | None = None, outputs: Path | None = None) -> dict:
    """Execute one chapter in a child process; return its run record (written to ``<outputs>/runs/``).

    ``profile``/``replay`` default to the command line's; ``notebook_dir`` (default ``book/``) receives the executed
    notebook; ``outputs`` (default the output folder) receives the claims and records.
    """
    profile = args.profile if profile is None else profile
    replay = args.replay if replay is None else replay
    outputs = Path(outputs) if outputs else output_dir()
    params = {"profile": profile, "seed": args.seed, "device": args.device, "replay": replay, "overrides": overrides}
    cmd = [sys.executable, "-m", "mfat.site.runner", "_execute", str(source), json.dumps(params), str(args.timeout),
           str(notebook_dir or "")]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MFAT_QUIET": "1", "MFAT_OUTPUT_DIR": str(outputs)}
    if getattr(args, "executor", None):
        env["MFAT_EXECUTOR"] = args.executor
    proc = subprocess.Popen(cmd, env=env)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        proc.kill()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    device = device_name(resolve_device(args.device))
    record = {"chapter": source.stem, "profile": profile, "replay": replay, "overrides": overrides,
              "seed": args.seed, "device": device, "status": "ok" if proc.returncode == 0 else "failed",
              "wall_time_s": round(wall, 1), "peak_memory_mb": round(usage.ru_maxrss / 1024, 1),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **_versions()}
    atomic_write_json(outputs / "runs" / f"{source.stem}.json", record)
    return record


def _report(rec: dict) -> None:
    print(f"   {rec['status']}: {rec['wall_time_s']} s, peak {rec['peak_memory_mb']} MB, {rec['device']}", flush=True)


def _cmd_run(args) -> int:
    overrides = parse_overrides(args.set)
    if overrides and not args.only:
        raise SystemExit("error: parameter 'set' applies to one chapter: pass --only CHAPTER with --set")
    sources = select(args.only)
    if overrides and len(sources) != 1:
        raise SystemExit("error: parameter 'set' applies to one chapter: pass --only CHAPTER with --set")
    for source in sources:
        _validate_overrides(source.stem, args.profile, overrides)
    failed = []
    for source in sources:
        print(f"== {source.stem} [{args.profile}{', replay' if args.replay else ''}]", flush=True)
        rec = _run_one(source, args, overrides)
        _report(rec)
        if rec["status"] != "ok":
            failed.append(source.stem)
            if not args.keep_going:
                break
    if failed:
        print(f"error: chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def committed_tiers(stem: str) -> list[str]:
    """The stored tiers (cpu, full) that hold committed results of chapter ``stem`` (its page name or stem)."""
    from mfat.chapter import results
    from mfat.chapter.settings import stem as chapter_stem
    from mfat.paths import results_dir

    return [t for t in results.STORED_TIERS if any((results_dir(t) / chapter_stem(stem)).glob("*.json"))]


def best_tier(stem: str) -> str | None:
    """The strongest committed evidence of a chapter: ``full``, else ``cpu``, else None."""
    tiers = committed_tiers(stem)
    return "full" if "full" in tiers else tiers[0] if tiers else None


def _cmd_edition(args) -> int:
    """Every chapter from its best committed tier, replayed (every claim asserted again), then the site."""
    sources = select(args.only)
    plan = [(source, best_tier(source.stem)) for source in sources]
    missing = [s.stem for s, tier in plan if tier is None]
    if missing and not args.allow_quick:
        raise SystemExit(f"error: no committed cpu or full results for {', '.join(missing)}: run "
                         f"'python -m mfat run --profile cpu --only CHAPTER' and commit results/, or pass "
                         f"--allow-quick to render those chapters at the quick tier (the page says so)")
    failed = []
    for source, tier in plan:
        profile, replay = (tier, True) if tier else ("quick", False)
        print(f"== {source.stem} [{profile}{', replay' if replay else ''}]", flush=True)
        rec = _run_one(source, args, {}, profile=profile, replay=replay)
        _report(rec)
        if rec["status"] != "ok":
            failed.append(source.stem)
    if failed:
        print(f"error: chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return _cmd_build(args) if args.build else 0


def _cmd_replay(args) -> int:
    """Replay every committed tier of every chapter (claims asserted again), away from the book's pages."""
    failed, ran = [], 0
    for source in select(args.only):
        for tier in committed_tiers(source.stem):
            print(f"== {source.stem} [{tier}, replay]", flush=True)
            folder = output_dir() / "replay" / tier
            rec = _run_one(source, args, {}, profile=tier, replay=True, notebook_dir=folder / "notebooks",
                           outputs=folder)
            _report(rec)
            ran += 1
            if rec["status"] != "ok":
                failed.append(f"{source.stem} ({tier})")
    if failed:
        print(f"error: the committed results no longer reproduce their claims with this code: {', '.join(failed)}; "
              f"see the failing cell above (fix the code, or rerun that tier and commit its results)", file=sys.stderr)
        return 1
    print(f"replay: {ran} committed chapter tier(s) reproduce their claims")
    return 0


def _cmd_execute(args) -> int:
    """Internal: execute one chapter (run by ``_run_one`` in a child process)."""
    import papermill as pm

    try:
        execute_chapter(Path(args.source), json.loads(args.params), int(args.timeout), args.notebook_dir or None)
    except pm.PapermillExecutionError as exc:
        print(f"error: {Path(args.source).stem}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}",
              file=sys.stderr)
        return 1
    return 0


def _cmd_build(args) -> int:
    from mfat.site import pages
    from mfat.site import assets as site_assets
    from mfat.site.leaks import check_notebooks

    leaks = check_notebooks(sorted(BOOK.glob("[0-9][0-9]_*.ipynb")))
    if leaks:
        raise SystemExit("error: Python reprs would show on the pages (end the cell with a statement, not an "
                         "expression):\n  " + "\n  ".join(leaks))
    pages.write_all()
    site_assets.ensure_mathjax()
    site_assets.ensure_plotly()
    site_assets.ensure_css()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(repo_root())]
    if args.strict:
        cmd += ["--warningiserror", "--keep-going"]
    if args.all:
        cmd.append("--all")
    code = subprocess.call(cmd)
    if code == 0:
        (repo_root() / "_build" / "html" / ".nojekyll").touch()
    return code


def _cmd_pdf(args) -> int:
    from mfat.site import pdf

    return pdf.main()


def _cmd_list(args) -> int:
    for source in chapter_sources():
        print(source.stem)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfat", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill")
    run.add_argument("--profile", choices=list(PROFILES), default="quick",
                     help="the tier: quick (CI), cpu (a 2-core machine, about an hour a chapter), full (the paper)")
    run.add_argument("--only", nargs="+", help="chapter names or prefixes (e.g. 01 or 01_random_linear_map)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting (with --only)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", help="auto, cpu or cuda")
    run.add_argument("--replay", action="store_true", help="cpu or full tier: render the stored results, compute nothing")
    run.add_argument("--timeout", type=int, default=900, help="execution timeout per cell, seconds")
    run.add_argument("--keep-going", action="store_true", help="run the remaining chapters after a failure")
    run.add_argument("--executor", choices=["serial", "ray"], default=None,
                     help="who computes the units of long measurements: serial (in process, the default) or ray "
                          "(Ray tasks: a local machine, RAY_ADDRESS's cluster; pip install -r requirements-cluster.txt)")
    run.set_defaults(func=_cmd_run)
    ex = sub.add_parser("_execute")
    ex.add_argument("source")
    ex.add_argument("params")
    ex.add_argument("timeout")
    ex.add_argument("notebook_dir", nargs="?", default="")
    ex.set_defaults(func=_cmd_execute)
    build = sub.add_parser("build", help="render the executed notebooks with jupyter-book")
    build.add_argument("--no-strict", dest="strict", action="store_false", help="do not treat warnings as errors")
    build.add_argument("--all", action="store_true", help="rebuild every page")
    build.set_defaults(func=_cmd_build)
    edition = sub.add_parser("edition", help="every chapter from its best committed tier (full, else cpu), "
                             "replayed with every claim asserted, then the site")
    edition.add_argument("--only", nargs="+", help="chapter names or prefixes")
    edition.add_argument("--allow-quick", action="store_true",
                         help="render chapters without committed results at the quick tier instead of failing")
    edition.add_argument("--no-build", dest="build", action="store_false", help="execute only; no site build")
    edition.add_argument("--no-strict", dest="strict", action="store_false", help="do not treat warnings as errors")
    edition.add_argument("--all", action="store_true", help="rebuild every page")
    replay = sub.add_parser("replay", help="replay every committed tier of every chapter (a check: nothing of the "
                            "book's pages changes)")
    replay.add_argument("--only", nargs="+", help="chapter names or prefixes")
    for p in (edition, replay):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", default="cpu", help="replays need no accelerator")
        p.add_argument("--timeout", type=int, default=900, help="execution timeout per cell, seconds")
    edition.set_defaults(func=_cmd_edition)
    replay.set_defaults(func=_cmd_replay)
    sub.add_parser("pdf", help="print the built site to one PDF with the system Chromium (after build)"
                   ).set_defaults(func=_cmd_pdf)
    sub.add_parser("list", help="list the chapters").set_defaults(func=_cmd_list)
    args = parser.parse_args(argv)
    if getattr(args, "seed", 0) < 0:
        parser.error(f"parameter 'seed' = {args.seed} is out of range: allowed an integer >= 0")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
