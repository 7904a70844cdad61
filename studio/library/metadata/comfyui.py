"""ComfyUI: the `prompt` API graph (preferred) and the `workflow` UI graph (fallback).

The sampler node is found, then its positive and negative links are followed back to the
text encoders, through the conditioning nodes that commonly sit between them.
"""

from __future__ import annotations

from typing import Any

from studio.library.metadata.model import ImageMetadata, as_float, as_int, as_text

SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
_TEXT_KEYS = ("text", "text_g", "text_l", "string", "value", "prompt")
_MAX_DEPTH = 32

Graph = dict[str, dict[str, Any]]


def parse_prompt_graph(graph: object) -> ImageMetadata:
    """What a ComfyUI API graph (`prompt` chunk) says."""
    meta = ImageMetadata(source="ComfyUI")
    if not isinstance(graph, dict):
        meta.problems.append("The ComfyUI prompt is not a graph of nodes.")
        return meta
    nodes: Graph = {str(k): v for k, v in graph.items() if isinstance(v, dict)}
    sampler_id = _pick_sampler(nodes)
    if sampler_id is None:
        meta.problems.append("The ComfyUI graph has no sampler node Studio knows.")
        return meta
    sampler = nodes[sampler_id]
    inputs = _inputs(sampler)
    guider = _node(nodes, inputs.get("guider"))
    cond_source = _inputs(guider) if guider else inputs
    meta.prompt = _text(nodes, cond_source.get("positive"), "positive", 0)
    meta.negative_prompt = _text(nodes, cond_source.get("negative"), "negative", 0)
    meta.prompt = meta.prompt.strip() if meta.prompt is not None else None
    meta.negative_prompt = meta.negative_prompt.strip() if meta.negative_prompt else meta.negative_prompt
    if meta.prompt is None:
        meta.problems.append("Could not follow the sampler's positive input to a prompt.")
    noise = _node(nodes, inputs.get("noise"))
    seed_value = inputs.get("seed", inputs.get("noise_seed"))
    if noise is not None:
        seed_value = _inputs(noise).get("noise_seed")
    meta.seed = as_int(_value(nodes, seed_value, ("seed", "noise_seed", "value", "int")))
    meta.steps = as_int(_value(nodes, inputs.get("steps"), ("steps", "value", "int")))
    cfg = inputs.get("cfg", _inputs(guider).get("cfg") if guider else None)
    meta.guidance = as_float(_value(nodes, cfg, ("cfg", "value", "float")))
    sampler_name = as_text(_value(nodes, inputs.get("sampler_name"), ("sampler_name", "value")))
    schedule = as_text(_value(nodes, inputs.get("scheduler"), ("scheduler", "value"))) or ""
    select = _node(nodes, inputs.get("sampler"))
    if select is not None:
        sampler_name = as_text(_inputs(select).get("sampler_name"))
    sigmas = _node(nodes, inputs.get("sigmas"))
    if sigmas is not None:
        schedule = as_text(_inputs(sigmas).get("scheduler")) or schedule
        if meta.steps is None:
            meta.steps = as_int(_inputs(sigmas).get("steps"))
    if sampler_name:
        meta.sampler = sampler_name.removeprefix("sample_")
        meta.map_scheduler(schedule)
        if schedule:
            meta.extras["scheduler"] = schedule
    for key, label in (("seed", "seed"), ("steps", "steps"), ("guidance", "CFG scale")):
        if getattr(meta, key) is None:
            meta.problems.append(f"Could not find the {label} in the ComfyUI graph.")
    size = _latent_size(nodes, inputs.get("latent_image"))
    if size:
        meta.width, meta.height = size
    else:
        meta.problems.append("The image size is not in the graph (it may start from an image).")
    meta.model = _model_name(nodes, inputs.get("model") or (_inputs(guider).get("model") if guider else None))
    meta.build_request()
    return meta


