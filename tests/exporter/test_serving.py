"""Recognising model-serving containers and the model they serve, from image, args and labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from exporter.serving import detect_model, detect_pod_model, normalize_model_name

NO_LABELS: Mapping[str, str] = {}


@pytest.mark.parametrize(
    ("image", "command_args", "expected"),
    [
        # vLLM: the OpenAI image, the CLI, the module entry point, both option spellings.
        (
            "vllm/vllm-openai:v0.6.3",
            ["--model", "meta-llama/Llama-2-7b-chat-hf", "--tensor-parallel-size", "2"],
            ("vllm", "llama-2-7b-chat-hf"),
        ),
        (
            "vllm/vllm-openai:latest",
            ["--model=mistralai/Mistral-7B-Instruct-v0.3"],
            ("vllm", "mistral-7b-instruct-v0.3"),
        ),
        (
            "python:3.11",
            ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000"],
            ("vllm", "qwen2.5-7b-instruct"),
        ),
        (
            "registry.example.com/ml/llm-runtime:2",
            ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "facebook/opt-125m"],
            ("vllm", "opt-125m"),
        ),
        (
            "busybox",
            [
                "/bin/sh",
                "-c",
                "pip list && exec vllm serve meta-llama/Meta-Llama-3-8B --dtype auto",
            ],
            ("vllm", "meta-llama-3-8b"),
        ),
        (
            "vllm/vllm-openai:v0.6.3",
            ["--model", "/mnt/models", "--served-model-name", "llama3-chat", "alias2"],
            ("vllm", "llama3-chat"),
        ),
        ("vllm/vllm-openai@sha256:" + "0" * 64, [], ("vllm", "unknown")),
        # SGLang
        (
            "lmsysorg/sglang:v0.3.5-cu124",
            ["python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B"],
            ("sglang", "llama-3.1-8b"),
        ),
        (
            "docker.io/lmsysorg/sglang:latest",
            ["--model-path=/models/DeepSeek-V2-Lite/"],
            ("sglang", "deepseek-v2-lite"),
        ),
        # TGI
        (
            "ghcr.io/huggingface/text-generation-inference:2.4",
            ["--model-id", "bigscience/bloom-560m", "--num-shard", "1"],
            ("tgi", "bloom-560m"),
        ),
        # Triton and TensorRT-LLM
        (
            "nvcr.io/nvidia/tritonserver:24.08-py3",
            ["tritonserver", "--model-repository=/models", "--load-model=resnet50"],
            ("triton", "resnet50"),
        ),
        ("nvcr.io/nvidia/tritonserver:24.08-py3", ["tritonserver"], ("triton", "unknown")),
        (
            "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3",
            ["tritonserver", "--model-repository=/engines"],
            ("tensorrt-llm", "unknown"),
        ),
        (
            "nvcr.io/nvidia/tensorrt-llm/release:0.17.0",
            ["trtllm-serve", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "--port", "8000"],
            ("tensorrt-llm", "tinyllama-1.1b-chat-v1.0"),
        ),
        # Ollama
        ("ollama/ollama:0.3.12", ["ollama", "serve"], ("ollama", "unknown")),
        (
            "ollama/ollama:0.3.12",
            ["/bin/sh", "-c", "ollama serve & sleep 5; ollama pull llama3:8b; wait"],
            ("ollama", "llama3:8b"),
        ),
        # NIM: one image per model
        ("nvcr.io/nim/meta/llama3-8b-instruct:1.0.0", [], ("nim", "llama3-8b-instruct")),
        # Not serving
        ("busybox:1.36", ["sleep", "infinity"], None),
        ("nvcr.io/nvidia/pytorch:24.08-py3", ["python", "train.py", "--model", "resnet"], None),
        ("", [], None),
    ],
)
def test_containers_are_recognised(
    image: str, command_args: Sequence[str], expected: tuple[str, str] | None
) -> None:
    assert detect_model(image, command_args, NO_LABELS) == expected


def test_the_command_is_trusted_over_the_image() -> None:
    assert detect_model("lmsysorg/sglang:latest", ["vllm", "serve", "org/Model-X"], NO_LABELS) == (
        "vllm",
        "model-x",
    )


def test_server_environment_names_the_model() -> None:
    assert detect_model(
        "ghcr.io/huggingface/text-generation-inference:2.4",
        [],
        NO_LABELS,
        {"MODEL_ID": "HuggingFaceH4/zephyr-7b-beta"},
    ) == ("tgi", "zephyr-7b-beta")


def test_labels_name_the_stack_and_model_when_the_spec_does_not() -> None:
    labels = {"app.kubernetes.io/name": "vllm", "model": "Llama-2-13B"}
    assert detect_model("mycorp/llm:1", ["/start.sh"], labels) == ("vllm", "llama-2-13b")
    assert detect_model("mycorp/llm:1", [], {"app": "busybox"}) is None


def test_kserve_inference_services_are_recognised_by_label() -> None:
    labels = {"serving.kserve.io/inferenceservice": "llama3-isvc", "component": "predictor"}
    assert detect_model("kserve/custom-runtime:1", [], labels) == ("kserve", "llama3-isvc")
    assert detect_model(
        "kserve/huggingfaceserver:v0.14.0",
        ["--model_name=llama3", "--model_id=meta-llama/Meta-Llama-3-8B-Instruct"],
        labels,
    ) == ("kserve", "meta-llama-3-8b-instruct")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b-chat-hf"),
        ("/mnt/models/Qwen2-7B/", "qwen2-7b"),
        ("s3://bucket/models/Mixtral-8x7B", "mixtral-8x7b"),
        ("hf://google/gemma-2b", "gemma-2b"),
        ("https://huggingface.co/org/Model.git", "model"),
        ("llama3:8b", "llama3:8b"),
        ("GPT2", "gpt2"),
    ],
)
def test_model_names_are_normalised(reference: str, expected: str) -> None:
    assert normalize_model_name(reference) == expected


def pod_spec(containers: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": containers}}


def test_a_pod_is_recognised_whatever_the_position_of_its_serving_container() -> None:
    pod = pod_spec(
        [
            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0", "args": ["proxy"]},
            {
                "name": "server",
                "image": "vllm/vllm-openai:v0.6.3",
                "args": ["--model", "meta-llama/Llama-2-7b-chat-hf"],
            },
        ],
        {"app": "chat"},
    )
    assert detect_pod_model(pod) == ("vllm", "llama-2-7b-chat-hf")


def test_pod_labels_fill_in_only_what_the_containers_do_not_say() -> None:
    pod = pod_spec(
        [{"name": "ollama", "image": "ollama/ollama:0.3.12"}],
        {"app": "ollama", "model": "phi3"},
    )
    assert detect_pod_model(pod) == ("ollama", "phi3")
    by_label_only = pod_spec(
        [
            {"name": "sidecar", "image": "fluent/fluent-bit:3.0"},
            {"name": "server", "image": "mycorp/llm:1", "args": ["--model", "org/Falcon-7B"]},
        ],
        {"app.kubernetes.io/name": "vllm"},
    )
    assert detect_pod_model(by_label_only) == ("vllm", "falcon-7b")
    assert detect_pod_model(pod_spec([{"name": "x", "image": "nginx"}], {"app": "web"})) is None
    assert detect_pod_model({}) is None
