"""The Python package's layers: a module imports only from its own layer or
those below (lowest first: errors, settings and files; data and loaders;
training; workloads; evidence; execution and reports; jobs; the command
line), and imports inside functions are only of packages outside
nairrcore, each with a one-line reason."""

from __future__ import annotations

import ast
import re

from conftest import REPO

PACKAGE = REPO / "python" / "nairrcore"
LAYERS = [
    {"_native", "errors", "_build_config"},
    {"settings", "files", "platforms", "progress", "hardware"},
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


# The C++ core's folders, lowest first: a file includes only from its own
# folder or those below.
CPP_LAYERS = [{"common", "compat", "telemetry"}, {"data", "distributed"}, {"train"}, {"bindings"}]


def test_no_cpp_file_includes_from_a_higher_or_sibling_folder():
    level = {name: i for i, names in enumerate(CPP_LAYERS) for name in names}
    csrc = REPO / "csrc"
    problems = []
    for path in sorted(p for p in csrc.rglob("*") if p.suffix in (".h", ".cpp", ".cu", ".cuh")):
        folder = path.relative_to(csrc).parts[0]
        assert folder in level, f"csrc/{folder} has no layer"
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.startswith('#include "') or "/" not in line:
                continue
            target = line.split('"')[1].split("/")[0]
            if target != folder and level.get(target, -1) >= level[folder]:
                problems.append(f"{path.relative_to(REPO)}:{number} ({folder}) includes {target}")
    assert not problems, "\n".join(problems)


def _doc_layers(heading: str) -> list[set[str]]:
    """The numbered list under ``heading`` in docs/ARCHITECTURE.md: the
    backticked names before each item's first colon."""
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    items = re.findall(r"^\d+\. (.*?)(?::|$)", section, flags=re.M)
    return [set(re.findall(r"`([^`/]+)/?`", item)) for item in items]


def test_the_architecture_page_lists_the_layers_these_tests_hold():
    assert _doc_layers("## Python (`python/nairrcore/`)") == LAYERS
    assert _doc_layers("## C++ core (`csrc/`)") == CPP_LAYERS
