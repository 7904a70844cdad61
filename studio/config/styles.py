"""Prompt styles: named prompt and negative-prompt templates, stored as `styles.csv`.

A template holds `{prompt}` where the person's own prompt goes; a template without it is
appended after a comma, as AUTOMATIC1111 does. The file on disk has A1111's columns
(name, prompt, negative_prompt), so the same file is imported and exported unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from studio.config.atomic import write_atomic

PLACEHOLDER = "{prompt}"
COLUMNS = ("name", "prompt", "negative_prompt")
MAX_FILE_BYTES = 4_000_000  # far past any real styles file; bounds what an import reads
MAX_FIELD_CHARS = 20_000


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


@dataclass
class StylesRead:
    """The styles a file held, and each row that could not be used, in words."""

    styles: list[Style] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def apply_template(template: str, text: str) -> str:
    """`text` put into `template`: at each {prompt}, or appended after a comma."""
    if not template:
        return text
    if PLACEHOLDER in template:
        return template.replace(PLACEHOLDER, text)
    if not text:
        return template
    return f"{text}, {template}"


def apply_styles(styles: list[Style], prompt: str, negative: str) -> tuple[str, str]:
    """The prompt and negative prompt with each style applied in order."""
    for style in styles:
        prompt = apply_template(style.prompt, prompt)
        negative = apply_template(style.negative_prompt, negative)
    return prompt, negative


def parse_styles_csv(text: str) -> StylesRead:
    """Read A1111's styles.csv. Quoted fields may hold commas and newlines; a row that cannot
    be used is reported with its line and why, never dropped silently."""
    read = StylesRead()
    if text.startswith("\ufeff"):
        text = text[1:]  # the byte-order mark spreadsheets write
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return read
    except csv.Error as error:
        read.problems.append(f"The first line could not be read as CSV ({error}).")
        return read
    columns = [name.strip().lower() for name in header]
    if "name" not in columns:
        read.problems.append("The file has no 'name' column; expected the columns name, prompt, negative_prompt.")
        return read
    seen: set[str] = set()
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            read.problems.append(f"Line {line}: could not be read as CSV ({error}); the rest was skipped.")
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            read.problems.append(f"Line {line}: has {len(row)} fields but the header has {len(columns)}; "
                                 "skipped (a comma outside quotes?).")
            continue
        values = dict(zip(columns, row, strict=False))
        name = values.get("name", "").strip()
        if not name:
            read.problems.append(f"Line {line}: the style has no name; skipped.")
            continue
        if any(len(values.get(c, "")) > MAX_FIELD_CHARS for c in COLUMNS):
            read.problems.append(f"Line {line}: style {name!r} is longer than {MAX_FIELD_CHARS:,} characters; skipped.")
            continue
        if name in seen:
            read.problems.append(f"Line {line}: a second style named {name!r}; the first one was kept.")
            continue
        seen.add(name)
        read.styles.append(Style(name, values.get("prompt", ""), values.get("negative_prompt", "")))
    return read


def styles_csv(styles: list[Style]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for style in styles:
        writer.writerow((style.name, style.prompt, style.negative_prompt))
    return out.getvalue()


def read_styles_file(path: Path) -> StylesRead:
    """A styles.csv from disk; a file that cannot be read is one problem, not an exception."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return StylesRead(problems=[f"{path.name} is {size:,} bytes; a styles file of over "
                                        f"{MAX_FILE_BYTES:,} bytes is not read."])
        data = path.read_bytes()
    except FileNotFoundError:
        return StylesRead()
    except OSError as error:
        return StylesRead(problems=[f"{path.name} could not be read ({error.strerror or 'unreadable'})."])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return StylesRead(problems=[f"{path.name} is not UTF-8 text."])
    return parse_styles_csv(text)


class StyleStore:
    """The person's styles, kept in `styles.csv` under the config folder, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        read = read_styles_file(path)
        self.styles: list[Style] = read.styles
        self.problems: list[str] = read.problems

    def names(self) -> list[str]:
        return [style.name for style in self.styles]

    def get(self, names: list[str]) -> list[Style]:
        """The styles named, in the order given; names no longer stored are left out."""
        by_name = {style.name: style for style in self.styles}
        return [by_name[name] for name in names if name in by_name]

    def put(self, style: Style) -> None:
        """Add a style, or replace the one of that name."""
        if style.name in self.names():
            self.styles = [style if s.name == style.name else s for s in self.styles]
        else:
            self.styles.append(style)
        self.save()

    def remove(self, name: str) -> None:
        self.styles = [s for s in self.styles if s.name != name]
        self.save()

    def import_file(self, path: Path) -> StylesRead:
        """Merge a styles.csv in (a style of the same name is replaced); returns what was read."""
        read = read_styles_file(path)
        if not read.styles and not read.problems and not path.exists():
            read.problems.append(f"{path.name} does not exist.")
        incoming = {style.name: style for style in read.styles}
        merged = [incoming.pop(s.name, s) for s in self.styles]
        self.styles = merged + list(incoming.values())
        if read.styles:
            self.save()
        return read

    def export_file(self, path: Path) -> Path:
        return write_atomic(path, styles_csv(self.styles))

    def save(self) -> None:
        write_atomic(self.path, styles_csv(self.styles))
