#!/usr/bin/env bash
# Checks that the mcia-gym wheel installs and works on a machine without a Rust toolchain.
#
#   bash scripts/test_wheel.sh              # the wheel in dist/, (re)built first unless it is from the current sources
#   bash scripts/test_wheel.sh WHEEL        # a given wheel (e.g. one downloaded from the release workflow)
#
# It creates a fresh virtual environment in a temporary directory, installs the wheel there with every
# directory that holds `cargo` or `rustc` removed from PATH, CARGO_HOME / RUSTUP_HOME unset,
# MATURIN_NO_INSTALL_RUST=1 (maturin's source build otherwise downloads a Rust toolchain by itself) and binaries
# only, so a silent build from source would fail; the runtime dependencies (gymnasium, numpy, tqdm) come from
# PyPI. Then, outside the source tree, it steps `MCIA-v0`, steps an 8-env vector env and runs
# `mcia compare --episodes 1`.
#
# PYTHON selects the interpreter the fresh venv is made from (default: python3). Exit status 77 means that
# `python -m venv` is unavailable (nothing was tested).
#
# Building the wheel reuses target/: seconds when it is current; a first build compiles the crate in release mode
# (fat LTO), about 1 minute on an idle 2-core machine, about 2 on a shared one. Installing and the checks take
# 10-20 s more (the runtime dependencies come from pip's cache after the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
say() { printf 'test_wheel: %s\n' "$*" >&2; }
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 )) s"; }

if ! "$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1; then
    say "'$PYTHON -m venv' is unavailable (no venv / ensurepip module); nothing tested"
    exit 77
fi

if [ $# -ge 1 ]; then
    wheel=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
    [ -f "$wheel" ] || { say "no such wheel: $1"; exit 1; }
    case "$wheel" in *.whl) ;; *) say "not a wheel (.whl): $1"; exit 1 ;; esac
else
    wheel=$ROOT/$(bash scripts/build_wheel.sh --if-stale | tail -n 1)
fi
say "wheel: $wheel ($(elapsed))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcia-wheel-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$PYTHON" -m venv "$tmp/venv"
venv_bin=$tmp/venv/bin
[ -x "$venv_bin/python" ] || venv_bin=$tmp/venv/Scripts

# PATH without any directory that holds a Rust toolchain, the new venv first.
clean_path=$venv_bin
IFS=: read -r -a path_dirs <<< "$PATH"
for d in "${path_dirs[@]}"; do
    [ -n "$d" ] || continue
    case ":$clean_path:" in *":$d:"*) continue ;; esac
    if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/cargo.exe" ] || [ -e "$d/rustc.exe" ]; then
        case " ${dropped:-} " in *" $d "*) ;; *) say "PATH without $d (holds cargo/rustc)"; dropped="${dropped:-} $d" ;; esac
        continue
    fi
    clean_path=$clean_path:$d
done
norust() {
    env -u CARGO_HOME -u RUSTUP_HOME -u RUSTUP_TOOLCHAIN -u CARGO -u RUSTC -u CARGO_TARGET_DIR \
        -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u PYTHONSTARTUP \
        PATH="$clean_path" VIRTUAL_ENV="$tmp/venv" MCIA_CACHE_DIR="$tmp/cache" MATURIN_NO_INSTALL_RUST=1 "$@"
}
if (PATH=$clean_path; hash -r; command -v cargo || command -v rustc) >/dev/null 2>&1; then
    say "cargo/rustc still reachable on the stripped PATH"; exit 1
fi

say "installing into a fresh venv without Rust ($(elapsed))"
# --only-binary: nothing may be built from source, whatever is found on the index.
norust "$venv_bin/python" -m pip install --quiet --only-binary=:all: "$wheel"
norust "$venv_bin/python" -m pip check

cd "$tmp"   # away from the source tree, so only the installed package can be imported
say "single env step ($(elapsed))"
norust "$venv_bin/python" -c "import gymnasium as gym, mcia; env = gym.make('MCIA-v0'); env.reset(seed=0); env.step(env.action_space.sample())"

say "import location, vector env step ($(elapsed))"
norust "$venv_bin/python" - "$tmp/venv" <<'PYEOF'
import os, sys
import gymnasium as gym
import numpy as np
import mcia

venv = os.path.realpath(sys.argv[1])
for mod in (mcia, mcia._core):
    path = os.path.realpath(mod.__file__)
    assert path.startswith(venv + os.sep), f"{mod.__name__} imported from {path}, not from the fresh venv"
print("mcia", mcia.__version__, "from", os.path.dirname(os.path.realpath(mcia._core.__file__)))

envs = gym.make_vec("MCIA-v0", num_envs=8)
obs, info = envs.reset(seed=0)
obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
assert obs.shape[0] == 8 and reward.shape == (8,) and np.isfinite(reward).all(), (obs.shape, reward)
envs.close()
print("vector env:", type(envs.unwrapped).__name__, "obs", obs.shape, "reward", reward.shape)
PYEOF

say "mcia compare --episodes 1 ($(elapsed))"
norust "$venv_bin/mcia" compare --episodes 1 --quiet

say "ok: the wheel installs and runs without Rust ($(elapsed))"
