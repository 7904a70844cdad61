"""Prompt styles: templates, the styles.csv round trip with hostile rows, and the metadata they leave."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from studio.config.styles import Style, StyleStore, apply_styles, parse_styles_csv, styles_csv
from studio.engine.run.request import GenerationRequest
from studio.engine.run.styled import with_styles
from studio.library.metadata.reader import read_metadata
from studio.library.store import save_image


def test_placeholder_is_replaced_and_a_template_without_one_is_appended() -> None:
    styles = [Style("oil", "an oil painting of {prompt}", "blurry"), Style("moody", "dark, moody", "{prompt}, bright")]
    prompt, negative = apply_styles(styles, "a red circle", "text")
    assert prompt == "an oil painting of a red circle, dark, moody"
    assert negative == "text, blurry, bright"
    assert apply_styles([Style("x", "", "")], "p", "") == ("p", "")


def test_styles_csv_round_trip_keeps_commas_quotes_and_newlines(tmp_path: Path) -> None:
    styles = [Style("a, b", 'say "hi", {prompt}', "line one\nline two"), Style("ünï", "", "neg")]
    text = styles_csv(styles)
    read = parse_styles_csv(text)
    assert read.styles == styles and read.problems == []
    store = StyleStore(tmp_path / "config" / "styles.csv")
    for style in styles:
        store.put(style)
    assert StyleStore(tmp_path / "config" / "styles.csv").styles == styles
    exported = store.export_file(tmp_path / "out.csv")
    assert parse_styles_csv(exported.read_text(encoding="utf-8")).styles == styles


def test_hostile_rows_are_reported_in_words_and_the_good_ones_kept(tmp_path: Path) -> None:
    text = (
        "\ufeffname,prompt,negative_prompt\r\n"
        "good,\"a, {prompt}\",bad\r\n"
        ",no name,\r\n"
        "too,many,fields,here\r\n"
        "good,again,\r\n"
        "\r\n"
        "last,\"{prompt}\nsecond line\",\r\n"
    )
    read = parse_styles_csv(text)
    assert [s.name for s in read.styles] == ["good", "last"]
    assert read.styles[1].prompt == "{prompt}\nsecond line"
    joined = " | ".join(read.problems)
    assert "Line 3: the style has no name" in joined
    assert "Line 4: has 4 fields but the header has 3" in joined
    assert "a second style named 'good'" in joined
    assert parse_styles_csv("title,body\nx,y\n").problems == [
        "The file has no 'name' column; expected the columns name, prompt, negative_prompt."
    ]
    (tmp_path / "bin.csv").write_bytes(b"name\n\xff\xfe")
    store = StyleStore(tmp_path / "styles.csv")
    assert store.import_file(tmp_path / "bin.csv").problems == ["bin.csv is not UTF-8 text."]
    assert store.styles == []


def test_a_style_is_applied_to_the_request_and_recorded_in_the_image(tmp_path: Path) -> None:
    request = with_styles(
        GenerationRequest(prompt="a red circle", negative_prompt="blur", seed=3),
        [Style("oil", "an oil painting of {prompt}", "ugly")],
    )
    assert request.prompt == "an oil painting of a red circle"
    path = save_image(Image.new("RGB", (64, 64)), request, tmp_path)
    with Image.open(path) as image:
        assert image.text["parameters"].startswith("an oil painting of a red circle\nNegative prompt: blur, ugly")
    import json

    with Image.open(path) as image:
        saved = json.loads(image.text["studio"])["request"]
    assert saved["styles"] == ["oil"] and saved["prompt_before_styles"] == "a red circle"
    assert saved["negative_before_styles"] == "blur"
    assert read_metadata(path).request == request
