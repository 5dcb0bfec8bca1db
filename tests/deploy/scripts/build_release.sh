#!/bin/sh
# Populates a release directory the way a build would: ./build_release.sh VERSION
# (run inside the new release). Ships a default config/app.env and a log/ directory,
# which the release directory must replace with links to shared/.
set -eu
version="$1"
printf '%s\n' "$version" > VERSION
mkdir -p config log bin
printf 'APP_VERSION=%s\nDEFAULT=from-the-release\n' "$version" > config/app.env
printf 'release log of %s\n' "$version" > log/build.log
printf '#!/bin/sh\necho "serving %s"\n' "$version" > bin/app
chmod +x bin/app
echo "built $version in $(pwd)"