def parse_workflow(workflow: object) -> ImageMetadata:
    """What a ComfyUI UI graph (`workflow` chunk) says: widget values by position."""
    meta = ImageMetadata(source="ComfyUI")
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        meta.problems.append("The ComfyUI workflow has no list of nodes.")
        return meta
    nodes = {n.get("id"): n for n in workflow["nodes"] if isinstance(n, dict)}
    links: dict[Any, Any] = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 5:
            links[link[0]] = link[1]  # link id -> source node id
    sampler = next((n for n in nodes.values() if n.get("type") in ("KSampler", "KSamplerAdvanced")), None)
    if sampler is None:
        meta.problems.append("The ComfyUI workflow has no KSampler node.")
        return meta

    def source_of(node: dict[str, Any], name: str) -> dict[str, Any] | None:
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and slot.get("name") == name:
                found = nodes.get(links.get(slot.get("link")))
                return found if isinstance(found, dict) else None
        return None

    def widget_text(node: dict[str, Any] | None) -> str | None:
        values = (node or {}).get("widgets_values") or []
        return next((v for v in values if isinstance(v, str)), None)

    meta.prompt = widget_text(source_of(sampler, "positive"))
    meta.negative_prompt = widget_text(source_of(sampler, "negative"))
    values = list(sampler.get("widgets_values") or [])
    if sampler.get("type") == "KSamplerAdvanced" and values:
        values = values[1:]  # add_noise comes first
    if len(values) > 1 and isinstance(values[1], str | bool):
        values.pop(1)  # "control after generate"
    if len(values) >= 5:
        meta.seed, meta.steps = as_int(values[0]), as_int(values[1])
        meta.guidance = as_float(values[2])
        meta.sampler = as_text(values[3])
        schedule = as_text(values[4]) or ""
        if meta.sampler:
            meta.sampler = meta.sampler.removeprefix("sample_")
            meta.map_scheduler(schedule)
    else:
        meta.problems.append("The KSampler's settings could not be read from the workflow.")
    latent = source_of(sampler, "latent_image")
    if latent and latent.get("type") == "EmptyLatentImage":
        sizes = latent.get("widgets_values") or []
        if len(sizes) >= 2:
            meta.width, meta.height = as_int(sizes[0]), as_int(sizes[1])
    loader = next((n for n in nodes.values() if "Checkpoint" in str(n.get("type"))), None)
    if loader:
        names = [v for v in loader.get("widgets_values") or [] if isinstance(v, str)]
        meta.model = next((v for v in names if not v.endswith(".yaml")), None)
    meta.problems.append("Read from the ComfyUI workflow (the prompt graph was missing or unreadable).")
    meta.build_request()
    return meta


def _pick_sampler(nodes: Graph) -> str | None:
    """The first-pass sampler: one whose latent does not come from another sampler."""
    ids = [k for k, v in nodes.items() if v.get("class_type") in SAMPLERS]
    ids.sort(key=lambda k: (len(k), k))
    for node_id in ids:
        latent = _inputs(nodes[node_id]).get("latent_image")
        source = _node(nodes, latent)
        if source is None or source.get("class_type") not in SAMPLERS:
            return node_id
    return ids[0] if ids else None


def _inputs(node: dict[str, Any] | None) -> dict[str, Any]:
    inputs = (node or {}).get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _is_link(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _node(nodes: Graph, link: object) -> dict[str, Any] | None:
    if not _is_link(link):
        return None
    assert isinstance(link, list)
    return nodes.get(str(link[0]))


def _value(nodes: Graph, value: object, keys: tuple[str, ...], depth: int = 0) -> object:
    """A widget value, following links to primitive nodes."""
    if not _is_link(value):
        return value
    node = _node(nodes, value)
    if node is None or depth > _MAX_DEPTH:
        return None
    inputs = _inputs(node)
    for key in keys:
        if key in inputs:
            return _value(nodes, inputs[key], keys, depth + 1)
    return None


def _text(nodes: Graph, link: object, role: str, depth: int) -> str | None:
    """The prompt text behind a conditioning link, joining combined conditionings."""
    if isinstance(link, str):
        return link
    node = _node(nodes, link)
    if node is None or depth > _MAX_DEPTH:
        return None
    inputs = _inputs(node)
    for key in _TEXT_KEYS:
        if key in inputs:
            value = inputs[key]
            if isinstance(value, str):
                return value
            if _is_link(value):
                found = _text(nodes, value, role, depth + 1)
                if found is not None:
                    return found
    # Conditioning nodes in between: follow the input for the same role, then any conditioning.
    assert isinstance(link, list)
    slot_role = ("positive", "negative")[link[1]] if link[1] in (0, 1) else role
    candidates = [slot_role, role, "conditioning", "conditioning_to", "conditioning_1"]
    texts: list[str] = []
    for key in candidates:
        if key in inputs:
            found = _text(nodes, inputs[key], role, depth + 1)
            if found is not None:
                texts.append(found)
                break
    for key in ("conditioning_from", "conditioning_2"):
        if key in inputs:
            found = _text(nodes, inputs[key], role, depth + 1)
            if found:
                texts.append(found)
    return ", ".join(t.strip() for t in texts) if texts else None


def _latent_size(nodes: Graph, link: object, depth: int = 0) -> tuple[int, int] | None:
    node = _node(nodes, link)
    if node is None or depth > _MAX_DEPTH:
        return None
    inputs = _inputs(node)
    width = as_int(_value(nodes, inputs.get("width"), ("width", "value", "int")))
    height = as_int(_value(nodes, inputs.get("height"), ("height", "value", "int")))
    if width and height and "Latent" in str(node.get("class_type")):
        return width, height
    for key in ("samples", "latent", "latent_image"):
        if key in inputs:
            return _latent_size(nodes, inputs[key], depth + 1)
    return None


def _model_name(nodes: Graph, link: object, depth: int = 0) -> str | None:
    node = _node(nodes, link)
    if node is None or depth > _MAX_DEPTH:
        return None
    inputs = _inputs(node)
    for key in ("ckpt_name", "unet_name", "model_name", "model_path"):
        if isinstance(inputs.get(key), str):
            return str(inputs[key])
    return _model_name(nodes, inputs.get("model"), depth + 1)
