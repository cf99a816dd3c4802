"""YAML loading that remembers the line of every mapping key, for error messages — bounded.

A runbook is a few kilobytes written by a person, so the loader refuses what only an
attack or an accident produces, each as a YamlSyntaxError with its line (exit 2), before
it costs memory or time:

- nesting deeper than MAX_DEPTH (`[[[[...`: PyYAML's composer recurses per level);
- more than MAX_NODES nodes (pure-Python PyYAML needs seconds per hundred thousand);
- more than MAX_ALIASES alias uses, or aliases that together expand to more than
  MAX_ALIAS_NODES nodes (the "billion laughs": nine anchors of nine aliases each are
  only 81 aliases but 9**9 nodes once something walks the document);
- values PyYAML's constructors cannot build (an int of 10,000 digits, a timestamp of
  month 13, an empty `!!int`): reported instead of leaking a ValueError or IndexError.

The size of the text is bounded by the caller (loader.MAX_BYTES). Messages quote at most
the offending token, cut to TOKEN_CHARS, never the surrounding text.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64
MAX_NODES = 20_000  # the largest shipped runbook has a few hundred
MAX_ALIASES = 100
MAX_ALIAS_NODES = 10_000
TOKEN_CHARS = 40


class LineDict(dict[str, Any]):
    """A dict that knows the 1-based line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]
    duplicates: list[tuple[str, int]]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Refused(yaml.MarkedYAMLError):
    """A bound was crossed; carries a message already safe to show."""


def token(text: str) -> str:
    """An offending token as it may be quoted in a message: cut, never a whole line."""
    text = str(text).splitlines()[0] if str(text).strip() else str(text)
    return text if len(text) <= TOKEN_CHARS else text[: TOKEN_CHARS - 1] + "…"


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._aliases = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded

    def _refuse(self, message: str, event: yaml.Event) -> None:
        # our loader is the pure-Python one: its marks are yaml.error.Mark (never the C loader's)
        mark = event.start_mark if isinstance(event.start_mark, yaml.error.Mark) else None
        raise _Refused(problem=message, problem_mark=mark)

    def compose_node(self, parent: Any, index: Any) -> yaml.Node | None:
        # types-PyYAML leaves Parser.peek_event unannotated; it returns the next Event
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                self._refuse(f"more than {MAX_ALIASES} aliases (*{token(event.anchor or '')})", event)
            node = super().compose_node(parent, index)  # the anchored node, or 'undefined alias'
            self._alias_nodes += self._sizes.get(id(node), 1)
            if self._alias_nodes > MAX_ALIAS_NODES:
                self._refuse(
                    f"aliases expand to more than {MAX_ALIAS_NODES} nodes (*{token(event.anchor or '')})", event
                )
            return node
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self._refuse(f"more than {MAX_NODES} values; a runbook is not that large", event)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                self._refuse(f"nested deeper than {MAX_DEPTH} levels", event)
        node = super().compose_node(parent, index)
        if isinstance(node, yaml.SequenceNode):
            self._depth -= 1
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._depth -= 1
            self._sizes[id(node)] = 1 + sum(
                self._sizes.get(id(key), 1) + self._sizes.get(id(value), 1) for key, value in node.value
            )
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError, RecursionError) as error:
            if isinstance(error, yaml.YAMLError):
                raise
            kind = node.tag.rsplit(":", 1)[-1]
            raise _Refused(problem=f"cannot read this value as {token(kind)}", problem_mark=node.start_mark) from None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            result.duplicates.append((key, key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _problem(error: yaml.YAMLError) -> str:
    """PyYAML's problem text names the token ("found undefined alias 'x'"); cut it to a line."""
    problem = getattr(error, "problem", None) or type(error).__name__
    problem = " ".join(str(problem).split())
    return problem if len(problem) <= 160 else problem[:159] + "…"


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except _Refused as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise YamlSyntaxError(f"refused YAML: {error.problem}", line) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlSyntaxError(f"invalid YAML: {_problem(error)}", line) from None
    except yaml.reader.ReaderError as error:
        # position counts characters; the line is what an engineer can find
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else 0
        raise YamlSyntaxError(f"invalid YAML: unacceptable character #x{code:04x}", line) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"invalid YAML: {_problem(error)}", 0) from None
    except RecursionError:  # a bound above should make this unreachable; never a traceback
        raise YamlSyntaxError(f"refused YAML: nested deeper than {MAX_DEPTH} levels", 0) from None
