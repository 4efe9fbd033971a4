"""Every message the harness's source can produce, as templates read from its syntax tree.

A message is the first argument of an exception, warning, ``pytest.fail`` / ``pytest.exit``,
``add_note`` or ``logger.warning`` call. Its text is followed through what the source makes
knowable: string constants, module constants, local variables, and the parameters of the
function it is in, whose arguments are read at every call site (the page may show any of them,
or a placeholder: what a caller passes is a part that varies). What cannot be known (an
attribute, a call, a driver's error) is a *hole*; a harness error caught by the code around it
is a *message hole*: the text there must be another message (``harness: <the error>``).
``tests/test_messages.py`` compares the templates with docs/troubleshooting.md, where
``<anything in angle brackets>`` fills a hole.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

__all__ = ["Template", "known_templates", "required_templates"]

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "harness"

ERROR_SUFFIXES = ("Error", "Warning", "ExceptionGroup")
CALLS = {"fail", "exit", "add_note", "warning"}
"""Messages a user sees: exceptions, warnings, pytest's outcomes, notes, log records."""
OUTPUT_CALLS = {"print", "say"}
"""Lines that frame a message (``harness: <the error>``): known, but not each a message; so is
any template with a message hole."""
HARNESS_ERRORS = {"HarnessError", "EnvFileError", "ValueError", "ArgumentTypeError"}
"""Caught errors whose text is a harness message (``ValueError``: the configuration's)."""
SKIPPED_CALLERS = {"_usable", "__getattr__"}
"""Functions whose failures the harness catches and never shows (a reattach probe), or whose
failure is Python's own (a module's ``__getattr__`` says what ``AttributeError`` always says)."""

Token = tuple[str, object]
"""``("lit", text)``, ``("hole", "")``, ``("message", "")`` (an exception's text), ``("opt",
text)`` (there or not), ``("alts", (tokens, ...))``: one of several texts, or a placeholder."""
PLACEHOLDER = r"<[^<>\n]+>"


@dataclass(frozen=True)
class Template:
    """One message as written at one place in the source."""

    tokens: tuple[Token, ...]
    where: str
    required: bool

    @property
    def text(self) -> str:
        """The template as the page would write it, with ``<...>`` for every hole."""
        return _text(self.tokens)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(_regex(self.tokens, top=True))

    @property
    def trivial(self) -> bool:
        """Whether it matches any line at all (no text of its own to look for)."""
        return bool(self.regex.fullmatch("<anything>"))


def _text(tokens: tuple[Token, ...]) -> str:
    parts = []
    for kind, value in tokens:
        if kind == "lit":
            parts.append(str(value))
        elif kind == "opt":
            parts.append(f"[{value}]")
        elif kind == "alts":
            assert isinstance(value, tuple)
            parts.append("{" + " | ".join(_text(alt) for alt in value) + "}")
        else:
            parts.append("<...>" if kind == "hole" else "<message>")
    return "".join(parts)


def _regex(tokens: tuple[Token, ...], top: bool = False) -> str:
    parts = []
    for index, (kind, value) in enumerate(tokens):
        if kind == "lit":
            parts.append(re.escape(str(value)))
        elif kind == "opt":
            parts.append(f"(?:{re.escape(str(value))})?")
        elif kind == "alts":
            assert isinstance(value, tuple)
            parts.append("(?:" + "|".join([*(_regex(alt) for alt in value), PLACEHOLDER]) + ")")
        else:
            before = tokens[index - 1][1] if index else "\n"
            last = index + 1 == len(tokens)
            after = "\n" if last else tokens[index + 1][1]
            lines = top and (last or (str(before).endswith("\n") and str(after).startswith("\n")))
            hole = r"(?:.|\n)*?" if lines else r"[^\n]*?"
            named = top and kind == "message" and "(?P<message>" not in "".join(parts)
            parts.append(f"(?P<message>{hole})" if named else hole)
    return "".join(parts)


# -- reading the source --------------------------------------------------------------------------
@dataclass
class Module:
    path: Path
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    parents: dict[int, ast.AST] = field(default_factory=dict)


