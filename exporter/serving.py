"""Recognising model-serving pods (vLLM, SGLang, TGI, ...) and the model they serve, from the spec.

Pure functions over plain data: an image reference, the container's command + args, its
environment and the pod's labels. Nothing here talks to the Kubernetes API.

Model names are normalised so the same model reads the same whatever the source: the last path
component of the model reference (Hugging Face id, local path or URI), lowercased, with a
trailing slash or a ``.git`` suffix removed: ``meta-llama/Llama-2-7b-chat-hf`` →
``llama-2-7b-chat-hf``; ``/mnt/models/Qwen2-7B/`` → ``qwen2-7b``; ``llama3:8b`` (Ollama) stays
``llama3:8b``. When the model is a local directory and the server is given
``--served-model-name``, the served name is used instead (KServe mounts every model at
``/mnt/models``, so the path says nothing). A recognised server whose model cannot be read
reports ``unknown``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

UNKNOWN_MODEL = "unknown"

# model_type values
VLLM = "vllm"
SGLANG = "sglang"
TGI = "tgi"
TRITON = "triton"
TENSORRT_LLM = "tensorrt-llm"
OLLAMA = "ollama"
NIM = "nim"
KSERVE = "kserve"

# Label values (app.kubernetes.io/name, app) that name a serving stack.
_TYPE_BY_LABEL_VALUE = {
    "vllm": VLLM,
    "vllm-openai": VLLM,
    "sglang": SGLANG,
    "tgi": TGI,
    "text-generation-inference": TGI,
    "triton": TRITON,
    "tritonserver": TRITON,
    "triton-inference-server": TRITON,
    "tensorrt-llm": TENSORRT_LLM,
    "trtllm": TENSORRT_LLM,
    "ollama": OLLAMA,
    "nim": NIM,
}
_TYPE_LABEL_KEYS = ("app.kubernetes.io/name", "app")
_MODEL_LABEL_KEYS = ("model", "model-name", "model_name", "app.kubernetes.io/model")
_KSERVE_LABEL = "serving.kserve.io/inferenceservice"

# Options holding the model, per server, in order of preference. Names are compared with "_"
# and "-" treated alike (vLLM and KServe accept either spelling).
_MODEL_OPTIONS = {
    VLLM: ("--model",),
    SGLANG: ("--model-path", "--model"),
    TGI: ("--model-id",),
    TRITON: ("--load-model",),
    TENSORRT_LLM: ("--model", "--model-dir", "--engine-dir"),
    KSERVE: ("--model-id", "--model-dir"),
    OLLAMA: (),
    NIM: (),
}
_SERVED_NAME_OPTIONS = ("--served-model-name", "--model-name")
# Environment variables the servers themselves read for the model.
_MODEL_ENV = {TGI: ("MODEL_ID",), NIM: ("NIM_MODEL_NAME",)}
_SHELL_OPERATORS = frozenset({";", "&", "&&", "|", "||"})


def detect_model(
    image: str,
    command_args: Sequence[str],
    labels: Mapping[str, str],
    env: Mapping[str, str] | None = None,
) -> tuple[str, str] | None:
    """(model_type, model_name) for one container of a serving pod, or None for other pods.

    ``command_args`` is the container's ``command`` followed by its ``args``; shell strings
    (``sh -c "vllm serve ..."``) are split. The command is trusted over the image (a custom
    image running ``vllm serve`` is vLLM), the image over labels.
    """
    tokens = _tokens(command_args)
    env = env or {}
    image_type = _type_from_image(image)
    model_type = _type_from_command(tokens) or image_type or _type_from_labels(labels)
    if model_type == TRITON and image_type == TENSORRT_LLM:
        model_type = TENSORRT_LLM  # Triton's TRT-LLM image: the more specific answer
    if model_type is None:
        return None
    name = (
        _name_from_command(model_type, tokens)
        or _name_from_env(model_type, env)
        or _name_from_image(model_type, image)
        or _name_from_labels(labels)
    )
    return model_type, name or UNKNOWN_MODEL


def detect_pod_model(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """:func:`detect_model` over a Pod object as the Kubernetes API returns it (JSON shape).

    Containers are looked at in spec order, so sidecars (istio-proxy, log shippers) do not
    matter. Their command and image are asked first; pod labels only fill in a missing model
    name or, when no container is recognised, name the stack on their own.
    """
    metadata = pod.get("metadata") or {}
    labels: Mapping[str, str] = metadata.get("labels") or {}
    containers = [
        _container_inputs(container)
        for container in (pod.get("spec") or {}).get("containers") or ()
    ]
    for image, command_args, env in containers:
        found = detect_model(image, command_args, {}, env)
        if found is not None:
            if found[1] == UNKNOWN_MODEL and (label_name := _name_from_labels(labels)):
                return found[0], label_name
            return found
    if _type_from_labels(labels) is None:
        return None
    candidates = [detect_model(image, args, labels, env) for image, args, env in containers]
    named = [c for c in candidates if c is not None and c[1] != UNKNOWN_MODEL]
    if named:
        return named[0]
    return detect_model("", (), labels)


def _container_inputs(container: Mapping[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    command_args = [
        str(a) for a in (*(container.get("command") or ()), *(container.get("args") or ()))
    ]
    env = {
        str(item["name"]): item["value"]
        for item in container.get("env") or ()
        if "name" in item and isinstance(item.get("value"), str)
    }
    return str(container.get("image") or ""), command_args, env


def normalize_model_name(reference: str) -> str:
    """The last path component of a model reference, lowercased (see the module docstring)."""
    text = reference.strip().rstrip("/")
    if "://" in text:
        text = text.split("://", 1)[1]
    last = text.rsplit("/", 1)[-1]
    last = last.removesuffix(".git")
    return last.lower()


def _tokens(command_args: Iterable[str]) -> list[str]:
    tokens: list[str] = []
    for arg in command_args:
        if any(c.isspace() for c in arg) or ";" in arg or "&" in arg:
            try:
                lexer = shlex.shlex(arg, posix=True, punctuation_chars=";&|")
                lexer.whitespace_split = True
                tokens.extend(lexer)
            except ValueError:  # unbalanced quotes: fall back to plain whitespace
                tokens.extend(arg.split())
        else:
            tokens.append(arg)
    return tokens


def _basename(token: str) -> str:
    return token.rsplit("/", 1)[-1]


def _type_from_command(tokens: Sequence[str]) -> str | None:
    for i, token in enumerate(tokens):
        base = _basename(token)
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if base == "vllm" and following == "serve":
            return VLLM
        if token == "-m" and following.startswith("vllm.entrypoints"):
            return VLLM
        if token == "-m" and following.startswith("sglang.launch_server"):
            return SGLANG
        if base == "text-generation-launcher":
            return TGI
        if base in ("trtllm-serve", "trtllm-llmapi-launch"):
            return TENSORRT_LLM
        if base == "tritonserver":
            return TRITON
        if base == "ollama" and following in ("serve", "run", "pull"):
            return OLLAMA
    return None


def _image_parts(image: str) -> tuple[str, str, str]:
    """(registry, repository path, tag), lowercased; the registry is "" for Docker Hub."""
    ref = image.strip().lower().split("@", 1)[0]
    tag = ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1 :]
    parts = ref.split("/")
    registry = ""
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, parts = parts[0], parts[1:]
    return registry, "/".join(parts), tag


def _type_from_image(image: str) -> str | None:
    if not image:
        return None
    registry, path, tag = _image_parts(image)
    if registry == "nvcr.io" and path.startswith("nim/"):
        return NIM
    if "tritonserver" in path:
        return TENSORRT_LLM if "trtllm" in tag else TRITON
    if "tensorrt-llm" in path or "tensorrt_llm" in path:
        return TENSORRT_LLM
    if "text-generation-inference" in path:
        return TGI
    if "sglang" in path:
        return SGLANG
    if "vllm" in path:
        return VLLM
    if "ollama" in path:
        return OLLAMA
    if path in ("kserve/huggingfaceserver",):
        return KSERVE
    return None


def _type_from_labels(labels: Mapping[str, str]) -> str | None:
    for key in _TYPE_LABEL_KEYS:
        value = labels.get(key, "").lower()
        if value in _TYPE_BY_LABEL_VALUE:
            return _TYPE_BY_LABEL_VALUE[value]
    if _KSERVE_LABEL in labels:
        return KSERVE
    return None


def _option_key(name: str) -> str:
    return name.replace("_", "-")


def _option(tokens: Sequence[str], names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` present, as ``--opt value`` or ``--opt=value``."""
    wanted = {_option_key(n) for n in names}
    values: dict[str, str] = {}
    for i, token in enumerate(tokens):
        if not token.startswith("--"):
            continue
        key, sep, value = token.partition("=")
        key = _option_key(key)
        if key not in wanted or key in values:
            continue
        if sep:
            values[key] = value
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            values[key] = tokens[i + 1]
    for name in names:
        found = values.get(_option_key(name), "")
        if found.strip():
            return found
    return None


