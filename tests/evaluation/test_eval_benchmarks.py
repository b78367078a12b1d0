"""Benchmark adapters: gold readers, field mapping, local files and the `datasets` path."""

from __future__ import annotations

import pytest

from spice_env.evaluation import (
    Benchmark,
    DatasetSource,
    get_benchmark,
    list_benchmarks,
    load_items,
    register_benchmark,
)
from spice_env.evaluation.benchmarks import GOLD_READERS, parse_source
from tests.evaluation._helpers import EVAL_FILES, addition_rows, write_jsonl


@pytest.mark.parametrize(
    ("reader", "raw", "gold"),
    [
        ("plain", 27.0, "27"),
        ("plain", 2.5, "2.5"),
        ("plain", " 204 ", "204"),
        ("after_hashes", "So 3 + 4 = 7.\n#### 7", "7"),
        ("after_hashes", "Total is 1,200 dollars\n#### 1,200", "1200"),
        ("last_boxed", "First \\boxed{1}, finally \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("last_boxed", "the answer is $\\boxed{np.arcsin(10/13)}$", "arcsin(10/13)"),
        ("last_boxed", "no box here", ""),
        ("join_list", ["$69$", "$84$"], "69, 84"),
        ("join_list", ["$\\frac{1}{2 n+2}$"], "\\frac{1}{2 n+2}"),
        ("mcq_letter", 2, "C"),
        ("mcq_letter", "B", "B"),
        ("mcq_letter", "(d)", "D"),
        ("mcq_letter", "3", "D"),
        ("mcq_letter", 7, "H"),
        ("mcq_letter", 12, ""),
        ("mcq_letter", True, ""),
    ],
)
def test_gold_readers(reader, raw, gold):
    assert GOLD_READERS[reader](raw) == gold


def test_all_seven_shared_formats_are_registered():
    assert set(EVAL_FILES) <= set(list_benchmarks())
    assert get_benchmark("mmlu_stem").category == "general"
    assert get_benchmark("aime24").samples == 32
    assert get_benchmark("aime24").temperature == 0.6
    assert all(get_benchmark(n).samples == 1 for n in EVAL_FILES if n != "aime24")


def test_builtin_adapters_read_their_row_shapes():
    rows = {
        "math500": {
            "problem": "P",
            "solution": "S",
            "answer": "\\frac{1}{2}",
            "unique_id": "test/x/1.json",
        },
        "gsm8k": {"question": "Q", "answer": "work\n#### 18"},
        "aime24": {"id": 60, "problem": "P", "answer": "204"},
        "amc23": {"id": 0, "question": "Q", "answer": 27.0},
        "minerva_math": {"problem": "P", "solution": "so $\\boxed{1.6}$", "idx": 4},
        "olympiadbench": {"id": 9, "question": "Q", "final_answer": ["$2n$"], "context": None},
        "mmlu_stem": {"question": "Q", "choices": ["a", "b", "c", "d"], "answer": 1},
    }
    expected = {
        "math500": ("test/x/1.json", "\\frac{1}{2}", None),
        "gsm8k": ("0", "18", None),
        "aime24": ("60", "204", "Integer"),
        "amc23": ("0", "27", None),
        "minerva_math": ("4", "1.6", None),
        "olympiadbench": ("9", "2n", None),
        "mmlu_stem": ("0", "B", "MCQ"),
    }
    for name, row in rows.items():
        item = get_benchmark(name).item(row, 0)
        assert item is not None, name
        assert (item.id, item.gold, item.answer_type) == expected[name], name
    assert get_benchmark("mmlu_stem").item(rows["mmlu_stem"], 0).options == ("a", "b", "c", "d")


def test_olympiad_context_goes_before_the_question():
    row = {"id": 1, "question": "Find x.", "final_answer": ["3"], "context": "Let x = 3."}
    item = get_benchmark("olympiadbench").item(row, 0)
    assert item.question == "Let x = 3.\n\nFind x."


def test_rows_without_question_or_gold_are_skipped(tmp_path):
    path = write_jsonl(
        tmp_path / "gsm8k.jsonl",
        [
            {"question": "", "answer": "#### 1"},
            {"question": "Q"},
            {"question": "Q2", "answer": "#### 5"},
        ],
    )
    path.write_text(path.read_text() + "{torn line\n\n")
    items = load_items("gsm8k", path)
    assert [(i.question, i.gold) for i in items] == [("Q2", "5")]


def test_limit_and_duplicate_ids(tmp_path):
    rows = [{"id": 7, "problem": f"P{i}", "answer": str(i)} for i in range(5)]
    path = write_jsonl(tmp_path / "aime.jsonl", rows)
    items = load_items("aime24", path, limit=3)
    assert [i.id for i in items] == ["7", "7#1", "7#2"]


def test_data_dirs_lookup_and_missing_file(tmp_path):
    write_jsonl(tmp_path / "gsm8k.jsonl", addition_rows(3))
    assert len(load_items("gsm8k", data_dirs=[tmp_path])) == 3
    with pytest.raises(FileNotFoundError, match="no file for benchmark 'amc23'"):
        load_items("amc23", data_dirs=[tmp_path])


def test_a_custom_adapter_is_one_call(tmp_path):
    adapter = register_benchmark(
        Benchmark(
            "test_quiz",
            question="prompt",
            answer="target",
            answer_type="Integer",
            category="general",
        ),
        overwrite=True,
    )
    path = write_jsonl(tmp_path / "quiz.jsonl", [{"prompt": "2+2?", "target": 4}])
    (item,) = load_items("test_quiz", path)
    assert (item.question, item.gold, item.answer_type, item.benchmark) == (
        "2+2?",
        "4",
        "Integer",
        "test_quiz",
    )
    assert adapter.to_dict()["category"] == "general"
    with pytest.raises(ValueError, match="already registered"):
        register_benchmark(adapter)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gold_reader": "nope"}, "gold_reader"),
        ({"answer_type": "MCQ"}, "options=FIELD"),
        ({"category": "code"}, "category"),
        ({"samples": 4, "temperature": 0.0}, "set a temperature"),
    ],
)
def test_adapter_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Benchmark("bad", **kwargs)


