#!/usr/bin/env bash
# Builds the mcia-gym wheel into dist/ with maturin.
#
# The extension is compiled against the stable ABI (pyo3's `abi3-py39` feature in Cargo.toml), so the one
# wheel, tagged cp39-abi3, installs on every CPython >= 3.9 of this platform, with no Rust toolchain needed
# where it is installed. Building it needs Rust (cargo) and maturin; maturin is installed into the active
# virtual environment if it is missing (or into ./.venv, created if needed, when none is active).
#
#   bash scripts/build_wheel.sh              # build; prints the wheel's path
#   bash scripts/build_wheel.sh --if-stale   # build only if dist/ has no wheel for the current sources
#   bash scripts/build_wheel.sh --sdist      # other arguments go to `maturin build`
#
# dist/ keeps one mcia-gym wheel: older ones are removed before a build. dist/.mcia_gym-sources records a hash
# of the sources the wheel was built from (src/, python/, Cargo.toml, Cargo.lock, pyproject.toml, README.md),
# which is what --if-stale (and scripts/test_wheel.sh) compare against.
#
# The build reuses target/ (also the release build left by `pip install -e .`), so it takes seconds after the
# first time; a first build compiles the crate and its dependencies in release mode (fat LTO, one codegen unit):
# about 1 minute on an idle 2-core machine, about 2 on a shared one.
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_REQ=">=1.9,<2"   # the build-system requirement in pyproject.toml
STAMP=dist/.mcia_gym-sources

if_stale=0
args=()
for a in "$@"; do
    if [ "$a" = "--if-stale" ]; then if_stale=1; else args+=("$a"); fi
done

say() { printf 'build_wheel: %s\n' "$*" >&2; }

pick_python() {
    if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then echo "$VIRTUAL_ENV/bin/python"
    elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/Scripts/python.exe" ]; then echo "$VIRTUAL_ENV/Scripts/python.exe"
    elif command -v python3 >/dev/null 2>&1; then command -v python3
    else command -v python
    fi
}
PY=$(pick_python)

# Hash of everything that goes into the wheel (file names and contents), skipping build products.
source_hash() {
    "$PY" - <<'PYEOF'
import hashlib, os
h = hashlib.sha256()
roots = ["src", "python", "Cargo.toml", "Cargo.lock", "pyproject.toml", "README.md"]
roots += sorted(f for f in os.listdir(".") if f.upper().startswith(("LICENSE", "LICENCE", "COPYING")))
skip_suffix = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo")
files = []
for r in roots:
    if os.path.isfile(r):
        files.append(r)
    for d, dirs, names in os.walk(r):
        dirs[:] = sorted(x for x in dirs if not x.startswith(".") and x != "__pycache__" and not x.endswith(".egg-info"))
        files += [os.path.join(d, n) for n in names if not n.startswith(".") and not n.endswith(skip_suffix)]
for f in sorted(files):
    h.update(f.replace(os.sep, "/").encode() + b"\0")
    with open(f, "rb") as fh:
        h.update(hashlib.sha256(fh.read()).digest())
print(h.hexdigest())
PYEOF
}

before=$(source_hash)

if [ "$if_stale" = 1 ] && [ -f "$STAMP" ]; then
    read -r stamp_hash stamp_wheel < "$STAMP" || true
    if [ "${stamp_hash:-}" = "$before" ] && [ -n "${stamp_wheel:-}" ] && [ -f "dist/$stamp_wheel" ]; then
        say "dist/$stamp_wheel is up to date with the sources"
        echo "dist/$stamp_wheel"
        exit 0
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        say "building needs a Rust toolchain (cargo; https://rustup.rs). To install without Rust, use a"
        say "prebuilt wheel instead (built on a machine with Rust, or from the release workflow's artifacts)."
        exit 1
    fi
fi

# maturin: use one on PATH if its version fits, otherwise install it into the active venv (or ./.venv).
maturin_ok() {
    local v
    v=$(maturin --version 2>/dev/null | awk '{print $2}') || return 1
    [ -n "$v" ] || return 1
    "$PY" -c "import sys; v = tuple(int(x) for x in sys.argv[1].split('.')[:2]); sys.exit(0 if (1, 9) <= v < (2, 0) else 1)" "$v"
}
if ! maturin_ok; then
    if [ -z "${VIRTUAL_ENV:-}" ]; then
        [ -d .venv ] || { say "no virtual environment active: creating ./.venv for maturin"; "$PY" -m venv .venv; }
        # shellcheck disable=SC1091
        if [ -f .venv/bin/activate ]; then . .venv/bin/activate; else . .venv/Scripts/activate; fi
        PY=$(pick_python)
    fi
    say "installing maturin$MATURIN_REQ into $VIRTUAL_ENV"
    "$PY" -m pip install --quiet "maturin$MATURIN_REQ"
    hash -r
    maturin_ok || { say "maturin$MATURIN_REQ is not usable after installing it"; exit 1; }
fi

mkdir -p dist
rm -f dist/mcia_gym-*.whl "$STAMP"
say "$(maturin --version), $(cargo --version)"
start=$(date +%s)
maturin build --release --out dist ${args[@]+"${args[@]}"} >&2
wheel=$(ls -t dist/mcia_gym-*.whl | head -n 1)
say "built in $(( $(date +%s) - start )) s"

after=$(source_hash)
if [ "$before" = "$after" ]; then
    printf '%s %s\n' "$before" "$(basename "$wheel")" > "$STAMP"
else
    say "warning: the sources changed during the build; the wheel may not match them (not recorded as current)"
fi

case "$wheel" in
    *-abi3-*) ;;
    *) say "warning: $wheel is not an abi3 wheel (check pyo3's abi3 feature in Cargo.toml)" ;;
esac
say "wheel: $wheel"
say "install it (no Rust needed) with: pip install $wheel"
echo "$wheel"
