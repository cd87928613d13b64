"""Chat templates that training can render examples with instead of the tokenizer's own.

``train.chat_template`` (and ``preference.chat_template``) is ``tokenizer`` (default: the
student's own template) or a bundled name:

- ``qwen25``: LLaMA-Factory's ``qwen25`` template, which Sky-T1-32B-Preview and -Flash were
  trained with (``template: qwen25`` in SkyThought's ``qwen2_full_sft.yaml`` and
  ``qwen2_full_simpo.yaml``). Unlike Qwen2.5's own template it ends an assistant turn with
  ``<|endoftext|>`` (LLaMA-Factory's ``replace_eos``), not ``<|im_end|>``; its default system
  prompt is Qwen's. File: ``data/chat_templates/qwen25.jinja`` (Apache-2.0, LlamaFactory team).

The chosen template is set on the tokenizer before the examples are tokenised, so the
end-of-turn token found from it (``skyt1.stages.trainer.end_of_turn_token``) becomes the EOS,
and the saved model carries the template it was trained with.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["CHAT_TEMPLATES", "chat_template_text", "use_chat_template"]

CHAT_TEMPLATES = {"qwen25": "qwen25.jinja"}


def chat_template_text(name: str) -> str | None:
    """The Jinja text of a bundled template; ``None`` for ``tokenizer`` (keep the tokenizer's).
    A ``ValueError`` lists the known names for anything else."""
    if name == "tokenizer":
        return None
    if name not in CHAT_TEMPLATES:
        raise ValueError(f"unknown chat template {name!r}; known: tokenizer, {', '.join(sorted(CHAT_TEMPLATES))}")
    return (resources.files("skyt1") / "data" / "chat_templates" / CHAT_TEMPLATES[name]).read_text(encoding="utf-8")


def use_chat_template(tokenizer, name: str):
    """Set the named template on ``tokenizer`` (``tokenizer``: leave it as it is); returns it."""
    text = chat_template_text(name)
    if text is not None:
        tokenizer.chat_template = text
    return tokenizer