def test_unknown_benchmark_lists_known_ones():
    with pytest.raises(ValueError, match=r"registered: .*gsm8k"):
        get_benchmark("nope")


def test_parse_source():
    assert parse_source("hf:openai/gsm8k:main@test") == DatasetSource(
        "openai/gsm8k", "main", "test"
    )
    assert parse_source("hf:HuggingFaceH4/MATH-500") == DatasetSource("HuggingFaceH4/MATH-500")
    assert str(parse_source("data/x.jsonl")) == "data/x.jsonl"
    with pytest.raises(ValueError):
        parse_source("hf:")


def test_hub_path_goes_through_datasets_load_dataset(tmp_path, monkeypatch):
    # The real `datasets.load_dataset` call of the hub path, fed a local file by its json builder.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    path = write_jsonl(tmp_path / "rows.jsonl", addition_rows(4))
    source = DatasetSource("json", split="train", data_files=str(path))
    items = load_items("gsm8k", source)
    assert [i.gold for i in items] == ["1", "4", "7", "10"]
    assert source.describe().startswith("hf:json@train")


def test_parquet_and_json_files_read_through_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets

    dataset = datasets.Dataset.from_list(addition_rows(3))
    dataset.to_parquet(str(tmp_path / "rows.parquet"))
    assert [i.gold for i in load_items("gsm8k", tmp_path / "rows.parquet")] == ["1", "4", "7"]
    with pytest.raises(ValueError, match="unknown format"):
        load_items("gsm8k", write_jsonl(tmp_path / "rows.txt", []))
