"""The package's layers import downwards only:
foundation <- theory <- model <- laws, companions <- experiments <- chapter <- site (design.md, section 2)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mfat"
FOUNDATION = ("validation", "paths", "atomic", "data", "stats", "runtime")
RANK = {"foundation": 0, "theory": 1, "model": 2, "laws": 3, "companions": 3, "experiments": 4, "chapter": 5,
        "site": 6}
ENTRY_POINTS = {"mfat/__main__.py"}  # the command line, above every layer


def layer(module: str) -> str:
    """'mfat.model.attacks' -> 'model'; 'mfat.stats' -> 'foundation'."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in FOUNDATION or parts[1].startswith("__"):
        return "foundation"
    if parts[1] not in RANK:
        raise AssertionError(f"{module}: not in a layer (allowed: {', '.join(RANK)} or {', '.join(FOUNDATION)})")
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every mfat module named by an import statement of ``path``, at any depth (function-level too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "mfat"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import (write 'from mfat.<layer>... import ...')")
            if node.module and node.module.split(".")[0] == "mfat":
                out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if str(p.relative_to(PACKAGE.parent)) not in ENTRY_POINTS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down(path):
    here = layer(module_name(path))
    for target in imports(path):
        # ``from mfat.model import attacks`` names the module mfat.model.attacks; a name such as
        # ``from mfat import __version__`` stays in the foundation
        there = layer(target)
        assert RANK[there] < RANK[here] or there == here, (
            f"{module_name(path)} ({here}) imports {target} ({there}): a layer may import only layers below it")


@pytest.mark.parametrize("path", sorted((PACKAGE / "theory").glob("*.py")), ids=lambda p: p.name)
def test_theory_is_pure(path):
    """Closed forms do not need torch: the theory layer imports neither torch nor any layer above it."""
    tree = ast.parse(path.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "torch" not in names, f"{path.name} imports torch"


def test_root_is_small():
    """The package root holds the foundation only (at most 10 modules)."""
    root = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert set(root) <= set(FOUNDATION), root
    assert len(root) + 2 <= 10
