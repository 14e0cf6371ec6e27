#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a C++ source under the project's code folders is not clang-format clean
# (STYLE.md §7). Run by meson as the `format` test; prints the offending files.
set -eu
cd "$(dirname "$0")/../.."
files=$(find common svid attestors workload_api daemon cli tests bench fuzz \
  -name '*.cpp' -o -name '*.h' 2>/dev/null | sort)
bad=""
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad="$bad $f"
  fi
done
if [ -n "$bad" ]; then
  echo "not clang-format clean (run: clang-format -i FILE):$bad"
  exit 1
fi
echo "$(echo "$files" | wc -l) files clang-format clean"
