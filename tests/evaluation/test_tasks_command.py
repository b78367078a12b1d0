"""``spice tasks``: a fixed task set from held-out documents, evaluated with ``spice eval``."""

from __future__ import annotations

import json
from collections import Counter

from spice_env import cli, load_corpus
from spice_env.commands.tasks import shuffle_options


def test_a_held_out_task_set_is_written_and_evaluated(tmp_path):
    out = tmp_path / "heldout.jsonl"
    code = cli.main(
        [
            "tasks",
            "--challengers",
            "scripted",
            "--holdout-fraction",
            "0.3",
            "--documents",
            "10",
            "--attempts",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    held_out = {d.id for d in load_corpus(None, holdout_fraction=0.3, part="holdout")}
    assert rows and {r["document_id"] for r in rows} <= held_out
    assert all(r["writer"] == "scripted" and r["id"].startswith("scripted-") for r in rows)
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["challengers"]["scripted"]["kept"] == len(rows)

    # The oracle scores 100% on the set, a one-letter Reasoner near chance on its MCQs.
    assert cli.main(
        ["eval", "--policy", "oracle", "--benchmarks", f"spice_tasks={out}",
         "--out", str(tmp_path / "oracle"), "--no-progress", "--no-plot"]
    ) == 0  # fmt: skip
    report = json.loads((tmp_path / "oracle" / "results.json").read_text())
    assert report["benchmarks"]["spice_tasks"]["score"] == 1.0
    assert report["benchmarks"]["spice_tasks"]["items"] == len(rows)


def test_written_options_carry_no_letter_prior():
    task = {"question": "q", "answer": "A", "options": ["w", "x", "y", "z"]}
    letters = Counter(shuffle_options(task, seed)["answer"] for seed in range(400))
    assert set(letters) == set("ABCD") and min(letters.values()) > 60
    shuffled = shuffle_options(task, 7)
    assert shuffled["options"]["ABCD".index(shuffled["answer"])] == "w"
    free = {"question": "q", "answer": "12", "options": None}
    assert shuffle_options(free, 0) == free
