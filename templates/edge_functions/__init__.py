"""The edge functions: which triggers exist, and each one's handler source with its settings baked in."""

from __future__ import annotations

import ast
import builtins
import functools
import io
import symtable
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANDLER_SOURCE = Path(__file__).resolve().parent / "edge_handler.py"

_MARKER = "BAKED_SETTINGS = "
_SECTION_MARKER = "# @bake:"
_SETTINGS_KEYS = {"table_name": str, "table_regions": list, "cache_ttl_seconds": int, "environment": str}


@dataclass(frozen=True)
class EdgeFunction:
    """One Lambda@Edge function: its CloudFront event type and the handler inside its index.py."""

    key: str
    event_type: str
    handler: str
    include_body: bool
    description: str


FUNCTIONS: tuple[EdgeFunction, ...] = (
    EdgeFunction(
        key="viewer_request",
        event_type="viewer-request",
        handler="index.viewer_request",
        include_body=False,
        description="maintenance page, redirects, index and SPA rewrites, experiment routing",
    ),
    EdgeFunction(
        key="origin_response",
        event_type="origin-response",
        handler="index.origin_response",
        include_body=False,
        description="Cache-Control by path for origin responses that lack one",
    ),
    # The experiment cookie is per viewer: origin-response output is cached and replayed to every
    # viewer, so the Set-Cookie must come from viewer-response, which runs on every response.
    EdgeFunction(
        key="viewer_response",
        event_type="viewer-response",
        handler="index.viewer_response",
        include_body=False,
        description="Set-Cookie that keeps a viewer's experiment variant sticky",
    ),
)


def handler_source() -> str:
    """The handler module's source as committed (default BAKED_SETTINGS: no table, pass-through)."""
    return HANDLER_SOURCE.read_text(encoding="utf-8")


def _literal(value: Any) -> str:
    """A one-line Python literal with sorted keys: the same settings always give the same bytes."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return repr(value)
    raise ValueError(f"cannot bake a {type(value).__name__} into the handler settings: {value!r}")


def _check_settings(settings: dict) -> None:
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict, got {type(settings).__name__}")
    missing = sorted(set(_SETTINGS_KEYS) - set(settings))
    unknown = sorted(set(settings) - set(_SETTINGS_KEYS))
    if missing or unknown:
        raise ValueError(f"settings keys: missing {missing}, unknown {unknown}; expected {sorted(_SETTINGS_KEYS)}")
    for key, kind in _SETTINGS_KEYS.items():
        value = settings[key]
        if isinstance(value, tuple) and kind is list:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"settings[{key!r}] must be a {kind.__name__}, got {value!r}")
    if not settings["table_name"] or not settings["environment"]:
        raise ValueError("settings table_name and environment must not be empty")
    regions = list(settings["table_regions"])
    if not regions or not all(isinstance(r, str) and r for r in regions) or len(set(regions)) != len(regions):
        raise ValueError(f"settings['table_regions'] must list distinct regions, primary first, got {regions!r}")
    if settings["cache_ttl_seconds"] < 1:
        raise ValueError(f"settings['cache_ttl_seconds'] must be at least 1, got {settings['cache_ttl_seconds']}")


TRIGGERS: tuple[str, ...] = tuple(function.event_type for function in FUNCTIONS)


def bake_source(settings: dict, trigger: str, source: str | None = None) -> str:
    """index.py of the `trigger` function (an event type), as its package holds it: the handler source with
    only the sections marked for that trigger, and its BAKED_SETTINGS line replaced by `settings`.

    Loading index.py at a cold start (compiling it, or reading its bytecode) costs CPU by the amount of
    code. The other sections, docstrings and comments become empty lines, and function annotations are
    cut: every line stays where it is in edge_handler.py, so a traceback's line numbers are that file's.
    The same source and settings always give the same bytes.
    `settings` holds table_name, table_regions (primary first), cache_ttl_seconds and environment.
    Raises ValueError on bad settings, an unknown trigger, a bad `# @bake:` line, a BAKED_SETTINGS line not
    found exactly once, or a result that uses a name it does not define or lacks the trigger's handler.
    """
    _check_settings(settings)
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}; expected one of {', '.join(TRIGGERS)}")
    text = handler_source() if source is None else source
    lines, marked = _trigger_lines(text, trigger)
    out = list(lines)
    baked = dict(settings, table_regions=list(settings["table_regions"]))
    out[marked] = _MARKER + _literal(baked) + "\n"  # a literal by construction: it binds the same name
    return "".join(out).rstrip("\n") + "\n"


@functools.lru_cache(maxsize=32)
def _trigger_lines(text: str, trigger: str) -> tuple[tuple[str, ...], int]:
    """The lines of `trigger`'s index.py before its settings are baked in, and the index of the
    BAKED_SETTINGS line; checked to compile and to define every name it uses and the handler.

    Cached: parsing, tokenizing and checking the handler takes ~0.1 s, and every environment bakes
    the same source for the same three triggers, with only the settings line differing.
    """
    function = next(f for f in FUNCTIONS if f.event_type == trigger)
    lines = text.splitlines(keepends=True)
    marked = [i for i, line in enumerate(lines) if line.startswith(_MARKER)]
    if len(marked) != 1:
        raise ValueError(f"expected exactly one line starting with {_MARKER!r} in the handler source, "
                         f"found {len(marked)}")
    section_triggers, edits = _sections_and_edits(text)
    out = [line if trigger in triggers else "\n" for line, triggers in zip(lines, section_triggers)]
    for number, replacement in edits.items():
        if out[number - 1] != "\n":
            out[number - 1] = replacement
    out[marked[0]] = lines[marked[0]]  # the handler's own settings line: valid code binding the same name
    result = "".join(out)
    compile(result, "index.py", "exec")
    bound, missing = _global_names(result)
    if missing:
        raise ValueError(f"the {trigger} source uses {', '.join(missing)}, which its sections do not define: "
                         f"mark the section that defines it for {trigger}")
    entry_point = function.handler.removeprefix("index.")
    if entry_point not in bound:
        raise ValueError(f"the {trigger} source does not define its handler {entry_point}")
    return tuple(out), marked[0]


@functools.lru_cache(maxsize=8)
def _sections_and_edits(text: str) -> tuple[list[frozenset[str]], dict[int, str]]:
    """For each line the triggers whose source holds it, and the edits that drop docstrings, comments
    and annotations: the same for every trigger, so parsed once per source."""
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    return _section_triggers(lines, tree), _code_only(text, lines, tree)


def _section_triggers(lines: list[str], tree: ast.Module) -> list[frozenset[str]]:
    """For each line, the triggers whose source holds it: all of them until the first `# @bake:` line, then
    those its section's line names (`all`, `none`, or event types)."""
    inside = set()  # line numbers within a top-level statement, after its first line
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
        inside.update(range(first + 1, node.end_lineno + 1))
    current = frozenset(TRIGGERS)
    result = []
    for number, line in enumerate(lines, 1):
        if line.startswith(_SECTION_MARKER):
            if number in inside:
                raise ValueError(f"line {number}: a {_SECTION_MARKER!r} line must stand between top-level statements")
            names = line[len(_SECTION_MARKER):].replace(",", " ").split()
            if names == ["all"]:
                current = frozenset(TRIGGERS)
            elif names == ["none"]:
                current = frozenset()
            elif names and set(names) <= set(TRIGGERS):
                current = frozenset(names)
            else:
                raise ValueError(f"line {number}: {line.strip()!r} must name all, none, or triggers among "
                                 f"{', '.join(TRIGGERS)}")
        result.append(current)
    return result


