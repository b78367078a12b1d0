"""Corpus loading from every source kind, bad-row accounting, segmentation, sampling."""

import json

import numpy as np
import pytest

from spice_env.corpus import ArrowCorpus, CorpusError, Segmenter, StreamingCorpus, load_corpus

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
]


def text(n, seed=0):
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=n))


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def messy_jsonl(tmp_path):
    path = tmp_path / "messy.jsonl"
    lines = [
        json.dumps({"text": text(50, 1), "id": "good-1"}).encode(),
        b'{"text": "broken json',
        json.dumps({"text": "", "id": "empty"}).encode(),
        json.dumps({"text": 123, "id": "number"}).encode(),
        json.dumps({"body": "no text field", "id": "missing"}).encode(),
        json.dumps({"text": "too short", "id": "short"}).encode(),
        b'{"text": "\xff\xfe invalid utf8", "id": "bytes"}',
        json.dumps(["not", "an", "object"]).encode(),
        b"",
        json.dumps({"text": text(60, 2), "id": "good-2"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_rows_are_skipped_and_counted(messy_jsonl, cache):
    corpus = load_corpus(messy_jsonl, id_field="id", cache_dir=cache, progress=False)
    assert isinstance(corpus, ArrowCorpus)
    assert sorted(doc.id for doc in corpus) == ["good-1", "good-2"]
    assert corpus.stats.skipped == {
        "malformed": 1,
        "empty": 1,
        "not_text": 2,
        "missing_field": 1,
        "too_short": 1,
        "undecodable": 1,
    }
    assert corpus.stats.rows_read == 9 and corpus.stats.documents == 2


def test_cache_is_reused_and_invalidated_by_changes(messy_jsonl, cache):
    first = load_corpus(messy_jsonl, id_field="id", cache_dir=cache, progress=False)
    again = load_corpus(messy_jsonl, id_field="id", cache_dir=cache, progress=False)
    assert again.path == first.path and again.stats == first.stats
    other = load_corpus(messy_jsonl, id_field="id", cache_dir=cache, progress=False, min_words=55)
    assert other.path != first.path and len(other) == 1


def test_segments_respect_word_budget_and_keep_ids(tmp_path, cache):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"text": text(1000), "id": "long"}) + "\n")
    corpus = load_corpus(
        path, id_field="id", max_segment_tokens=100, cache_dir=cache, progress=False
    )
    budget = Segmenter(100).max_words
    docs = list(corpus)
    assert len(docs) == -(-1000 // budget)
    assert all(len(d.text.split()) <= budget for d in docs)
    assert [d.id for d in docs[:2]] == ["long#0", "long#1"] and docs[0].source_id == "long"
    assert " ".join(d.text for d in docs).split() == text(1000).split()


def test_segments_with_a_real_tokenizer(tmp_path, cache):
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        [text(200)], tokenizers.trainers.WordLevelTrainer(special_tokens=["[UNK]"])
    )
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    path = tmp_path / "tok.jsonl"
    path.write_text(json.dumps({"text": text(250)}) + "\n")
    corpus = load_corpus(
        path, tokenizer=hf_tok, max_segment_tokens=64, cache_dir=cache, progress=False, min_words=1
    )
    lengths = [len(hf_tok(d.text, add_special_tokens=False)["input_ids"]) for d in corpus]
    assert max(lengths) <= 64 and sum(lengths) == 250 and len(lengths) == 4


def test_folder_csv_parquet_sources(tmp_path, cache):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(text(40, 3))
    (folder / "sub" / "b.md").write_text(text(40, 4))
    (folder / "bad.txt").write_bytes(b"\xff\xfe\xfd" * 30)
    (folder / "ignored.bin").write_bytes(b"x")
    corpus = load_corpus(folder, cache_dir=cache, progress=False)
    assert sorted(d.id for d in corpus) == ["a.txt", "sub/b.md"]
    assert corpus.stats.skipped == {"undecodable": 1}

    csv_path = tmp_path / "c.csv"
    csv_path.write_text('id,body\nx1,"' + text(30, 5) + '"\nx2,short\n')
    corpus = load_corpus(
        csv_path, text_field="body", id_field="id", cache_dir=cache, progress=False
    )
    assert [d.id for d in corpus] == ["x1"] and corpus.stats.skipped == {"too_short": 1}

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"q": [text(25, 6), None], "a": [text(25, 7), "x"]}), pq_path)
    corpus = load_corpus(pq_path, text_field=["q", "a"], cache_dir=cache, progress=False)
    assert len(corpus) == 1 and corpus[0].text.count("\n\n") == 1
    assert corpus.stats.skipped == {"empty": 1}


