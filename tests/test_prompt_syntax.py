"""The prompt parser against AUTOMATIC1111's own documented examples (its wiki's Features page:
attention/emphasis, prompt editing, alternating words, BREAK)."""

from __future__ import annotations

import pytest

from studio.engine.prompting.syntax import Fragment, parse_prompt


def weights(prompt: str, step: int = 1, steps: int = 1) -> list[tuple[str, float]]:
    segments = parse_prompt(prompt).at_step(step, steps)
    return [(f.text, round(f.weight, 4)) for segment in segments for f in segment]


def text(prompt: str, step: int, steps: int) -> str:
    return " | ".join("".join(f.text for f in s) for s in parse_prompt(prompt).at_step(step, steps))


@pytest.mark.parametrize(("prompt", "expected"), [
    ("a (word)", [("a ", 1.0), ("word", 1.1)]),
    ("a ((word))", [("a ", 1.0), ("word", 1.21)]),
    ("a [word]", [("a ", 1.0), ("word", round(1 / 1.1, 4))]),
    ("a (word:1.5)", [("a ", 1.0), ("word", 1.5)]),
    ("a (word:0.25)", [("a ", 1.0), ("word", 0.25)]),
    (r"a \(word\)", [("a (word)", 1.0)]),
    (r"anime_\(character\)", [("anime_(character)", 1.0)]),
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    (r"\(literal\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", [
        ("a ", 1.0), ("house", 1.573), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
        (", sun, ", 1.1), ("sky", 1.4641), (".", 1.1)]),
])
def test_attention_examples(prompt: str, expected: list[tuple[str, float]]) -> None:
    assert weights(prompt) == expected


def test_lone_closers_and_unreadable_colons_are_text() -> None:
    assert weights("a) b]") == [("a) b]", 1.0)]
    assert weights("(masterpiece:best)") == [("masterpiece:best", 1.1)]
    assert weights("[a:b]") == [("a:b", round(1 / 1.1, 4))]
    assert weights("ratio 3:2 | x") == [("ratio 3:2 | x", 1.0)]


def test_lora_tags_are_taken_out_first() -> None:
    parsed = parse_prompt("a (cat:1.2) <lora:ink:0.7>")
    assert [t.name for t in parsed.loras] == ["ink"]
    assert weights("a (cat:1.2) <lora:ink:0.7>") == [("a ", 1.0), ("cat", 1.2)]


def test_break_starts_a_new_segment_and_keeps_weights() -> None:
    segments = parse_prompt("a red circle BREAK (blue:1.3) background").at_step(1, 1)
    assert segments == ((Fragment("a red circle"),), (Fragment("blue", 1.3), Fragment(" background")))
    assert len(parse_prompt("(a BREAK b)").at_step(1, 1)) == 2
    assert weights("(a BREAK b)") == [("a", 1.1), ("b", 1.1)]
    assert len(parse_prompt("BREAKFAST").at_step(1, 1)) == 1  # only the whole word


def test_prompt_editing_switches_after_the_step() -> None:
    prompt = "a [fantasy:cyberpunk:16] landscape"
    assert text(prompt, 16, 20) == "a fantasy landscape"
    assert text(prompt, 17, 20) == "a cyberpunk landscape"
    assert parse_prompt(prompt).schedule(20) == [
        (16, ((Fragment("a fantasy landscape"),),)), (20, ((Fragment("a cyberpunk landscape"),),))]


def test_the_wiki_example_with_many_edits_at_100_steps() -> None:
    prompt = ("fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75]"
              "[ in foreground::0.6][ in background:0.25] [shoddy:masterful:0.5]")
    schedule = [(end, "".join(f.text for f in segs[0])) for end, segs in parse_prompt(prompt).schedule(100)]
    assert schedule == [
        (25, "fantasy landscape with a mountain and an oak in foreground shoddy"),
        (50, "fantasy landscape with a lake and an oak in foreground in background shoddy"),
        (60, "fantasy landscape with a lake and an oak in foreground in background masterful"),
        (75, "fantasy landscape with a lake and an oak in background masterful"),
        (100, "fantasy landscape with a lake and a christmas tree in background masterful"),
    ]


def test_add_and_remove_forms_and_fraction_zero() -> None:
    assert text("a [red :3]cat", 3, 10) == "a cat"
    assert text("a [red :3]cat", 4, 10) == "a red cat"
    assert text("a [red ::3]cat", 4, 10) == "a cat"
    assert text("[male:female:0.0] general", 1, 10) == "female general"


def test_nested_edit_inside_an_edit() -> None:
    prompt = "a [fantasy:[cyberpunk:steampunk:8]:4] city"
    assert [text(prompt, s, 10) for s in (4, 5, 9)] == [
        "a fantasy city", "a cyberpunk city", "a steampunk city"]


def test_alternation_switches_every_step() -> None:
    assert [text("[cow|horse] in a field", s, 4) for s in (1, 2, 3)] == [
        "cow in a field", "horse in a field", "cow in a field"]
    long = "[cow|cow|horse|man|siberian tiger|ox|man] in a field"
    assert text(long, 7, 10) == "man in a field"
    assert text(long, 8, 10) == "cow in a field"  # on step 8 the chain loops back
    assert len(parse_prompt("[cow|horse] x").schedule(6)) == 6


def test_weights_inside_edits_and_alternation_multiply() -> None:
    assert weights("((a [b:(c:1.5):1]))", 2, 2) == [("a ", 1.21), ("c", round(1.21 * 1.5, 4))]
    assert weights("([red|(blue)] sky)", 2, 4) == [("blue", 1.21), (" sky", 1.1)]


def test_plain_prompts_have_no_syntax() -> None:
    assert not parse_prompt("a red circle on a blue background").has_syntax
    assert not parse_prompt(r"a \(red\) circle").has_syntax
    assert parse_prompt("a (red) circle").has_syntax
    assert parse_prompt("a BREAK b").has_syntax
    assert parse_prompt("[a|b]").is_scheduled
    assert parse_prompt("a [red:blue:0.5] (circle:1.2)").plain_text() == "a red circle"
