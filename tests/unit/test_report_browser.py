"""The report and the trace viewer in a real headless browser (Debian's chromium, installed by
``make setup``): charts load, filters change the rows shown, math is rendered by the bundled KaTeX,
and the viewer opens from disk with no server. Screenshots go to ``$SKYT1_SCREENSHOTS`` if set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import Browser, chromium
from report_run import make_run

from skyt1.report import build_report

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (make system installs it)")

READY = "document.body.dataset.ready === '1'"
ROWS = "document.querySelectorAll('article.problem').length"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run") / "run")
    paths = build_report(run, title="browser test")
    with Browser() as browser:
        yield paths, browser


def _shot(page, name: str) -> None:
    where = os.environ.get("SKYT1_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(str(Path(where) / name))


def _choose(page, select: str, value: str) -> None:
    page.eval(f"(() => {{ const s = document.getElementById('{select}'); s.value = {value!r}; "
              "s.dispatchEvent(new Event('change')); })()")
    page.wait(READY)


def test_report_shows_its_charts_and_renders_math(built):
    paths, browser = built
    page = browser.open(paths["html"].as_uri())
    page.wait("document.querySelector('li .katex')")  # the fixed/broken problems' math
    loaded = page.eval("[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
    assert dict(loaded) == {"accuracy.png": True, "tokens.png": True, "train_curves.png": True}
    assert page.eval("document.body.innerText.includes('Base against trained, by problem')")
    assert page.eval("document.querySelector('a[href^=\"viewer/index.html\"]') !== null")
    _shot(page, "report.png")


def test_viewer_filters_searches_and_renders_math_offline(built):
    paths, browser = built
    page = browser.open(paths["viewer"].as_uri())
    page.wait(READY)
    assert page.eval(ROWS) == 5  # the teacher's five problems
    assert page.eval("document.querySelectorAll('.question .katex').length") >= 5
    # filters: by source, then by fate; each changes the rows shown
    _choose(page, "source", "numina")
    assert page.eval(ROWS) == 3
    _choose(page, "fate", "dropped: duplicate_of")
    assert page.eval("[...document.querySelectorAll('article.problem')].map(a => a.dataset.id)") == ["numina/2"]
    assert page.eval("document.body.innerText.includes('dedup: duplicate of numina/1')")
    _choose(page, "source", "")
    _choose(page, "fate", "dropped: contaminated")
    assert page.eval("document.body.innerText.includes('contaminated: aime24 item aime24/7 (ngram, overlap 0.92)')")
    _choose(page, "fate", "")
    _choose(page, "verdict", "wrong")
    assert page.eval(ROWS) == 5  # every problem has one wrong sample
    _choose(page, "verdict", "")
    # search
    page.eval("(() => { const q = document.getElementById('q'); q.value = 'remainder'; "
              "q.dispatchEvent(new Event('input')); })()")
    page.wait("document.querySelectorAll('article.problem').length === 1")
    # a sample opened: thought and solution set apart, math rendered
    page.eval("document.querySelector('details.sample').open = true")
    page.wait("document.querySelector('.section.thought .katex')")
    assert page.eval("document.querySelectorAll('.section.solution').length") >= 1
    _shot(page, "viewer_search.png")
    # another view: an evaluation, reached from the report's link form
    page = browser.open(paths["viewer"].as_uri() + "#view=evaluation%3A%20trained%20%2F%20aime24&q=aime24%2F1")
    page.wait(READY)
    ids = page.eval("[...document.querySelectorAll('article.problem')].map(a => a.dataset.id)")
    assert "aime24/1" in ids and all(i.startswith("aime24/1") for i in ids)
    page.eval("(() => { const q = document.getElementById('q'); q.value = ''; "
              "q.dispatchEvent(new Event('input')); })()")
    page.wait("document.querySelectorAll('article.problem').length === 25")  # a page of 30
    assert page.eval("document.getElementById('status').textContent").startswith("problems 1-25 of 30")
    page.eval("document.getElementById('next').click()")
    page.wait("document.querySelectorAll('article.problem').length === 5")
    _shot(page, "viewer_eval.png")
