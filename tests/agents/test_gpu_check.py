"""The GPU check's dry run on the CPU: every phase measured, the generator synced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_measures_every_phase(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu"]
        + ["--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    kinds = [iteration["kind"] for iteration in report["iterations"]]
    assert kinds == ["self-play", "self-play", "reasoner-phase"]
    phases = {phase for it in report["iterations"] for phase in it["generation"]}
    assert phases == {"type_selection", "challenger", "reasoner"}
    for iteration in report["iterations"]:
        assert iteration["training"]["tokens"] > 0 and iteration["seconds"] > 0
    # the generator holds its own copy, and after the last sync it equals the trained weights
    assert report["model"]["generator_owns_weights"]
    assert report["generator_vs_trained_max_abs_diff"] == 0.0
    # float32 on both sides here: the log-probabilities agree to rounding
    assert report["logprob_gap"]["tokens"] > 0 and report["logprob_gap"]["mean_abs"] < 1e-3
    assert any(line.startswith("CUDA: absent") for line in report["skipped"])
