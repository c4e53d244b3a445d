"""The chapter runner: jupytext py:percent -> papermill -> jupyter-book.

    python -m mfat run   [--profile quick|cpu|full] [--only 01 03] [--set N=500 --set L=4]
                                [--seed 0] [--device auto] [--replay] [--timeout 900]
    python -m mfat build [--strict/--no-strict]
    python -m mfat list

``run`` executes the chapters one at a time, each in its own process (so that its wall time and peak
memory are its own), with an execution timeout. The parameters papermill injects are hidden in the
rendered page. A failing cell, or a failing claim, stops the run with the error and a non-zero exit.
Each run leaves a record in ``<output_dir>/runs/<chapter>.json`` (profile, device, versions, wall
time, peak memory, status), from which the status page is built. ``build`` renders the executed
notebooks with jupyter-book 1.x (execution off, warnings as errors).
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
HIDDEN_TAGS = ["remove-cell"]


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


def _hide_injected(path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags:
            tags.extend(t for t in HIDDEN_TAGS if t not in tags)
    nbformat.write(nb, path)


def execute_chapter(source: Path, parameters: dict, timeout: int) -> None:
    """Convert ``source`` to ``book/<stem>.ipynb`` and execute it in place with papermill."""
    import papermill as pm

    target = source.with_suffix(".ipynb")
    _to_notebook(source, target)
    pm.execute_notebook(str(target), str(target), parameters=parameters, kernel_name="python3",
                        execution_timeout=timeout, progress_bar=False, cwd=str(BOOK), log_output=False)
    _hide_injected(target)


def _versions() -> dict:
    import torch

    return {"mfat": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _run_one(source: Path, args, overrides: dict) -> dict:
    """Execute one chapter in a child process; return its run record."""
    params = {"profile": args.profile, "seed": args.seed, "device": args.device, "replay": args.replay,
              "overrides": overrides}
    cmd = [sys.executable, "-m", "mfat.site.runner", "_execute", str(source), json.dumps(params), str(args.timeout)]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MFAT_QUIET": "1"}
    proc = subprocess.Popen(cmd, env=env)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        proc.kill()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    device = device_name(resolve_device(args.device))
    record = {"chapter": source.stem, "profile": args.profile, "replay": args.replay, "overrides": overrides,
              "seed": args.seed, "device": device, "status": "ok" if proc.returncode == 0 else "failed",
              "wall_time_s": round(wall, 1), "peak_memory_mb": round(usage.ru_maxrss / 1024, 1),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **_versions()}
    atomic_write_json(output_dir() / "runs" / f"{source.stem}.json", record)
    return record


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
        print(f"   {rec['status']}: {rec['wall_time_s']} s, peak {rec['peak_memory_mb']} MB, {rec['device']}", flush=True)
        if rec["status"] != "ok":
            failed.append(source.stem)
            if not args.keep_going:
                break
    if failed:
        print(f"error: chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_execute(args) -> int:
    """Internal: execute one chapter (run by ``_run_one`` in a child process)."""
    import papermill as pm

    try:
        execute_chapter(Path(args.source), json.loads(args.params), int(args.timeout))
    except pm.PapermillExecutionError as exc:
        print(f"error: {Path(args.source).stem}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}",
              file=sys.stderr)
        return 1
    return 0


def _cmd_build(args) -> int:
    from mfat.site import pages
    from mfat.site import assets as site_assets

    pages.write_all()
    site_assets.ensure_mathjax()
    site_assets.ensure_plotly()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(repo_root())]
    if args.strict:
        cmd += ["--warningiserror", "--keep-going"]
    if args.all:
        cmd.append("--all")
    code = subprocess.call(cmd)
    if code == 0:
        (repo_root() / "_build" / "html" / ".nojekyll").touch()
    return code


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
    run.add_argument("--replay", action="store_true", help="full profile: render stored results, compute nothing")
    run.add_argument("--timeout", type=int, default=900, help="execution timeout per cell, seconds")
    run.add_argument("--keep-going", action="store_true", help="run the remaining chapters after a failure")
    run.set_defaults(func=_cmd_run)
    ex = sub.add_parser("_execute")
    ex.add_argument("source")
    ex.add_argument("params")
    ex.add_argument("timeout")
    ex.set_defaults(func=_cmd_execute)
    build = sub.add_parser("build", help="render the executed notebooks with jupyter-book")
    build.add_argument("--no-strict", dest="strict", action="store_false", help="do not treat warnings as errors")
    build.add_argument("--all", action="store_true", help="rebuild every page")
    build.set_defaults(func=_cmd_build)
    sub.add_parser("list", help="list the chapters").set_defaults(func=_cmd_list)
    args = parser.parse_args(argv)
    if args.command == "run" and args.seed < 0:
        parser.error(f"parameter 'seed' = {args.seed} is out of range: allowed an integer >= 0")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
