"""LoRA tags as AUTOMATIC1111 reads them out of a prompt."""

from studio.engine.prompting.lora_tags import LoraTag, extract_lora_tags


def test_tags_are_taken_out_of_the_prompt_with_their_weights():
    text, tags, bad = extract_lora_tags("a castle, <lora:ink_style:0.8>, at dusk <lora:Moody Light>")
    assert text == "a castle, at dusk"
    assert tags == (LoraTag("ink_style", 0.8), LoraTag("Moody Light", 1.0))
    assert bad == ()


def test_text_encoder_weight_and_lyco_alias():
    _, tags, _ = extract_lora_tags("<lyco:grain:0.5:0.25> film")
    assert tags == (LoraTag("grain", 0.5, 0.25),)
    assert tags[0].text_encoder_weight == 0.25
    assert LoraTag("x", 0.7).text_encoder_weight == 0.7


def test_a_name_given_twice_keeps_the_last_weight():
    _, tags, _ = extract_lora_tags("<lora:a:0.2> cat <lora:A:0.9>")
    assert tags == (LoraTag("A", 0.9),)


def test_a_weight_that_is_not_a_number_is_reported():
    text, tags, bad = extract_lora_tags("cat <lora:a:lots>")
    assert text == "cat"
    assert tags == ()
    assert bad and "not a number" in bad[0].reason


def test_a_prompt_without_tags_is_unchanged():
    assert extract_lora_tags("(red:1.5) circle, [blue]") == ("(red:1.5) circle, [blue]", (), ())
