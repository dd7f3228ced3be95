#!/usr/bin/env bash
# Default install: a pip virtualenv in .venv from envs/requirements.lock.
# Usage: bash envs/install.sh [--test|--lint]   (--lint adds make lint's linters; --test those and R and its packages for the
# reference tests, and Chromium for the report's browser test). Installs missing Debian
# packages with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_lint=0
[ "${1:-}" = "--test" ] && want_test=1 && want_lint=1
[ "${1:-}" = "--lint" ] && want_lint=1
PYTHON=${PYTHON:-python3}
VENV=.venv

apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "radsnake: please install the Debian packages: $*" >&2
        exit 1
    fi
    if [ -z "${RADSNAKE_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        export RADSNAKE_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PyRadiomics 3.0.1 has no wheel for Python 3.11: it compiles two C extensions.
command -v cc >/dev/null || apt_install build-essential
"$PYTHON" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
    || apt_install python3-dev
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || apt_install python3-venv

stamp=$VENV/.installed
if [ ! -f "$stamp" ] || [ envs/requirements.lock -nt "$stamp" ]; then
    [ -x $VENV/bin/python ] || "$PYTHON" -m venv $VENV
    pin() { grep -i "^$1==" envs/requirements.lock; }
    $VENV/bin/pip install -q --disable-pip-version-check "$(pin setuptools)" "$(pin wheel)" "$(pin numpy)" "$(pin versioneer)"
    # PyPI's pyradiomics 3.1.0 sdist has broken metadata, and 3.0.1's build needs the
    # numpy above at build time: hence the pin and no build isolation.
    $VENV/bin/pip install -q --disable-pip-version-check --no-build-isolation "$(pin pyradiomics)"
    $VENV/bin/pip install -q --disable-pip-version-check -r envs/requirements.lock
    touch "$stamp"
fi

if [ $want_lint = 1 ]; then
    # make lint's snakefmt and ruff, pinned with their dependencies.
    $VENV/bin/pip install -q --disable-pip-version-check --no-deps -r envs/requirements-lint.lock
fi

if [ $want_test = 1 ]; then
    # ComBat reference for tests/test_harmonise.py (test-only; pure Python, no dependencies).
    $VENV/bin/pip install -q --disable-pip-version-check --no-deps "neuroCombat==0.2.12"
    # Reference statistics come from R itself (pROC, rms, psych, brglm2), as reviewers recompute them.
    if ! command -v Rscript >/dev/null || ! Rscript -e 'library(pROC); library(rms); library(psych); library(brglm2); library(glmnet); library(riskRegression)' >/dev/null 2>&1; then
        apt_install r-base-core r-cran-proc r-cran-rms r-cran-psych r-cran-brglm2 r-cran-survival r-cran-glmnet r-cran-riskregression
    fi
    # tests/browser.py opens reports in Debian's headless Chromium (driven over the DevTools
    # protocol with websocket-client from the lock; nothing downloads a browser of its own).
    command -v chromium >/dev/null || apt_install chromium
    # tests/test_slurm.py starts a one-node SLURM cluster on localhost, which needs root:
    # without root the test skips (fails under CI), so there is nothing to install.
    if [ "$(id -u)" = 0 ]; then
        for tool in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/sbin/mungekey /usr/bin/sbatch; do
            if [ ! -x "$tool" ]; then
                apt_install slurm-wlm munge
                break
            fi
        done
    fi
fi
