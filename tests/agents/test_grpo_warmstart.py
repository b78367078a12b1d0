"""The optional supervised warm start: scripted tasks from training documents as examples."""

from __future__ import annotations

import json
import re

import pytest
from agent_helpers import quiet_run
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer
from spice_agents.warmstart import build_examples, reasoner_target

from spice_env import load_corpus


def _trainer(tmp_path, **overrides):
    settings = quiet_run(
        tmp_path / "run",
        iterations=1,
        warm_start_reasoner_examples=12,
        warm_start_challenger_examples=8,
        warm_start_epochs=3,
        warm_start_learning_rate=3e-3,
    )
    settings.update(overrides)
    return GRPOTrainer(make_preset("cpu-tiny", **settings))


def test_examples_come_from_training_documents_in_the_policy_formats(tmp_path):
    trainer = _trainer(tmp_path, holdout_fraction=0.3)
    examples = build_examples(trainer)
    roles = [e.role for e in examples]
    assert roles.count("reasoner") == 12 and roles.count("challenger") == 8
    decode = trainer.tokenizer.decode
    answers = [decode(e.completion_ids, skip_special_tokens=True) for e in examples]
    prompts_of = [decode(e.prompt_ids) for e in examples]
    for answer, prompt, role in zip(answers, prompts_of, roles):
        if role != "reasoner":
            continue
        working, boxed = answer.split("The answer is \\boxed{")
        assert boxed.endswith("}.")
        # The working is the question's own words around the blank, never the document's:
        # every word of it but the answer filled in is in the prompt the Reasoner sees.
        gold = boxed[: -len("}.")]
        words = working.replace("...", " ").replace(f" is option {gold}.", " ").split()
        unseen = [w for w in words if w.strip(".,") not in prompt]
        assert len(unseen) <= 1, (answer, unseen)  # at most the filled-in blank
    for answer, role in zip(answers, roles):
        if role == "challenger":
            json.loads(answer)  # compact JSON of the stage's schema
    # Only training documents: no held-out document's text is in any prompt.
    held_out = [d.text[:60] for d in load_corpus(None, holdout_fraction=0.3, part="holdout")]
    prompts = [decode(e.prompt_ids) for e in examples if e.role == "challenger"]
    assert not any(text in prompt for text in held_out for prompt in prompts)


