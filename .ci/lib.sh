# Sourced by the .ci scripts: where the checkout, the Python and the CI cache are.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CACHE="${GPT1_CI_CACHE:-$HOME/.cache/gpt1-ci}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
