"""Where a place in a YAML document is: its line, found by composing the YAML once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


class Lines:
    """Line numbers of a YAML text's nodes, looked up by their path of keys and indexes."""

    def __init__(self, text: str) -> None:
        self._root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def line(self, path: Sequence[Any]) -> int:
        """The line (from 1) of the deepest node on ``path`` that exists: of its key, when it
        is a mapping's value, since a block value starts on the line after it."""
        node, line = self._root, 1
        if node is None:
            return line
        line = int(node.start_mark.line) + 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            node, line = found[0], int(found[1].start_mark.line) + 1
        return line


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """The child ``part`` of ``node``, and the node that names it (its key, or itself)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value, key
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None