@cache
def modules() -> tuple[Module, ...]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = Module(path, tree)
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    module.constants[target.id] = node.value
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                module.parents[id(child)] = parent
        found.append(module)
    return tuple(found)


def _functions(module: Module, node: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions around *node*, innermost first."""
    current = module.parents.get(id(node))
    while current is not None:
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            yield current
        current = module.parents.get(id(current))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


@cache
def _call_sites(name: str) -> tuple[tuple[Module, ast.Call], ...]:
    return tuple(
        (module, node)
        for module in modules()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and _call_name(node) == name
    )


def _argument(
    function: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, name: str
) -> ast.expr | None:
    params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    offset = 1 if params and params[0] in ("self", "cls") else 0
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if name in params:
        index = params.index(name) - offset
        if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
            return call.args[index]
    kwonly = [a.arg for a in function.args.kwonlyargs]
    if name in kwonly:
        default = function.args.kw_defaults[kwonly.index(name)]
        return default
    defaults = function.args.defaults
    if name in params and defaults:
        index = params.index(name) - (len(params) - len(defaults))
        if index >= 0:
            return defaults[index]
    return None


# -- following the text ----------------------------------------------------------------------------
class Resolver:
    """Turns an expression into the tokens of the texts it can be."""

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth

    def deeper(self) -> Resolver:
        return Resolver(self.depth + 1)

    def text(self, node: ast.expr | None, module: Module) -> tuple[Token, ...]:
        if node is None or self.depth > 6:
            return (("hole", ""),)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return (("lit", node.value),)
        if isinstance(node, ast.JoinedStr):
            return tuple(t for value in node.values for t in self.text(value, module))
        if isinstance(node, ast.FormattedValue):
            if node.conversion != -1 or node.format_spec is not None:
                return (self.hole(node.value, module),)
            return self.text(node.value, module)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.text(node.left, module) + self.text(node.right, module)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            constant = next(
                (n.value for n in (node.left, node.right) if isinstance(n, ast.Constant)), None
            )
            return (("opt", constant) if isinstance(constant, str) else ("hole", ""),)
        if isinstance(node, ast.IfExp):
            branches = [node.body, node.orelse]
            empty = [b for b in branches if isinstance(b, ast.Constant) and b.value == ""]
            texts = [self.text(b, module) for b in branches if b not in empty]
            if empty and all(k == "lit" for k, _ in texts[0]):
                return (("opt", "".join(str(v) for _, v in texts[0])),)
            return _alternatives(texts + [()] * len(empty))
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            return _alternatives([self.text(v, module) for v in node.values])
        if isinstance(node, ast.Name):
            return self.name(node, module)
        return (self.hole(node, module),)

    def hole(self, node: ast.expr, module: Module) -> Token:
        """A hole; a message hole when it shows a harness error the code around it caught."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for function in _functions(module, node):
            for handler in ast.walk(function):
                if (
                    isinstance(handler, ast.ExceptHandler)
                    and handler.name in names
                    and handler.type is not None
                    and {n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)}
                    & HARNESS_ERRORS
                ):
                    return ("message", "")
        return ("hole", "")

    def name(self, node: ast.Name, module: Module) -> tuple[Token, ...]:
        deeper = self.deeper()
        for function in _functions(module, node):
            assigned = [
                stmt.value
                for stmt in ast.walk(function)
                if isinstance(stmt, ast.Assign | ast.AnnAssign)
                and stmt.value is not None
                and any(
                    isinstance(t, ast.Name) and t.id == node.id
                    for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                )
            ]
            if assigned:
                return _alternatives([deeper.text(value, module) for value in assigned])
            params = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
            if node.id in params:
                return deeper.parameter(function, node.id)
        if node.id in module.constants:
            return deeper.text(module.constants[node.id], module)
        return (self.hole(node, module),)

    def parameter(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str, placeholder: bool = True
    ) -> tuple[Token, ...]:
        """What the callers pass: every call site's argument (or, in a message, a placeholder)."""
        texts = [
            self.text(_argument(function, call, name), module)
            for module, call in _call_sites(function.name)
            if not any(f.name in SKIPPED_CALLERS for f in _functions(module, call))
        ]
        return _alternatives(texts, placeholder) if texts else (("hole", ""),)

    def message(self, node: ast.expr, module: Module) -> tuple[Token, ...]:
        """A whole message: a parameter passed on as is is whatever its callers pass."""
        if isinstance(node, ast.Name):
            for function in _functions(module, node):
                params = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
                if node.id in params:
                    return self.parameter(function, node.id, placeholder=False)
                break
        return self.text(node, module)


