"""The tree keeps the shape docs/ARCHITECTURE.md describes: imports one way, no cycles, no private names
reached across modules, small modules and functions, and every file the code reads shipped with the package.

Read from the source with `ast`, lazy imports (inside functions) included: a cycle hidden by a lazy import
is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src"
# The order imports run in (docs/ARCHITECTURE.md): a package may import its own rank and lower ones.
RANK = {
    "aelab": 0,
    "errors": 0,
    "fileio": 0,
    "private_files": 0,
    "signal_handlers": 0,
    "registries": 0,
    "devices": 0,
    "config": 1,
    "settings": 1,
    "data": 2,
    "native": 3,
    "models": 4,
    "objectives": 4,
    "plots": 4,
    "manual": 4,
    "train": 5,
    "runs": 6,
    "report": 7,
    "tasks": 7,
    "studies": 8,
    "api": 9,
    "gradcheck": 9,
    "explorer": 10,
    "cli": 11,
    "__main__": 12,
    "experiments": 12,
}  # experiments: the old tree's name, kept only to say where its modules went
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 50


def module_name(path: Path) -> str:
    name = ".".join(path.with_suffix("").relative_to(SOURCE).parts)
    return name.removesuffix(".__init__")


MODULES = {module_name(path): path for path in sorted(SOURCE.rglob("*.py")) if "egg-info" not in str(path)}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def imported(tree: ast.Module) -> list[tuple[str, str | None]]:
    """(module, name or None) for every aelab import anywhere in the tree, functions included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aelab" and not node.level:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "aelab"]
    return found


def target(module: str, name: str | None) -> str | None:
    """The aelab module an import reaches (a submodule when the name is one), or None for a compiled extension."""
    candidate = f"{module}.{name}" if name else module
    while candidate not in MODULES and "." in candidate:
        candidate = candidate.rsplit(".", 1)[0]
    return candidate if candidate in MODULES else None


EDGES = {name: {t for m, n in imported(tree) if (t := target(m, n)) and t != name} for name, tree in TREES.items()}


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "aelab"


def test_the_order_of_packages_is_the_documented_one():
    assert set(map(package, MODULES)) <= set(RANK), (
        "a new package: give it a rank here and a paragraph in ARCHITECTURE.md"
    )


def test_imports_run_one_way():
    against = [
        f"{m} → {t}"
        for m, targets in EDGES.items()
        for t in targets
        if package(t) != package(m) and RANK[package(t)] > RANK[package(m)]
    ]
    assert against == [], "imports against the order of docs/ARCHITECTURE.md"


def test_no_import_cycles_even_through_lazy_imports():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in EDGES[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in MODULES:
        if v not in index:
            visit(v)
    assert cycles == []


def test_no_private_name_is_imported_from_another_module():
    private = [
        f"{m}: {module}.{name}"
        for m, tree in TREES.items()
        for module, name in imported(tree)
        if name and name.startswith("_") and not name.startswith("__") and target(module, name) is not None
    ]
    assert private == []


def test_modules_and_functions_stay_small():
    long_modules = [
        f"{m}: {len(MODULES[m].read_text(encoding='utf-8').splitlines())} lines"
        for m in MODULES
        if len(MODULES[m].read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
    ]
    long_functions = [
        f"{m}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for m, tree in TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long_modules == [] and long_functions == []


def derivation() -> list[Path]:
    from aelab.manual.study_checks import DERIVATION

    return [DERIVATION]


def shipped_studies() -> list[Path]:
    from aelab.studies.reader import shipped_studies

    return [Path(str(entry)) for entry in shipped_studies().values()]


@pytest.mark.parametrize("files_read", [derivation, shipped_studies])
def test_files_read_at_run_time_ship_inside_the_package(files_read):
    """Each lies inside the package and a package-data glob of pyproject.toml names it, so a wheel has it."""
    import fnmatch

    import tomllib

    files = [f.resolve() for f in files_read()]
    package_data = tomllib.loads((SOURCE.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    assert files and all(f.is_file() and (SOURCE / "aelab") in f.parents for f in files)
    for f in files:
        owner = ".".join(f.parent.relative_to(SOURCE).parts)
        assert any(fnmatch.fnmatch(f.name, glob) for glob in package_data.get(owner, ())), f"{f} is not package data"


def test_an_import_from_the_old_tree_names_where_it_went():
    with pytest.raises(ImportError, match=r"aelab\.experiments\.train_one has moved: import from aelab\.tasks\.train"):
        from aelab.experiments.train_one import train_run  # noqa: F401
    with pytest.raises(ImportError, match=r"aelab\.studies\.runner"):
        import aelab.experiments.reproduce  # noqa: F401
