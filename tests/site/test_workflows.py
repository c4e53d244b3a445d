"""The publishing workflows: valid for actionlint, and doing what the README says they do."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _actionlint() -> str:
    exe = Path(sys.executable).parent / "actionlint"
    return str(exe) if exe.exists() else shutil.which("actionlint")


def test_actionlint_accepts_every_workflow():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert len(files) == 3
    proc = subprocess.run([_actionlint(), "-no-color", *map(str, files)], capture_output=True, text=True,
                          cwd=WORKFLOWS.parent.parent)  # reads .github/actionlint.yaml (the gpu runner label)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _steps(name):
    flow = yaml.safe_load((WORKFLOWS / name).read_text())
    return flow, [s.get("run", "") + " " + s.get("uses", "") for job in flow["jobs"].values() for s in job["steps"]]


def test_cpu_workflow_runs_the_readme_commands_on_pull_requests():
    flow, steps = _steps("book-cpu.yml")
    assert "pull_request" in flow[True]  # YAML reads the key `on` as True
    text = "\n".join(steps)
    for command in ("make test", "make book PROFILE=quick", "make site-test"):
        assert command in text


def test_gpu_workflow_smoke_tests_then_runs_full_chapters_one_at_a_time_and_proposes_the_results():
    flow, steps = _steps("book-gpu.yml")
    assert flow["jobs"]["full"]["runs-on"] == ["self-hosted", "gpu"]
    text = "\n".join(steps)
    assert text.index("torch.cuda.is_available()") < text.index("--profile full --only")
    assert "for chapter in" in text and "actions/upload-artifact" in text
    assert text.index("--profile full --only") < text.index("git add results/full") < text.index("gh pr create")


def test_edition_workflow_replays_the_committed_tiers_and_deploys():
    flow, steps = _steps("book-edition.yml")
    assert "main" in flow[True]["push"]["branches"]
    text = "\n".join(steps)
    assert text.index("make edition") < text.index("make site-test") < text.index("actions/upload-pages-artifact")
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "edition" and any("deploy-pages" in s.get("uses", "") for s in deploy["steps"])
