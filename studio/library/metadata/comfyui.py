"""ComfyUI: the `prompt` API graph (preferred) and the `workflow` UI graph (fallback).

The sampler node is found, then its positive and negative links are followed back to the
text encoders, through the conditioning nodes that commonly sit between them.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from studio.library.metadata.model import ImageMetadata, as_text

SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
_TEXT_KEYS = ("text", "text_g", "text_l", "string", "value", "prompt")
_MAX_DEPTH = 100  # links followed from the sampler; each node is visited once

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
    texts = _PromptTexts(nodes)
    meta.prompt = texts.text(cond_source.get("positive"), "positive")
    meta.negative_prompt = texts.text(cond_source.get("negative"), "negative")
    meta.prompt = meta.prompt.strip() if meta.prompt is not None else None
    meta.negative_prompt = meta.negative_prompt.strip() if meta.negative_prompt else meta.negative_prompt
    if meta.prompt is None:
        meta.problems.append("Could not follow the sampler's positive input to a prompt.")
    noise = _node(nodes, inputs.get("noise"))
    seed_value = inputs.get("seed", inputs.get("noise_seed"))
    if noise is not None:
        seed_value = _inputs(noise).get("noise_seed")
    meta.read_int("seed", _value(nodes, seed_value, ("seed", "noise_seed", "value", "int")))
    meta.read_int("steps", _value(nodes, inputs.get("steps"), ("steps", "value", "int")))
    cfg = inputs.get("cfg", _inputs(guider).get("cfg") if guider else None)
    meta.read_float("guidance", _value(nodes, cfg, ("cfg", "value", "float")))
    sampler_name = as_text(_value(nodes, inputs.get("sampler_name"), ("sampler_name", "value")))
    schedule = as_text(_value(nodes, inputs.get("scheduler"), ("scheduler", "value"))) or ""
    select = _node(nodes, inputs.get("sampler"))
    if select is not None:
        sampler_name = as_text(_inputs(select).get("sampler_name"))
    sigmas = _node(nodes, inputs.get("sigmas"))
    if sigmas is not None:
        schedule = as_text(_inputs(sigmas).get("scheduler")) or schedule
        if meta.steps is None:
            meta.read_int("steps", _inputs(sigmas).get("steps"))
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
        meta.read_int("width", size[0])
        meta.read_int("height", size[1])
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
    nodes = {n["id"]: n for n in workflow["nodes"] if isinstance(n, dict) and _is_id(n.get("id"))}
    links: dict[int | str, int | str] = {}
    raw_links = workflow.get("links")
    for link in raw_links if isinstance(raw_links, list) else []:
        if isinstance(link, list) and len(link) >= 5 and _is_id(link[0]) and _is_id(link[1]):
            links[link[0]] = link[1]  # link id -> source node id
    listed = [n for n in workflow["nodes"] if isinstance(n, dict)]
    sampler = next((n for n in listed if n.get("type") in ("KSampler", "KSamplerAdvanced")), None)
    if sampler is None:
        meta.problems.append("The ComfyUI workflow has no KSampler node.")
        return meta

    def source_of(node: dict[str, Any], name: str) -> dict[str, Any] | None:
        slots = node.get("inputs")
        for slot in slots if isinstance(slots, list) else []:
            if isinstance(slot, dict) and slot.get("name") == name:
                link = slot.get("link")
                source = links.get(link) if _is_id(link) else None
                found = nodes.get(source) if source is not None else None
                return found if isinstance(found, dict) else None
        return None

    def widget_text(node: dict[str, Any] | None) -> str | None:
        values = _widgets(node)
        return next((v for v in values if isinstance(v, str)), None)

    meta.prompt = widget_text(source_of(sampler, "positive"))
    meta.negative_prompt = widget_text(source_of(sampler, "negative"))
    values = list(_widgets(sampler))
    if sampler.get("type") == "KSamplerAdvanced" and values:
        values = values[1:]  # add_noise comes first
    if len(values) > 1 and isinstance(values[1], str | bool):
        values.pop(1)  # "control after generate"
    if len(values) >= 5:
        meta.read_int("seed", values[0])
        meta.read_int("steps", values[1])
        meta.read_float("guidance", values[2])
        meta.sampler = as_text(values[3])
        schedule = as_text(values[4]) or ""
        if meta.sampler:
            meta.sampler = meta.sampler.removeprefix("sample_")
            meta.map_scheduler(schedule)
    else:
        meta.problems.append("The KSampler's settings could not be read from the workflow.")
    latent = source_of(sampler, "latent_image")
    if latent and latent.get("type") == "EmptyLatentImage":
        sizes = _widgets(latent)
        if len(sizes) >= 2:
            meta.read_int("width", sizes[0])
            meta.read_int("height", sizes[1])
    loader = next((n for n in listed if "Checkpoint" in str(n.get("type"))), None)
    if loader:
        names = [v for v in _widgets(loader) if isinstance(v, str)]
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


def _widgets(node: dict[str, Any] | None) -> list[Any]:
    values = (node or {}).get("widgets_values")
    return values if isinstance(values, list) else []


def _is_id(value: object) -> TypeGuard[int | str]:
    """Node and link ids are numbers or text; anything else (a list) cannot be looked up."""
    return isinstance(value, int | str) and not isinstance(value, bool)


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


def _value(nodes: Graph, value: object, keys: tuple[str, ...]) -> object:
    """A widget value, following links through primitive nodes, each node once."""
    seen: set[str] = set()
    while _is_link(value):
        assert isinstance(value, list)
        node_id = str(value[0])
        node = nodes.get(node_id)
        if node is None or node_id in seen or len(seen) > _MAX_DEPTH:
            return None
        seen.add(node_id)
        inputs = _inputs(node)
        key = next((k for k in keys if k in inputs), None)
        if key is None:
            return None
        value = inputs[key]
    return value


class _PromptTexts:
    """The prompt texts behind conditioning links.

    Each (node, output slot, role) is worked out once and remembered, so an input shared by two
    branches (a diamond) costs one visit however deep the graph, and a cycle ends where it
    comes back. `visits` counts the nodes worked out.
    """

    def __init__(self, nodes: Graph) -> None:
        self.nodes = nodes
        self.visits = 0
        self._known: dict[tuple[str, object, str], tuple[str, ...] | None] = {}

    def text(self, link: object, role: str) -> str | None:
        parts = self._parts(link, role, 0)
        if parts is None:
            return None
        return ", ".join(part for part in parts if part)

    def _parts(self, link: object, role: str, depth: int) -> tuple[str, ...] | None:
        if isinstance(link, str):
            return (link.strip(),)
        if not _is_link(link) or depth > _MAX_DEPTH:
            return None
        assert isinstance(link, list)
        key = (str(link[0]), link[1], role)
        if key in self._known:
            return self._known[key]
        node = self.nodes.get(key[0])
        if node is None:
            return None
        self._known[key] = None  # a cycle back to this node finds nothing here
        self.visits += 1
        found = self._node_parts(node, link[1], role, depth)
        self._known[key] = found
        return found

    def _node_parts(self, node: dict[str, Any], slot: object, role: str, depth: int) -> tuple[str, ...] | None:
        inputs = _inputs(node)
        for key in _TEXT_KEYS:
            if key in inputs:
                value = inputs[key]
                if isinstance(value, str):
                    return (value.strip(),)
                if _is_link(value):
                    found = self._parts(value, role, depth + 1)
                    if found is not None:
                        return found
        # Conditioning nodes in between: follow the input for the same role, then any conditioning.
        slot_role = ("positive", "negative")[slot] if slot in (0, 1) else role
        parts: list[str] = []
        for key in (slot_role, role, "conditioning", "conditioning_to", "conditioning_1"):
            if key in inputs:
                found = self._parts(inputs[key], role, depth + 1)
                if found is not None:
                    parts.extend(found)
                    break
        for key in ("conditioning_from", "conditioning_2"):
            if key in inputs:
                parts.extend(self._parts(inputs[key], role, depth + 1) or ())
        return tuple(dict.fromkeys(parts)) if parts else None


def _latent_size(nodes: Graph, link: object) -> tuple[object, object] | None:
    """(width, height) of the latent a sampler starts from, as written; None if not found."""
    seen: set[str] = set()
    while _is_link(link):
        assert isinstance(link, list)
        node_id = str(link[0])
        node = nodes.get(node_id)
        if node is None or node_id in seen or len(seen) > _MAX_DEPTH:
            return None
        seen.add(node_id)
        inputs = _inputs(node)
        width = _value(nodes, inputs.get("width"), ("width", "value", "int"))
        height = _value(nodes, inputs.get("height"), ("height", "value", "int"))
        if width is not None and height is not None and "Latent" in str(node.get("class_type")):
            return width, height
        link = next((inputs[k] for k in ("samples", "latent", "latent_image") if k in inputs), None)
    return None


def _model_name(nodes: Graph, link: object) -> str | None:
    seen: set[str] = set()
    while _is_link(link):
        assert isinstance(link, list)
        node_id = str(link[0])
        node = nodes.get(node_id)
        if node is None or node_id in seen or len(seen) > _MAX_DEPTH:
            return None
        seen.add(node_id)
        inputs = _inputs(node)
        for key in ("ckpt_name", "unet_name", "model_name", "model_path"):
            if isinstance(inputs.get(key), str):
                return str(inputs[key])
        link = inputs.get("model")
    return None
