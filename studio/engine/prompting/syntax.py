"""AUTOMATIC1111's prompt syntax read into a tree, and that tree rendered for one denoising step.

`(word)` multiplies the attention to `word` by 1.1, `[word]` divides it by 1.1, `(word:1.3)` sets
the factor, and nesting multiplies. `[from:to:when]`, `[to:when]` and `[from::when]` edit the
prompt at a step (`when` below 1 is a fraction of the steps, from 1 up a step number); `[a|b]`
alternates every step; `BREAK` starts a new chunk of the text encoder. `\\(` `\\)` `\\[` `\\]`
`\\:` `\\|` and `\\\\` stand for the character itself. `<lora:...>` tags are taken out first.

Where a bracket cannot be read as any of these, it degrades locally rather than failing the
whole prompt: an unclosed `(` or `[` weights the rest of the prompt, a lone `)` or `]` is text,
and `[a:b]` whose last part is not a number is a de-emphasis of the text `a:b`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.engine.prompting.lora_tags import BadLoraTag, LoraTag, extract_lora_tags

EMPHASIS = 1.1
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_TOKENS = re.compile(r"\\.|[()\[\]:|]|\\|[^\\()\[\]:|]+", re.DOTALL)
_MANY_STEPS = 10_000
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


@dataclass(frozen=True)
class Fragment:
    """A run of text with one attention weight."""

    text: str
    weight: float = 1.0


Segment = tuple[Fragment, ...]  # the text between two BREAKs


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Mark:
    """A `:` or `|` inside brackets, which splits the bracket's parts; elsewhere plain text."""

    char: str


@dataclass(frozen=True)
class _Break:
    pass


@dataclass(frozen=True)
class _Weighted:
    children: tuple[_Node, ...]
    factor: float


@dataclass(frozen=True)
class _Edit:
    before: tuple[_Node, ...]
    after: tuple[_Node, ...]
    when: float

    def switch_step(self, steps: int) -> int:
        """The last step that still uses `before`."""
        return min(steps, int(self.when * steps) if self.when < 1 else int(self.when))


@dataclass(frozen=True)
class _Alternate:
    options: tuple[tuple[_Node, ...], ...]


_Node = _Text | _Mark | _Break | _Weighted | _Edit | _Alternate


@dataclass(frozen=True)
class ParsedPrompt:
    """A prompt read once; `at_step` and `schedule` render it for a run of any length."""

    source: str
    loras: tuple[LoraTag, ...] = ()
    bad_loras: tuple[BadLoraTag, ...] = ()
    _nodes: tuple[_Node, ...] = field(default=(), repr=False)

    @property
    def is_scheduled(self) -> bool:
        """Whether the text changes during the run (prompt editing or alternation)."""
        return any(isinstance(n, (_Edit, _Alternate)) for n in _walk(self._nodes))

    @property
    def has_syntax(self) -> bool:
        """Whether anything but plain text is used: weights, edits, alternation or BREAK."""
        if self.is_scheduled:
            return True
        segments = self.at_step(1, 1)
        return len(segments) > 1 or any(f.weight != 1.0 for s in segments for f in s)

    def at_step(self, step: int, steps: int) -> tuple[Segment, ...]:
        """The prompt as the text encoder sees it at `step` (1-based) of `steps`: segments split
        at BREAK, each a run of fragments whose neighbours differ in weight."""
        out: list[list[Fragment]] = [[]]
        _render(self._nodes, 1.0, step, steps, out)
        return tuple(_merge(segment) for segment in out)

    def schedule(self, steps: int) -> list[tuple[int, tuple[Segment, ...]]]:
        """(last step, segments) for each stretch of steps with the same text, in order."""
        result: list[tuple[int, tuple[Segment, ...]]] = []
        for step in range(1, max(1, steps) + 1):
            segments = self.at_step(step, steps)
            if result and result[-1][1] == segments:
                result[-1] = (step, segments)
            else:
                result.append((step, segments))
        return result

    def plain_text(self) -> str:
        """The words of the first step without any syntax: what a model that takes text only
        is given."""
        first = self.at_step(1, _MANY_STEPS)  # so that a fraction has not switched yet
        return " ".join("".join(f.text for f in s).strip() for s in first).strip()


