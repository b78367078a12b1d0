"""The optional supervised warm start: scripted tasks from training documents as examples."""

from __future__ import annotations

import json

from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer
from spice_agents.warmstart import build_examples

from spice_env import load_corpus


def _trainer(tmp_path, **overrides):
    settings = dict(
        iterations=1,
        output_dir=str(tmp_path / "run"),
        progress=False,
        plot=False,
        save_final_model=False,
        checkpoint_every=0,
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
    assert all(
        a.startswith("The answer is \\boxed{") for a, r in zip(answers, roles) if r == "reasoner"
    )
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
