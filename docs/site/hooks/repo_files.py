"""MkDocs hook: serve files that live elsewhere in the repository without copying them.

- ``SPEC.md`` becomes the page ``SPEC.md`` ("The model"), so SPEC.md stays the single source and the
  links ``[...](SPEC.md)`` in README sections included by other pages resolve to it.
- ``docs/*.png`` and ``docs/*.json`` (the README's figures and benchmark results) are served under the
  same paths, so README image links such as ``docs/compare.png`` resolve unchanged.
- ``examples/notebooks/*.ipynb`` (the tutorials) are served under that path too, rendered by mkdocs-jupyter
  from their committed outputs (they are not executed).

Pages that include README sections therefore use ``rewrite-relative-urls=false`` and live at the top of
``docs/site/``: a link relative to the repository root is then relative to the page as well. The files are
real files of the repository (not generated ones), so ``mkdocs serve`` reloads them when they change.

SPEC.md and the README are written for GitHub, where a list may start right under a paragraph line;
Python-Markdown needs a blank line there, so ``on_page_markdown`` inserts one (outside code blocks).
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[3]

# Globs relative to the repository root; every match keeps its repository path in the site.
SOURCES = ["SPEC.md", "docs/*.png", "docs/*.json", "examples/notebooks/*.ipynb"]

LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s")
FENCE = re.compile(r"^\s*(?:```|~~~)")


@event_priority(100)  # before mkdocs-jupyter, which wraps the notebooks found here
def on_files(files: Files, config) -> Files:
    for pattern in SOURCES:
        paths = sorted(REPO.glob(pattern))
        if not paths:
            raise FileNotFoundError(f"docs hook: nothing in the repository matches {pattern!r}")
        for path in paths:
            uri = path.relative_to(REPO).as_posix()
            if files.get_file_from_path(uri) is None:
                files.append(
                    File(uri, src_dir=str(REPO), dest_dir=config["site_dir"], use_directory_urls=config["use_directory_urls"])
                )
    return files


def loosen_lists(markdown: str) -> str:
    """Inserts a blank line between a paragraph line and a list item that follows it directly."""
    out: list[str] = []
    in_fence = False
    block = "other"  # the kind of the current block: "para", "list" or "other"
    previous_blank = True
    for line in markdown.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
            block, previous_blank = "other", False
        elif in_fence:
            pass
        elif not line.strip():
            previous_blank = True
        else:
            if LIST_ITEM.match(line):
                if block == "para" and not previous_blank:
                    out.append("")
                block = "list"
            elif previous_blank and not (block == "list" and line[:1] in (" ", "\t")):
                block = "other" if line.lstrip()[:1] in ("#", "|", "<", ">", "!", ":") else "para"
            previous_blank = line.startswith("#")  # a heading is a block of one line
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return loosen_lists(markdown)
