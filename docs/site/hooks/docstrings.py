"""Griffe extension: render the package's reST-flavoured docstrings as Markdown.

The docstrings of ``mcia`` are written for ``help()`` and use a few Sphinx conventions that Markdown would
show literally. Before mkdocstrings renders them, this extension rewrites (in the documentation only):

- roles such as ``:class:`mcia.Config``` or ``:func:`~mcia.evaluate``` into code spans;
- doctest runs (``>>>`` lines and the output under them) into ``pycon`` code blocks;
- a paragraph ending in ``::`` (reST's literal block marker) into one ending in ``:``; the indented block
  after it is already a Markdown code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")


def _role(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def to_markdown(text: str) -> str:
    out: list[str] = []
    in_fence = False
    in_doctest = False
    indent = ""
    for line in text.splitlines():
        if in_doctest:
            if line.strip():
                out.append(line)
                continue
            out.append(f"{indent}```")
            in_doctest = False
        if FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            if out and out[-1].strip():
                out.append("")
            out.extend([f"{indent}```pycon", line])
            in_doctest = True
            continue
        line = ROLE.sub(_role, line)
        if line.rstrip().endswith("::") and not line.rstrip().endswith(":::"):
            line = line.rstrip()[:-1]
        out.append(line)
    if in_doctest:
        out.append(f"{indent}```")
    return "\n".join(out)


class ReSTToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
