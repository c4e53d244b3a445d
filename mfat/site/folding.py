"""What a reader sees of a chapter's code: display tags given to the executed notebook by rule, in one place.

    fold_notebook(nb, settings_table)   # in place, after papermill, before jupyter-book renders the page

A chapter needs no per-cell display tags: a cell that already carries one (``hide-input``, ``remove-input``, ...)
keeps it, every other code cell gets the first rule that matches:

- the parameters cell, papermill's injected-parameters cell and the set-up cell (the one that calls
  ``mfat.chapter.start``) are removed from their place; their code and the chapter's settings table are shown in a
  collapsed "Settings of this page" section appended at the end (the notebook keeps its order, so it still runs
  from top to bottom); folding twice gives the same notebook;
- ``ctx.finish()``: ``remove-input`` (its claims table stays);
- a figure cell, whose statements only call the figure modules (``mfat.chapter.figures``, ``plotting``,
  ``interactive``) or glue values: ``hide-input`` (the reader can show the code);
- a claims cell, which records claims (``ctx.card...``) or glues values and neither measures (``ctx.cached``) nor
  draws: ``remove-input`` (its output, if any, stays);
- any other cell of more than :data:`MAX_VISIBLE_LINES` lines of code: ``hide-input``.
"""

from __future__ import annotations

import ast

__all__ = ["DISPLAY_TAGS", "FIGURE_MODULES", "MAX_VISIBLE_LINES", "cell_role", "cell_tags", "fold_notebook", "settings_section"]

DISPLAY_TAGS = frozenset({"hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell"})
MAX_VISIBLE_LINES = 6
FIGURE_MODULES = ("mfat.chapter.figures", "mfat.chapter.plotting", "mfat.chapter.interactive")
SETUP_CALLS = ("mfat.chapter.start", "mfat.chapter.context.start")
MEASURE_CALLS = ("ctx.cached", "ctx.cached_units")
SETTINGS_TAG = "settings-of-this-page"


def _dotted(node) -> str | None:
    """``a.b.c`` for a name or attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def aliases(sources: list[str]) -> dict[str, str]:
    """Names bound by imports (and plain ``name = dotted.name`` assignments) in ``sources``, to full dotted names."""
    out = {}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    out[a.asname or a.name] = f"{node.module}.{a.name}"
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and _dotted(node.value) and "." in _dotted(node.value)):
                out[node.targets[0].id] = _dotted(node.value)
    return out


def _resolve(call: ast.Call, names: dict[str, str]) -> str:
    dotted = _dotted(call.func) or ""
    head, _, rest = dotted.partition(".")
    full = names.get(head, head)
    return f"{full}.{rest}" if rest else full


def _calls(tree, names) -> list[str]:
    return [_resolve(n, names) for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _is_figure(name: str) -> bool:
    return name.startswith(FIGURE_MODULES)


def _is_glue(name: str) -> bool:
    return name == "glue" or name.endswith(".glue")


def _only_figure_statements(body, names) -> bool:
    """Every statement draws a figure or glues a value (``for`` loops over such statements allowed)."""
    for stmt in body:
        if isinstance(stmt, ast.For):
            if stmt.orelse or not _only_figure_statements(stmt.body, names):
                return False
        elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                  and (_is_figure(_resolve(stmt.value, names)) or _is_glue(_resolve(stmt.value, names)))):
            return False
    return True


def code_lines(source: str) -> int:
    """Lines of code in ``source``: neither blank nor comments."""
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def cell_role(source: str, tags: list[str], names: dict[str, str]) -> str:
    """``"parameters"``, ``"injected"``, ``"setup"`` (the cell calling ``mfat.chapter.start``) or ``"page"``."""
    if "parameters" in tags:
        return "parameters"
    if "injected-parameters" in tags:
        return "injected"
    try:
        calls = _calls(ast.parse(source), names)
    except SyntaxError:
        return "page"
    return "setup" if any(c in SETUP_CALLS for c in calls) else "page"


def cell_tags(source: str, tags: list[str], names: dict[str, str]) -> list[str]:
    """The display tags a code cell gets by rule (see the module's docstring); ``[]``: shown as it is."""
    if DISPLAY_TAGS & set(tags):
        return []
    if cell_role(source, tags, names) != "page":
        return ["remove-cell"]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = _calls(tree, names)
    if calls == ["ctx.finish"]:
        return ["remove-input"]
    if any(_is_figure(c) for c in calls) and _only_figure_statements(tree.body, names):
        return ["hide-input"]
    records = any(c.startswith("ctx.card.") or _is_glue(c) for c in calls)
    if records and not any(c in MEASURE_CALLS or _is_figure(c) for c in calls):
        return ["remove-input"]
    if code_lines(source) > MAX_VISIBLE_LINES:
        return ["hide-input"]
    return []


def settings_section(parameters: str, injected: str, setup: str, table: str) -> str:
    """The markdown of the collapsed "Settings of this page" section that ends a chapter."""
    run = f"\n\nThe values this run was given:\n\n```python\n{injected.strip()}\n```" if injected.strip() else ""
    return (f"## Settings of this page\n\n"
            f":::{{dropdown}} The parameters, the set-up and the settings of every tier\n"
            f"The chapter's parameters (`python -m mfat run` replaces them):\n\n```python\n{parameters.strip()}\n```"
            f"{run}\n\nThe set-up: the modules the page calls and its context (settings, claims, stored results):"
            f"\n\n```python\n{setup.strip()}\n```\n\nThe settings of each tier (`--set NAME=VALUE` overrides one):"
            f"\n\n{table.strip()}\n:::\n")


def fold_notebook(nb, settings_table: str = "") -> None:
    """Give ``nb``'s code cells their display tags and append the "Settings of this page" section (in place)."""
    import nbformat

    code = [c for c in nb.cells if c.cell_type == "code"]
    names = aliases([c.source for c in code])
    found = {"parameters": "", "injected": "", "setup": ""}
    for cell in code:
        tags = cell.metadata.setdefault("tags", [])
        tags.extend(t for t in cell_tags(cell.source, tags, names) if t not in tags)
        role = cell_role(cell.source, tags, names)
        if role != "page":
            found[role] += cell.source
    if not (found["parameters"] or found["setup"]):
        return
    text = settings_section(found["parameters"], found["injected"], found["setup"], settings_table)
    section = [c for c in nb.cells if SETTINGS_TAG in c.metadata.get("tags", [])]
    if section:
        section[0].source = text
    else:
        nb.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": [SETTINGS_TAG]}))
