"""Read YAML safely and refuse duplicate keys.

PyYAML's safe loader silently keeps the last of two equal keys in one
mapping (``tilt_deg: 10`` then ``tilt_deg: 30`` gives 30). pvopt composes the
node tree with :class:`yaml.SafeLoader`, looks for equal keys in every
mapping (keys compared as the values they construct to, so ``1`` and ``1.0``
are equal, as in the resulting dict), and only then constructs the data.
Each duplicate is reported with the line of both occurrences and the key's
path (``arrays[0].tilt_deg``). Aliased nodes are visited once, so a YAML
"billion laughs" stays cheap. Merge keys (``<<: *base``) are not duplicates:
overriding a merged key is what they are for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["DuplicateKey", "find_duplicate_keys", "parse_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_MAX_INT_CHARS = 4000


@dataclass(frozen=True)
class DuplicateKey:
    """A key that appears twice in one mapping."""

    key: str  #: the key as written the second time
    path: str  #: where the key sits, e.g. ``arrays[0].tilt_deg``
    line: int  #: line of the second occurrence (from 1)
    column: int  #: column of the second occurrence (from 1)
    first_line: int  #: line of the first occurrence (from 1)


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _scalar_key(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Return the value a scalar key node constructs to, or ``None`` when it cannot be compared."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        value = loader.construct_object(node, deep=True)
        hash(value)
    except (yaml.YAMLError, TypeError, ValueError):
        return None  # construction reports it (refused tag, unhashable key, huge number)
    return value


def _mapping_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, path: str) -> tuple[list[DuplicateKey], list[tuple[yaml.Node, str]]]:
    """Duplicates among the keys of one mapping, and its children to visit with their paths."""
    found: list[DuplicateKey] = []
    children: list[tuple[yaml.Node, str]] = []
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            continue  # merged keys may be overridden on purpose
        shown = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        children.append((value_node, _key_path(path, shown)))
        key = _scalar_key(loader, key_node)
        if key is None:
            continue
        if key in seen:  # equal as dict keys: the dict would keep only one of them
            mark = key_node.start_mark
            found.append(DuplicateKey(shown, _key_path(path, shown), mark.line + 1, mark.column + 1, seen[key]))
        else:
            seen[key] = key_node.start_mark.line + 1
    return found, children


def find_duplicate_keys(loader: yaml.SafeLoader, root: yaml.Node) -> list[DuplicateKey]:
    """Every duplicate key under ``root``, in document order; each node is visited once."""
    found: list[DuplicateKey] = []
    visited: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            dups, children = _mapping_duplicates(loader, node, path)
            found.extend(dups)
            stack.extend(reversed(children))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(node.value))))
        elif node.tag == _INT_TAG and len(str(node.value)) > _MAX_INT_CHARS:
            # Python refuses to build ints of more than 4300 digits (a ValueError, not a YAML error)
            raise yaml.MarkedYAMLError(
                problem=f"a number of {len(str(node.value))} digits at {path or 'the top level'}; expected a finite number",
                problem_mark=node.start_mark,
            )
    return sorted(found, key=lambda d: (d.line, d.column))


def parse_yaml(text: str) -> tuple[Any, list[DuplicateKey]]:
    r"""Parse one YAML document safely; return its data and every duplicate key found.

    Only the safe constructors run (plain YAML types; ``!!python/...`` tags
    raise :class:`yaml.constructor.ConstructorError`). When duplicates are
    found the data is ``None``: which of two values was meant is unknown.

    Raises
    ------
    yaml.YAMLError
        Malformed YAML, a refused tag or an integer too long to build, with the position in ``problem_mark``.

    Examples
    --------
    >>> parse_yaml("a: 1\nb: 2\n")
    ({'a': 1, 'b': 2}, [])
    >>> data, dups = parse_yaml("a: 1\nb:\n  c: 2\n  c: 3\n")
    >>> data, [(d.path, d.line, d.first_line) for d in dups]
    (None, [('b.c', 4, 3)])
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        dups = find_duplicate_keys(loader, node)
        if dups:
            return None, dups
        try:
            return loader.construct_document(node), []
        except ValueError as e:  # e.g. a huge integer used as a key
            raise yaml.YAMLError(f"cannot build a value: {e}") from None
    finally:
        loader.dispose()