def parse_prompt(prompt: str) -> ParsedPrompt:
    """`prompt` read as AUTOMATIC1111 reads it; its LoRA tags are taken out first."""
    text, loras, bad = extract_lora_tags(prompt)
    tokens = [m.group(0) for m in _TOKENS.finditer(text)]
    nodes, _ = _sequence(tokens, 0, None)
    return ParsedPrompt(prompt, loras, bad, tuple(nodes))


def _sequence(tokens: list[str], i: int, closer: str | None) -> tuple[list[_Node], int]:
    """Nodes from tokens[i] up to `closer` (consumed) or the end; returns the index after."""
    nodes: list[_Node] = []
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == closer:
            return nodes, i
        if token == "(":
            inner, i = _sequence(tokens, i, ")")
            nodes.append(_round(inner))
        elif token == "[":
            inner, i = _sequence(tokens, i, "]")
            nodes.append(_square(inner))
        elif token in (":", "|"):
            nodes.append(_Mark(token) if closer else _Text(token))
        elif token in (")", "]"):
            nodes.append(_Text(token))  # nothing open to close: A1111 keeps it as text
        elif token.startswith("\\") and len(token) == 2 and token[1] in "()[]:|\\":
            nodes.append(_Text(token[1]))
        else:
            parts = _BREAK.split(token)
            for k, part in enumerate(parts):
                if k:
                    nodes.append(_Break())
                if part:
                    nodes.append(_Text(part))
    return nodes, i


def _round(inner: list[_Node]) -> _Node:
    """`(...)`: x1.1, or the factor after its last top-level colon."""
    if len(inner) >= 2 and inner[-2] == _Mark(":") and isinstance(inner[-1], _Text):
        number = inner[-1].text
        if _NUMBER.fullmatch(number):
            return _Weighted(_literal(inner[:-2]), float(number))
    return _Weighted(_literal(inner), EMPHASIS)


def _square(inner: list[_Node]) -> _Node:
    """`[...]`: alternation, prompt editing, or /1.1."""
    if _Mark("|") in inner:
        return _Alternate(tuple(_literal(part) for part in _split(inner, "|")))
    parts = _split(inner, ":")
    if len(parts) in (2, 3) and len(parts[-1]) == 1 and isinstance(parts[-1][0], _Text):
        when = parts[-1][0].text
        if _NUMBER.fullmatch(when) and float(when) >= 0:
            before = _literal(parts[0]) if len(parts) == 3 else ()
            after = _literal(parts[1] if len(parts) == 3 else parts[0])
            return _Edit(before, after, float(when))
    return _Weighted(_literal(inner), 1 / EMPHASIS)


def _split(nodes: list[_Node], char: str) -> list[list[_Node]]:
    parts: list[list[_Node]] = [[]]
    for node in nodes:
        if node == _Mark(char):
            parts.append([])
        else:
            parts[-1].append(node)
    return parts


def _literal(nodes: list[_Node]) -> tuple[_Node, ...]:
    """Marks that split nothing at this level are text again."""
    return tuple(_Text(n.char) if isinstance(n, _Mark) else n for n in nodes)


def _walk(nodes: tuple[_Node, ...]) -> list[_Node]:
    found: list[_Node] = []
    for node in nodes:
        found.append(node)
        if isinstance(node, _Weighted):
            found += _walk(node.children)
        elif isinstance(node, _Edit):
            found += _walk(node.before) + _walk(node.after)
        elif isinstance(node, _Alternate):
            for option in node.options:
                found += _walk(option)
    return found


def _render(nodes: tuple[_Node, ...], weight: float, step: int, steps: int, out: list[list[Fragment]]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out[-1].append(Fragment(node.text, weight))
        elif isinstance(node, _Mark):
            out[-1].append(Fragment(node.char, weight))
        elif isinstance(node, _Break):
            out.append([])
        elif isinstance(node, _Weighted):
            _render(node.children, weight * node.factor, step, steps, out)
        elif isinstance(node, _Edit):
            _render(node.before if step <= node.switch_step(steps) else node.after, weight, step, steps, out)
        else:
            _render(node.options[(step - 1) % len(node.options)], weight, step, steps, out)


def _merge(fragments: list[Fragment]) -> Segment:
    merged: list[Fragment] = []
    for fragment in fragments:
        if not fragment.text:
            continue
        if merged and merged[-1].weight == fragment.weight:
            merged[-1] = Fragment(merged[-1].text + fragment.text, fragment.weight)
        else:
            merged.append(fragment)
    return tuple(merged)
