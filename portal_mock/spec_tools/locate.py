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
        """The line (from 1) of the deepest node on ``path`` that exists."""
        node = self._root
        if node is None:
            return 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            node = found
        return int(node.start_mark.line) + 1


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                found: yaml.Node = value
                return found
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
