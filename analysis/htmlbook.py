"""A small self-contained HTML document builder in the spirit of pycls' htmlbook: headings, paragraphs,
tables and figures (embedded as base64 PNG) appended in order, rendered to one string with inline CSS."""

from __future__ import annotations

import base64
import html

import pandas as pd

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.5em 2em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
p.meta { color: #666; margin-top: 0; }
p.reading { background: #f6f8fa; border-left: 4px solid #3b6ea8; padding: 0.5em 0.8em; }
table.data { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em; }
table.data th, table.data td { padding: 0.2em 0.6em; border-bottom: 1px solid #e5e5e5; text-align: right; }
table.data th { background: #f0f0f0; }
table.data td:first-child, table.data th:first-child { text-align: left; }
figure { margin: 0.8em 0 1.5em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.88em; }
ul.notes li { color: #8a5a00; }
ul.warnings { background: #fff4e5; border-left: 4px solid #d95f02; padding: 0.5em 0.8em 0.5em 2em; }
ul.warnings li { color: #7a2e00; }
details summary { cursor: pointer; color: #3b6ea8; margin: 0.4em 0; }
nav a { margin-right: 0.8em; }
div.scroll { overflow-x: auto; }
table.data td { white-space: nowrap; }
"""


class HtmlBook:
    """An ordered list of HTML fragments with helpers that escape text and embed figures."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        """Add <h2>-style heading; `anchor` becomes its id for the table of contents."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        """Add a paragraph of plain text (escaped)."""
        cls = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def raw(self, fragment: str) -> None:
        """Add trusted HTML (built by this package, never from data)."""
        self.parts.append(fragment)

    def items(self, texts: list[str], css_class: str = "notes") -> None:
        """Add a bullet list of plain-text items."""
        if texts:
            lis = "".join(f"<li>{html.escape(t)}</li>" for t in texts)
            self.parts.append(f'<ul class="{css_class}">{lis}</ul>')

    def table(self, df: pd.DataFrame, *, digits: int = 3, collapsed: str | None = None) -> None:
        """Add a DataFrame as an HTML table, floats rounded; folded under a `collapsed` summary if given."""
        body = df.to_html(
            index=False, border=0, classes="data", na_rep="–", float_format=lambda v: f"{v:.{digits}f}"
        )
        body = f'<div class="scroll">{body}</div>'
        if collapsed:
            body = f"<details><summary>{html.escape(collapsed)}</summary>{body}</details>"
        self.parts.append(body)

    def figure(self, png: bytes, caption: str, link: str | None = None) -> None:
        """Embed a PNG as a data URI with a caption (and a link to the vector version when given)."""
        data = base64.b64encode(png).decode("ascii")
        more = f' (<a href="{html.escape(link)}">SVG</a>)' if link else ""
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}{more}</figcaption></figure>"
        )

    def render(self) -> str:
        """The whole document."""
        body = "\n".join(self.parts)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
        )