def _code_only(text: str, lines: list[str], tree: ast.Module) -> dict[int, str]:
    """{line number: what replaces the line} that drops every docstring, comment and function annotation (never
    evaluated: they are strings here) and nothing else."""
    comment_at = {token.start[0]: token.start[1] for token in tokenize.generate_tokens(io.StringIO(text).readline)
                  if token.type == tokenize.COMMENT}
    cuts: dict[int, list[tuple[int, int]]] = {}  # line number -> (start, end) of each annotation to cut
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
            if arg is not None and arg.annotation is not None and arg.lineno == arg.annotation.end_lineno:
                line = lines[arg.lineno - 1]
                start = _column(line, arg.col_offset) + len(arg.arg)  # `name: annotation` -> `name`
                cuts.setdefault(arg.lineno, []).append((start, _column(line, arg.annotation.end_col_offset)))
        returns = node.returns
        if returns is not None and returns.lineno == returns.end_lineno:
            line = lines[returns.lineno - 1]
            begin = _column(line, returns.col_offset)
            arrow = line.rfind("->", 0, begin)
            if arrow >= 0 and not line[arrow + 2:begin].strip():  # `) -> annotation:` -> `):`
                cuts.setdefault(returns.lineno, []).append(
                    (len(line[:arrow].rstrip()), _column(line, returns.end_col_offset)))
    edits = {}
    for number in comment_at.keys() | cuts.keys():
        code = lines[number - 1].rstrip("\n")[:comment_at.get(number)]
        for start, end in sorted(cuts.get(number, ()), reverse=True):
            code = code[:start] + code[end:]
        edits[number] = code.rstrip() + "\n"
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = node.body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        end_line = lines[first.end_lineno - 1]
        after = end_line[_column(end_line, first.end_col_offset):comment_at.get(first.end_lineno)]
        if lines[first.lineno - 1][:_column(lines[first.lineno - 1], first.col_offset)].strip() or after.strip():
            continue  # the docstring shares a line with other code: keep it
        for number in range(first.lineno, first.end_lineno + 1):
            edits[number] = "\n"
        if len(node.body) == 1:  # a body of only a docstring still needs a statement
            edits[first.lineno] = " " * first.col_offset + "pass\n"
    return edits


def _column(line: str, utf8_offset: int) -> int:
    """The character index of a UTF-8 byte offset (as ast gives columns) in `line`."""
    return len(line.encode("utf-8")[:utf8_offset].decode("utf-8"))


def _global_names(source: str) -> tuple[set[str], list[str]]:
    """(the names the module binds, the names its code reads as globals that are neither bound nor builtins)."""
    module = symtable.symtable(source, "index.py", "exec")
    bound = {symbol.get_name() for symbol in module.get_symbols() if symbol.is_assigned() or symbol.is_imported()}
    known = bound | set(dir(builtins))
    missing: set[str] = set()
    tables = [module]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is module or symbol.is_global()) and symbol.get_name() not in known:
                missing.add(symbol.get_name())
        tables.extend(table.get_children())
    return bound, sorted(missing)