def _positional_after(
    tokens: Sequence[str], program: str, subcommands: Sequence[str], subcommand_required: bool
) -> str | None:
    """The first non-option word after ``program [subcommand]`` (``vllm serve <model>``)."""
    for i, token in enumerate(tokens):
        if _basename(token) != program:
            continue
        j = i + 1
        if j < len(tokens) and tokens[j] in subcommands:
            j += 1
        elif subcommand_required:
            continue
        if j < len(tokens) and not tokens[j].startswith("-") and tokens[j] not in _SHELL_OPERATORS:
            return tokens[j]
    return None


def _is_local_path(reference: str) -> bool:
    return reference.startswith(("/", "./", "../", "file://", "pvc://"))


def _name_from_command(model_type: str, tokens: Sequence[str]) -> str | None:
    reference: str | None = None
    if model_type == VLLM:
        reference = _positional_after(tokens, "vllm", ("serve",), True)
    elif model_type == TENSORRT_LLM:
        reference = _positional_after(tokens, "trtllm-serve", ("serve",), False)
    elif model_type == OLLAMA:
        reference = _positional_after(tokens, "ollama", ("run", "pull"), True)
    if reference is None:
        reference = _option(tokens, _MODEL_OPTIONS.get(model_type, ()))
    if reference is None and model_type == KSERVE:
        reference = _option(tokens, ("--model-name",))
    if reference is None:
        return None
    if _is_local_path(reference):
        served = _option(tokens, _SERVED_NAME_OPTIONS)
        if served:
            # --served-model-name may list several aliases; the first is the main one.
            return normalize_model_name(served.split(",")[0].split()[0])
    name = normalize_model_name(reference)
    return name or None


def _name_from_env(model_type: str, env: Mapping[str, str]) -> str | None:
    for key in _MODEL_ENV.get(model_type, ()):
        if env.get(key, "").strip():
            return normalize_model_name(env[key])
    return None


def _name_from_image(model_type: str, image: str) -> str | None:
    if model_type != NIM or not image:
        return None
    # NIM images are one per model: nvcr.io/nim/meta/llama3-8b-instruct:1.0.0.
    _, path, _ = _image_parts(image)
    return normalize_model_name(path) or None


def _name_from_labels(labels: Mapping[str, str]) -> str | None:
    for key in (*_MODEL_LABEL_KEYS, _KSERVE_LABEL):
        if labels.get(key, "").strip():
            return normalize_model_name(labels[key])
    return None
