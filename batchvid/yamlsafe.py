"""YAML loading that keeps line numbers, refuses duplicate keys and defuses alias bombs."""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import InputError

MAX_NODES = 200_000  # after alias expansion; a "billion laughs" document is refused, not expanded
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class LineMap(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class YamlProblem(InputError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# libyaml's parser when PyYAML has it (10x faster on a 10,000-shot manifest); the constructors,
# which keep the line numbers, are the same Python code either way.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    pass


_STR_TAG = "tag:yaml.org,2002:str"

# YAML 1.1 reads `16:9` as the base-60 number 969 (and `1:30` as 90); YAML 1.2, editors and people read it as
# text. An aspect ratio is the value most often written so: a plain scalar of that form stays a string.
_BASE_60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_NUMBER_STARTS = frozenset("+-0123456789")
_Loader.yaml_implicit_resolvers = {
    first: [(_STR_TAG, _BASE_60), *resolvers] if first in _NUMBER_STARTS else resolvers
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


def _construct(loader: _Loader, node: yaml.Node) -> Any:
    # A string scalar is its own value: skip the generic constructor's bookkeeping for the commonest node
    # (what SafeConstructor.construct_yaml_str would return, without the detour).
    if node.tag == _STR_TAG and type(node) is yaml.ScalarNode:
        return node.value
    return loader.construct_object(node, deep=True)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = _construct(loader, key_node)
        line = key_node.start_mark.line + 1
        try:
            seen = key in result
        except TypeError:
            raise YamlProblem(line, "a mapping key must be a plain value") from None
        if seen:
            raise YamlProblem(line, f"duplicate key {key!r} (first on line {result.key_lines[key]})")
        result[key] = _construct(loader, value_node)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(_construct(loader, child) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes the document would have with every alias expanded, computed without expanding."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once and is refused by the constructor anyway
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = total
    return min(total, MAX_NODES * 10)


def load(text: str) -> Any:
    """Parse one YAML document; raise YamlProblem with a line for anything wrong."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # an alias is written `*name`: without a `*` in the text there is nothing to expand
        if "*" in text and _expanded_size(node, {}) > MAX_NODES:
            raise YamlProblem(1, f"the document expands to more than {MAX_NODES:,} values (an alias bomb?)")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line, problem = _explained(exc, text)
        raise YamlProblem(line, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlProblem(1, "not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _explained(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """(line, problem) of a YAML error, in the manifest writer's terms, and the same whichever parser PyYAML has:
    libyaml's words are obscure ("did not find expected node content") and differ from the pure-Python ones."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    problem = exc.problem or exc.context or "syntax error"
    found = _char_at(text, mark.line, mark.column) if mark else ""
    if mark is not None and found == "\t":
        problem = f"a tab at column {mark.column + 1}: YAML indents with spaces only"
    elif problem.startswith("mapping values are not allowed"):  # libyaml ends it "in this context", PyYAML "here"
        problem = "mapping values are not allowed here (a ': ' inside a value? put the value in quotes)"
    elif "sequence entries are not allowed" in problem:
        problem = "a '- ' list item where a value goes (put the value in quotes, or start the list on its own line)"
    elif "cannot start any token" in problem and found:
        problem = f"{found!r} cannot start a value (put the value in quotes)"
    elif exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
        line = exc.context_mark.line + 1
        problem = "a quoted value is never closed"
    elif "expected node content" in problem or "expected the node content" in problem:
        problem = ("the file ends inside a [ ] or { }: a bracket is never closed" if not found.strip() else
                   f"a value is missing before {found!r} (an extra comma?)")
    elif exc.context in ("while parsing a flow sequence", "while parsing a flow mapping"):
        close = "]" if exc.context.endswith("sequence") else "}"
        problem = (f"a ',' or the closing {close!r} is missing before {found!r}" if found.strip() else
                   f"the file ends before the closing {close!r}")
    elif problem.startswith("found undefined alias"):
        problem = "an alias (*name) with no anchor (&name) before it"
    return line, problem


def _char_at(text: str, line: int, column: int) -> str:
    lines = _LINE_BREAKS.split(text)  # YAML's line breaks (str.splitlines knows more: \f, \v, ...)
    return lines[line][column] if line < len(lines) and column < len(lines[line]) else ""