def test_the_warm_start_lowers_its_loss_and_leaves_a_checkpoint(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.train()
    result = json.loads((tmp_path / "run" / "warmstart.json").read_text())
    assert result["examples"] == {"reasoner": 12, "challenger": 8}
    assert result["loss_last_epoch"] < result["loss_first_epoch"]
    assert (tmp_path / "run" / "checkpoints" / "iter_000000").is_dir()


def test_the_reasoner_target_fills_the_blank_with_the_words_around_it():
    question = (
        "Which number fills the blank in this sentence: Therefore, in the end Bryan bought a "
        "total of 2 + 1 = ____ liters of milk at the shop on Monday?"
    )
    assert reasoner_target(question, None, "3") == (
        "... bought a total of 2 + 1 = 3 liters of milk at the shop. The answer is \\boxed{3}."
    )
    # Multiple choice: the option's text first, then its letter as this attempt shows it.
    assert reasoner_target(question, ["1", "250", "3", "1000"], "C") == (
        "... bought a total of 2 + 1 = 3 liters of milk at the shop. "
        "3 is option C. The answer is \\boxed{C}."
    )
    # What touches the blank keeps touching it.
    attached = "Which number fills the blank in this sentence: It costs $____*2 = $40?"
    assert reasoner_target(attached, None, "20").startswith("It costs $20*2 = $40.")


def test_the_reasoner_target_is_the_bare_answer_without_a_blank_or_a_known_letter():
    bare = "The answer is \\boxed{B}."
    assert reasoner_target("Which gas do plants take in?", ["O2", "CO2"], "B") == bare
    assert reasoner_target("Which number fills ____ here?", ["1", "2"], "E") == (
        "The answer is \\boxed{E}."
    )


def test_a_warm_start_alone_leaves_its_checkpoint_and_no_error(tmp_path):
    trainer = _trainer(tmp_path, iterations=0, plot=True)
    assert trainer.train() == []
    assert (tmp_path / "run" / "checkpoints" / "iter_000000").is_dir()
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_kl_reference_is_the_warm_started_model_also_after_a_resume(tmp_path):
    import torch

    trainer = _trainer(tmp_path, kl_coef=0.05, iterations=0, warm_start_challenger_examples=0)
    before = {k: v.clone() for k, v in trainer.reference.state_dict().items()}
    trainer.train()
    policy = trainer.accelerator.unwrap_model(trainer.model).state_dict()
    reference = trainer.reference.state_dict()
    # The warm start moved the policy, and the reference moved with it.
    assert any(not torch.equal(before[k], policy[k]) for k in policy)
    assert all(torch.equal(reference[k], policy[k]) for k in policy)

    # The saved reference does not make the run folder look like a model to `spice eval`:
    # the folder stands for its newest checkpoint, the warm-started model.
    from spice_env.evaluation.models import load_model_and_tokenizer

    loaded, _ = load_model_and_tokenizer(tmp_path / "run")
    assert all(torch.equal(loaded.state_dict()[k], policy[k]) for k in policy)
    # A resumed run (a new trainer built from the base model) anchors to the same weights.
    resumed = _trainer(tmp_path, kl_coef=0.05, iterations=1, warm_start_challenger_examples=0)
    assert any(not torch.equal(resumed.reference.state_dict()[k], policy[k]) for k in policy)
    resumed.train(resume=True)
    assert all(torch.equal(resumed.reference.state_dict()[k], policy[k]) for k in policy)


def test_a_computed_warm_start_teaches_only_blanks_the_question_computes(tmp_path):
    # Worked solutions written here, GSM8K-style: each has computed results ("3 x 4 = 12")
    # and numbers only the document gives ("It has 7 rooms").
    rows = [
        {
            "id": f"doc{i}",
            "text": (
                f"A farm has {i + 7} barns and a house with {i + 2} rooms. "
                f"Each barn holds {i + 3} cows, so the barns hold {i + 7} x {i + 3} = "
                f"{(i + 7) * (i + 3)} cows. Then {(i + 7) * (i + 3)} + {i + 2} = "
                f"{(i + 7) * (i + 3) + i + 2} is the answer the farmer wrote down. "
                f"The farmer is called Sam and the dog is called Rex."
            ),
        }
        for i in range(12)
    ]
    corpus = tmp_path / "solutions.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    common = dict(corpus=str(corpus), id_field="id", task_types=("free_form",))
    decode_gold = []
    for source in ("scripted", "scripted-computed"):
        trainer = _trainer(tmp_path / source, warm_start_challenger=source, **common)
        examples = [e for e in build_examples(trainer) if e.role == "reasoner"]
        decode = trainer.tokenizer.decode
        golds = []
        for example in examples:
            answer = decode(example.completion_ids, skip_special_tokens=True)
            working, gold = answer.rsplit("The answer is \\boxed{", 1)
            gold = gold[: -len("}.")]
            golds.append(gold)
            if source == "scripted-computed":
                # The filled-in working writes the computation right before the gold.
                assert re.search(r"\d\s*[-+x*/]\s*\d+\s*=\s*" + re.escape(gold) + r"\b", working)
        decode_gold.append(golds)
    any_blank, computed = decode_gold
    # The default source also blanks numbers and names only the document gives.
    assert any(not g.isdigit() or int(g) < 20 for g in any_blank)
    assert all(g.isdigit() and int(g) >= 21 for g in computed)


def test_an_unknown_warm_start_challenger_is_refused(tmp_path):
    with pytest.raises(ValueError, match="warm_start_challenger='oracle'"):
        _trainer(tmp_path, warm_start_challenger="oracle")