def _alternatives(texts: list[tuple[Token, ...]], placeholder: bool = False) -> tuple[Token, ...]:
    """One of *texts*; with *placeholder*, the page may write ``<...>`` instead (what a caller
    passes is a variable part of the message, however literal it is at the call site)."""
    unique = tuple(dict.fromkeys(_merged(t) for t in texts))
    if len(unique) == 1 and not placeholder:
        return unique[0]
    return (("alts", unique),)


def _merged(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
    merged: list[Token] = []
    for kind, value in tokens:
        if kind == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", str(merged[-1][1]) + str(value))
        elif kind == "hole" and merged and merged[-1][0] == "hole":
            continue
        elif not (kind == "lit" and value == ""):
            merged.append((kind, value))
    return tuple(merged)


def _percent_holes(tokens: tuple[Token, ...]) -> Iterator[Token]:
    for kind, value in tokens:
        if kind != "lit":
            yield kind, value
            continue
        pieces = str(value).split("%s")
        for index, piece in enumerate(pieces):
            if index:
                yield ("hole", "")
            yield ("lit", piece)


def _first_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in ("msg", "message", "reason")), None)


def _is_message(call: ast.Call) -> bool | None:
    """True for a message, False for an output line that frames one, None for neither."""
    name = _call_name(call)
    if name in OUTPUT_CALLS:
        return False
    if name.endswith(ERROR_SUFFIXES) or name in CALLS:
        return True
    return None


@cache
def _templates() -> tuple[Template, ...]:
    found = []
    for module in modules():
        for call in ast.walk(module.tree):
            if not isinstance(call, ast.Call):
                continue
            kind = _is_message(call)
            argument = _first_argument(call)
            if kind is None or argument is None:
                continue
            if any(f.name in SKIPPED_CALLERS for f in _functions(module, call)):
                continue
            tokens = _merged(Resolver().message(argument, module))
            if _call_name(call) == "warning":  # logging: %s is filled in later
                tokens = _merged(tuple(_percent_holes(tokens)))
            # `report.get("error") or f"..."`: each text a message of its own (what an
            # unknown one is, other messages say)
            whole = [t[0][1] for t in [tokens] if len(t) == 1 and t[0][0] == "alts"]
            for variant in whole[0] if whole else [tokens]:
                assert isinstance(variant, tuple)
                required = kind and not any(k == "message" for k, _ in variant)
                where = f"{module.path.relative_to(ROOT)}:{call.lineno}"
                template = Template(variant, where, required)
                if not template.trivial:
                    found.append(template)
    return tuple(found)


FRAMEWORK = (
    Template(
        (
            ("lit", "harness "),
            ("hole", ""),
            ("lit", ": error: argument "),
            ("hole", ""),
            ("lit", ": "),
            ("message", ""),
        ),
        "argparse: a bad argument of a harness command",
        False,
    ),
    Template(
        (("lit", "harness "), ("hole", ""), ("lit", ": error: "), ("message", "")),
        "harness/__main__.py: a configuration error of a harness command, through argparse",
        False,
    ),
)
"""What the ``harness`` command's argument parser writes around a message."""


def required_templates() -> list[Template]:
    """The messages the troubleshooting page must show."""
    return [t for t in _templates() if t.required]


def known_templates() -> list[Template]:
    """Every message and every output line that frames one."""
    return [*_templates(), *FRAMEWORK]
