"""python/nairrcore/_core.pyi, the typed stubs of the compiled core, names
exactly what the module has: every function, constant and class, and every
class's methods and properties (regenerate with scripts/core_stub.sh)."""

from __future__ import annotations

import ast
import inspect

from nairrcore._native import core

from conftest import REPO

STUB = REPO / "python" / "nairrcore" / "_core.pyi"


def _stub_names() -> dict[str, set[str] | None]:
    """Top-level name -> its members (None for a function or constant)."""
    names: dict[str, set[str] | None] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                t.id for n in node.body if isinstance(n, ast.AnnAssign) for t in [n.target] if isinstance(t, ast.Name)}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id != "__all__":
            names[node.target.id] = None
    return names


def _module_names() -> dict[str, set[str] | None]:
    names: dict[str, set[str] | None] = {}
    for name, value in vars(core).items():
        if name.startswith("__"):
            continue
        if inspect.isclass(value):
            names[name] = {k for k in vars(value) if not k.startswith("_")}
        else:
            names[name] = None
    return names


def test_the_stub_names_what_the_compiled_core_has():
    stub, module = _stub_names(), _module_names()
    assert set(stub) == set(module), f"only in the stub: {set(stub) - set(module)}; " \
                                     f"only in the module: {set(module) - set(stub)}"
    for name, members in module.items():
        if members is not None and issubclass(getattr(core, name), BaseException):
            continue  # the error classes carry nothing of their own
        if members is not None:
            assert members <= (stub[name] or set()), f"{name}: not in the stub: {members - (stub[name] or set())}"


def test_the_stub_holds_python_types_only():
    # a C++ type in a signature (nairrcore::dist::Group) means it was bound after its first use
    signatures = [ast.unparse(node.args) + " -> " + ast.unparse(node.returns or ast.Constant(None))
                  for node in ast.walk(ast.parse(STUB.read_text())) if isinstance(node, ast.FunctionDef)]
    assert signatures and not [s for s in signatures if "::" in s]
