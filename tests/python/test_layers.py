"""The Python package's layers: a module imports only from its own layer or
those below (lowest first: errors, settings and files; data and loaders;
training; workloads; evidence; execution and reports; jobs; the command
line), and imports inside functions are only of packages outside
nairrcore, each with a one-line reason."""

from __future__ import annotations

import ast

from conftest import REPO

PACKAGE = REPO / "python" / "nairrcore"
LAYERS = [
    {"_native", "errors", "_build_config"},
    {"settings", "files", "platforms", "progress"},
    {"data", "loaders", "distributed"},
    {"training"},
    {"workload"},
    {"forecasting", "cifar10"},
    {"evidence"},
    {"execute", "reports"},
    {"jobs"},
    {"cli", "__main__"},
]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """'nairrcore.data.weather' -> 'data'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield ".".join(rel.parts), path


def test_no_module_imports_from_a_higher_layer():
    problems = []
    for module, path in _modules():
        unit = _unit(module)
        if unit == "__init__":
            continue  # the package root is the public facade over everything
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nairrcore"):
                names = [node.module] if node.module != "nairrcore" else [f"nairrcore.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("nairrcore")]
            for name in names:
                target = _unit(name)
                if target == "__init__":
                    problems.append(f"{module}:{node.lineno} imports the package root")
                elif LEVEL[target] > LEVEL[unit]:
                    problems.append(f"{module}:{node.lineno} ({unit}) imports {name} ({target}, a higher layer)")
    assert not problems, "\n".join(problems)


def test_every_module_has_a_layer():
    units = {_unit(m) for m, _ in _modules()} - {"__init__"}
    assert units <= set(LEVEL), units - set(LEVEL)


def test_imports_inside_functions_are_of_optional_packages_with_a_reason():
    problems = []
    for module, path in _modules():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    text = lines[node.lineno - 1]
                    module_name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    if module_name.startswith("nairrcore"):
                        problems.append(f"{module}:{node.lineno}: imports {module_name} inside a function")
                    elif "#" not in text:
                        problems.append(f"{module}:{node.lineno}: no reason given for importing here")
    assert not problems, "\n".join(problems)
