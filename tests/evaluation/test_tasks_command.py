"""``spice tasks``: a fixed task set from held-out documents, evaluated with ``spice eval``."""

from __future__ import annotations

import json
from collections import Counter

from spice_env import cli, load_corpus
from spice_env.commands.tasks import shuffle_options, task_key


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


def _write_tasks(tmp_path, name, *extra):
    out = tmp_path / name
    args = ["tasks", "--challengers", "scripted", "scripted-computed", "--holdout-fraction",
            "0.3", "--documents", "10", "--attempts", "4", "--out", str(out), "--no-progress"]  # fmt: skip
    assert cli.main([*args, *extra]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return rows, json.loads(out.with_suffix(".summary.json").read_text())["challengers"]


def test_a_task_written_twice_is_kept_once(tmp_path):
    # The computed-cloze Challenger blanks the same computation on every attempt at a short
    # document, so four attempts write some tasks more than once.
    kept, stats = _write_tasks(tmp_path, "unique.jsonl")
    every, stats_every = _write_tasks(tmp_path, "every.jsonl", "--keep-duplicates")
    keys = [task_key(row) for row in kept]
    assert len(set(keys)) == len(keys)
    dropped = sum(s["duplicates"] for s in stats.values())
    assert dropped > 0 and len(every) == len(kept) + dropped
    assert {task_key(row) for row in every} == set(keys)
    assert [s["duplicates"] for s in stats_every.values()] == [
        s["duplicates"] for s in stats.values()
    ]
    assert sum(s["kept"] for s in stats.values()) == len(kept)


def test_the_same_task_is_one_key_whatever_its_option_order():
    task = {"task_type": "mcq", "question": "What is 2 + 2?", "answer": "B",
            "options": ["3", "4", "5", "6"]}  # fmt: skip
    assert task_key(shuffle_options(task, 3)) == task_key(task)
    assert task_key({**task, "question": "  what is 2 +  2?"}) == task_key(task)
    assert task_key({**task, "answer": "C"}) != task_key(task)
    free = {"task_type": "free_form", "question": "2 + 2 = ____", "answer": "4", "options": None}
    assert task_key(free) != task_key({**free, "answer": "5"})
