"""The progress bar every long stage shows: count, rate, tokens/s, elapsed time and ETA."""

import time

from skyt1.progress import progress


def test_bar_shows_count_rate_tokens_per_second_and_eta(monkeypatch, capsys):
    monkeypatch.setenv("SKYT1_PROGRESS", "1")
    with progress("generate 4 samples", 4, unit="samples") as bar:
        for _ in range(4):
            time.sleep(0.02)
            bar.advance(1, tokens=100)
    out = capsys.readouterr()
    shown = out.out + out.err
    assert "generate 4 samples" in shown and "4/4" in shown
    assert "samples/s" in shown and "tok/s" in shown and "ETA" in shown


def test_quiet_off_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("SKYT1_PROGRESS", raising=False)
    with progress("score 2", 2) as bar:
        bar.advance(2, tokens=5)
    out = capsys.readouterr()
    assert out.out == "" and out.err == "" and bar.tokens == 5
