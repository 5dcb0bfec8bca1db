#!/bin/sh
# A team's own deploy script, as a command recipe runs it: ./deploy.sh VERSION TARGET_DIR
# Writes the version into TARGET_DIR/VERSION through a rename (so it is never half
# written) and appends what it did to TARGET_DIR/deploy.log.
set -eu
version="$1"
target="$2"
[ -n "$version" ] || { echo "deploy.sh: no version given" >&2; exit 2; }
mkdir -p "$target"
printf '%s\n' "$version" > "$target/VERSION.tmp"
mv "$target/VERSION.tmp" "$target/VERSION"
echo "deployed $version to ${REDLINE_ENV:-?}/${REDLINE_SERVICE:-?}" | tee -a "$target/deploy.log"
