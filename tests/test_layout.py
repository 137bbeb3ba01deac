"""The reference stays readable: what contributing.md promises of the package's layout, read from
its source. Each module under 600 lines, no function of more than 10 positional parameters, no
module (nor benchmark) reaching into another's private names, and each update rule's velocity
written once."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neuronet"
MODULES = sorted(PACKAGE.rglob("*.py"))
BENCHMARKS = sorted((PACKAGE.parent / "benchmarks").glob("*.py"))  # users of the public API
# A named tuple's own methods carry an underscore so as not to clash with field names; they are
# its public API.
NAMEDTUPLE_API = {"_replace", "_make", "_fields", "_asdict"}
# Private names of other projects, each for a reason its module's comment gives: numba's cache of
# compiled signatures (jit.py).
THIRD_PARTY = {"dispatcher._cache"}


def tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def name(path):
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_each_module_is_under_600_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines < 600, f"{lines} lines: split it by idea (docs/contributing.md)"


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_no_function_takes_more_than_10_positional_parameters(path):
    too_many = {node.name: len(node.args.posonlyargs + node.args.args)
                for node in ast.walk(tree(path)) if isinstance(node, ast.FunctionDef)
                and len(node.args.posonlyargs + node.args.args) > 10}
    assert too_many == {}


@pytest.mark.parametrize("path", MODULES + BENCHMARKS, ids=name)
def test_no_module_reaches_into_private_names(path):
    reaches = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom) and (node.level or node.module.startswith("neuronet")):
            reaches += [f"from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_")]
        elif (isinstance(node, ast.Attribute) and node.attr.startswith("_")
              and not node.attr.startswith("__") and node.attr not in NAMEDTUPLE_API
              and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
              and ast.unparse(node) not in THIRD_PARTY):
            reaches.append(ast.unparse(node))
    assert reaches == []


def label(node):
    """What an operand is called: v for v, v_j[k] -> v_j, step.mu -> mu."""
    if isinstance(node, ast.Subscript):
        return label(node.value)
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def velocity_products(function):
    """The products of mu and a velocity (named v...) in ``function``'s body."""
    products = []
    for node in ast.walk(function):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            names = {label(node.left), label(node.right)}
            if "mu" in names and any(n.startswith("v") for n in names - {"mu"}):
                products.append(node)
    return products


def test_the_momentum_update_is_written_once_per_rule():
    # mu v, the velocity's decay, appears in the rules' own functions and nowhere else: every
    # kernel, tile and block steps by them (the twin writes its rules with in-place numpy
    # calls, v *= mu, once each in its *_update functions)
    written = {f"{name(path)}:{node.name}" for path in MODULES for node in ast.walk(tree(path))
               if isinstance(node, ast.FunctionDef) and velocity_products(node)}
    assert written == {"neuronet/rules.py:momentum", "neuronet/rules.py:nesterov"}
