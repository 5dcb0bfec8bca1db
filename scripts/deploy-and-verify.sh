#!/usr/bin/env bash
# Deploy VERSION to ENV, verify it, and roll back by itself if it fails: the handoff's entry
# point, kept as a thin wrapper over `redline deploy` (see docs/deploy.md).
#
#   scripts/deploy-and-verify.sh VERSION ENV [redline deploy options...]
#   scripts/deploy-and-verify.sh 1.4.2 prod --reason "ticket 42" --json
#
# Its exit code is redline's: 0 live, 1 nothing was switched, 3 deployed then rolled back,
# 4 the rollback failed or was refused, 6 locked, 7 a person must decide; 2 on a usage error.
# PYTHON names the interpreter redline is installed in (default: python3).
set -euo pipefail

usage() {
    echo "usage: $(basename "$0") VERSION ENV [redline deploy options...]" >&2
    echo "  runs: ${PYTHON:-python3} -m redline deploy VERSION --env ENV [options...]" >&2
    echo "  e.g.: $(basename "$0") 1.4.2 prod --reason \"ticket 42\"" >&2
}

if [[ $# -lt 2 || -z "$1" || -z "$2" || "$1" == -* || "$2" == -* ]]; then
    usage
    exit 2
fi

VERSION="$1"
ENV="$2"
shift 2
exec "${PYTHON:-python3}" -m redline deploy "$VERSION" --env "$ENV" "$@"
