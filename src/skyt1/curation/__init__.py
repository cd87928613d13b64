"""Pure functions the ``curate`` stage composes, one module per concern:

- ``skyt1.curation.select``: rejection-sampling policies (``select``) and Sky-T1-32B-Flash
  preference pairs (``preference_pairs``);
- ``skyt1.curation.dedup``: ``normalize``, ``signature`` (MinHash in numpy), ``dedup_exact``,
  ``dedup_near``; ``skyt1.curation.lsh``: the streaming LSH (``Runs``, ``Bands``,
  ``NearIndex``, ``lsh_bands``); ``skyt1.curation.copies``: identical and near-copy traces of
  one problem (``sketch``, ``SampleDedup``);
- ``skyt1.curation.decontaminate``: ``Decontaminator``, ``decontaminate``,
  ``default_benchmarks``;
- ``skyt1.curation.thought``: the Sky-T1 markers, ``format_structural``, ``check_format``;
- ``skyt1.curation.export``: ``to_sharegpt``, ``to_messages``, ``write_exports``,
  ``SftWriter``, and the preference-pair exports (``write_preference_exports``), all streamed;
  ``skyt1.curation.card``: the dataset card and ``save_hf_dataset``;
- ``skyt1.curation.sources``: ``load_source``/``load_sources``/``source_task``: problems from
  JSONL, JSON, Parquet or hub datasets through a field mapping;
- ``skyt1.curation.difficulty``: AoPS 1-10 difficulty labels from an LLM (``rate_difficulty``,
  ``parse_rating``) and ``filter_difficulty``;
- ``skyt1.curation.mixture``: ``mix``, counts or shares per domain and/or source, seeded;
- ``skyt1.curation.stats``: ``TokenCounter``, ``filter_length``, ``describe``,
  ``token_histogram`` (PNG);
- the ``curate`` stage's machinery: ``skyt1.curation.steps`` and ``skyt1.curation.shaping``
  (the named steps), ``skyt1.curation.run`` (the source read in batches, the loop and its log),
  ``skyt1.curation.shards`` (MinHash and decontamination of a batch, here or as Ray tasks).

Import from the submodules (``from skyt1.curation.select import select``): the package does
not re-export, because two functions share their module's name (``select``, ``decontaminate``)
and a re-export would shadow the submodule attribute.

Every filter returns ``(kept, dropped)``; dropped rows are copies carrying ``drop_reason``, so
the stage can write them out and count them by reason. Heavy libraries (datasketch, datasets)
are imported inside the functions that need them.
"""

from collections.abc import Callable

__all__ = ["card", "copies", "decontaminate", "dedup", "difficulty", "export", "lsh", "mixture", "run", "select",
           "shaping", "shards", "sources", "stats", "steps", "thought", "partition"]


def partition(rows: list[dict], reason: Callable[[int, dict], str | None]) -> tuple[list[dict], list[dict]]:
    """``(kept, dropped)`` by ``reason(position, row)``: None keeps the row, a string drops a copy
    of it carrying that ``drop_reason``. Order is preserved."""
    kept, dropped = [], []
    for pos, row in enumerate(rows):
        why = reason(pos, row)
        if why is None:
            kept.append(row)
        else:
            dropped.append({**row, "drop_reason": why})
    return kept, dropped