def test_missing_path_and_unsupported_file(tmp_path, cache):
    with pytest.raises(FileNotFoundError, match="hf:"):
        load_corpus(tmp_path / "nope.jsonl", cache_dir=cache)
    bad = tmp_path / "x.docx"
    bad.write_text("x")
    # CorpusError (a ValueError) tells a command the user's corpus from a bug.
    with pytest.raises(CorpusError, match="supported"):
        load_corpus(bad, cache_dir=cache)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "short"}\n')
    with pytest.raises(CorpusError, match="no usable documents"):
        load_corpus(empty, cache_dir=cache, progress=False)
    with pytest.raises(CorpusError, match="holdout_fraction"):
        load_corpus(None, holdout_fraction=1.5)


def test_datasets_objects_and_hub_code_path(messy_jsonl, tmp_path, cache):
    datasets = pytest.importorskip("datasets")
    rows = [{"text": text(30, i), "id": f"d{i}"} for i in range(5)] + [{"text": None, "id": "n"}]
    ds = datasets.Dataset.from_list(rows)
    corpus = load_corpus(ds, id_field="id", cache_dir=cache, progress=False)
    assert len(corpus) == 5 and corpus.stats.skipped == {"empty": 1}

    stream = load_corpus(ds.to_iterable_dataset(), id_field="id", buffer_size=3)
    assert isinstance(stream, StreamingCorpus)
    rng = np.random.default_rng(0)
    seen = {stream.sample(rng).id for _ in range(10)}
    assert seen == {f"d{i}" for i in range(5)}  # wraps around epochs
    doc = stream.sample(rng)
    assert stream.get(doc.id) == doc
    with pytest.raises(KeyError, match="streaming"):
        stream.get("never-served")

    # the hub code path (datasets.load_dataset), pointed at a local file through the json builder
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows[:5]))
    hub = load_corpus(
        "hf:json", data_files=str(good), id_field="id", cache_dir=cache, progress=False
    )
    assert sorted(d.id for d in hub) == [f"d{i}" for i in range(5)]


def test_seeded_sampling_and_pinning(cache, tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(json.dumps({"text": text(25, i), "id": f"doc{i}"}) + "\n" for i in range(200))
    )
    corpus = load_corpus(path, id_field="id", cache_dir=cache, progress=False)
    a = [corpus.sample(np.random.default_rng(7)).id for _ in range(3)]
    b = [corpus.sample(np.random.default_rng(7)).id for _ in range(3)]
    assert a == b
    draws = [corpus.sample(np.random.default_rng(s)).id for s in range(100)]
    assert len(set(draws)) > 50  # uniform-ish, not stuck
    assert corpus.get("doc123").text == text(25, 123)
    with pytest.raises(KeyError):
        corpus.get("doc999")


def test_embedded_corpus_is_rich_and_varied():
    corpus = load_corpus()
    assert len(corpus) >= 60 and corpus.stats.skipped_total == 0
    docs = list(corpus)
    assert all(len(d.text.split()) >= 150 for d in docs)
    assert len({d.id.split("-")[0] for d in docs}) >= 6


def test_held_out_split_is_fixed_disjoint_and_never_drawn_by_training():
    import gymnasium as gym

    import spice_env
    from spice_env.corpus import is_held_out

    whole = load_corpus(None)
    train = load_corpus(None, holdout_fraction=0.25)
    holdout = load_corpus(None, holdout_fraction=0.25, part="holdout")
    train_ids, holdout_ids = {d.id for d in train}, {d.id for d in holdout}
    assert train_ids.isdisjoint(holdout_ids)
    assert train_ids | holdout_ids == {d.id for d in whole}
    assert 0.1 < len(holdout_ids) / len(whole) < 0.4
    # The split is a pure function of the source id: the same in every process and run.
    assert all(is_held_out(d.source_id, 0.25) for d in holdout)
    # Training draws (through the env) never reach a held-out document, and cannot pin one.
    env = gym.make(spice_env.ENV_ID, corpus_config={"holdout_fraction": 0.25})
    drawn = {env.reset(seed=seed)[1]["document_id"] for seed in range(300)}
    assert drawn <= train_ids and len(drawn) > len(train_ids) // 2
    with pytest.raises(KeyError, match="not in the train part"):
        env.reset(options={"document_id": sorted(holdout_ids)[0]})
    rng = np.random.default_rng(0)
    assert {holdout.sample(rng).id for _ in range(200)} <= holdout_ids
