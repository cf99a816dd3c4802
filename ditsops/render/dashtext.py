"""A text panel's Markdown (or HTML) as plain styled lines: never markup, never obeyed.

Headings bold, emphasis and code marks dropped, links as `text (url)`, list items as `•`,
HTML tags removed and entities read. Control characters are shown escaped (printable).
"""

from __future__ import annotations

import html
import re
import textwrap

from rich.text import Text

from ditsops.render.cells import printable

MAX_LINES = 40
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_TAG = re.compile(r"<[^>]{0,2000}>")


def text_lines(content: str, width: int) -> list[Text]:
    width = max(width, 4)
    if "<" in content and _TAG.search(content):
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h\d>|</li>", "\n", content)
        content = _TAG.sub("", content)
    content = html.unescape(content)
    lines: list[Text] = []
    for raw in content.splitlines():
        line = raw.rstrip()
        style = ""
        heading = re.match(r"^\s{0,3}(#{1,6})\s+(.*)$", line)
        if heading:
            line, style = heading.group(2).rstrip("# "), "bold"
        elif re.match(r"^\s*([-*+]|\d+\.)\s+", line):
            line = re.sub(r"^(\s*)([-*+]|\d+\.)\s+", r"\1• ", line)
        elif re.match(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$", line):
            line = "─" * width
        line = _LINK.sub(lambda m: m.group(1) + (f" ({m.group(2)})" if m.group(2) else ""), line)
        line = re.sub(r"(\*\*|__|`)", "", line)
        line = printable(line)
        if not line.strip() and lines and not lines[-1].plain.strip():
            continue  # one blank line between paragraphs is enough
        indent = len(line) - len(line.lstrip())
        hanging = indent + (2 if line.lstrip().startswith("• ") else 0)  # a list item's lines under its text
        wrapped = textwrap.wrap(line, width, subsequent_indent=" " * min(hanging, width // 2)) or [""]
        lines.extend(Text(part, style=style) for part in wrapped)
    while lines and not lines[-1].plain.strip():
        lines.pop()
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], Text(f"… {len(lines) - MAX_LINES + 1} more lines", style="muted")]
    return lines or [Text("")]
