#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds lanyard_*.deb: copies the working tree's files (tracked, and untracked ones git does
# not ignore, so local changes are tested too) to a scratch tree, puts packaging/debian/ there
# as debian/, runs `dpkg-buildpackage -us -uc -b` and moves the results to OUT (build-deb/).
# DEB_BUILD_OPTIONS is passed through (e.g. nostrip, noopt, parallel=N).
# DEB_SOURCE=head builds the last commit instead (git archive HEAD): for a checkout where
# others have half-finished edits.
#
#   packaging/build-deb.sh [OUT]
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-build-deb}
case "$out" in /*) ;; *) out="$root/$out" ;; esac

./packaging/deps.sh
./packaging/deps.sh packaging

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
scratch="$out/tree"
src="$scratch/lanyard-$version"
rm -rf "$scratch"
mkdir -p "$src"
if [ "${DEB_SOURCE:-worktree}" = head ]; then
  git archive --format=tar HEAD | tar -xf - -C "$src"
else
  # A file deleted in the working tree but still in the index is skipped.
  git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$src"
fi
cp -a "$src/packaging/debian" "$src/debian"

start=$(date +%s)
# -J: parallel=N (the number of CPUs) unless DEB_BUILD_OPTIONS sets parallel itself.
(cd "$src" && dpkg-buildpackage -us -uc -b -Jauto)
end=$(date +%s)

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mv "$scratch"/*.deb "$scratch"/*.changes "$scratch"/*.buildinfo "$out"/
mv "$scratch"/*.ddeb "$out"/ 2>/dev/null || true
rm -rf "$scratch"
echo "build-deb: dpkg-buildpackage took $((end - start)) s; in $out:" $(cd "$out" && ls ./*.deb)
