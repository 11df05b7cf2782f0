#!/usr/bin/env bash
# Checks that every C++ source file is clang-formatted per the repository's .clang-format
# (STYLE.md "Build": Google base, 100 columns, checked in CI). Changes nothing; prints the files
# that need formatting and exits 1 if there are any. scripts/format fixes them.
#
# Usage: check_format.sh [--root <repo>] [--clang-format <binary>]
#
# Files: .h/.cpp known to git (tracked, plus new files not yet added unless .gitignore'd, so a
# check before committing sees them too) when <repo> is a git checkout; otherwise every .h/.cpp
# outside build trees and dot directories.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
clang_format="${CLANG_FORMAT:-clang-format}"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --clang-format) clang_format="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "check_format: unknown argument: $1" >&2; exit 2 ;;
  esac
done
cd "$root"
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "check_format: clang-format not found ($clang_format)" >&2
  exit 2
fi
if [ ! -f .clang-format ]; then
  echo "check_format: $root/.clang-format is missing" >&2
  exit 2
fi

# Prints the files to check, NUL-separated, relative to $root.
list_sources() {
  if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
    git ls-files -z --cached --others --exclude-standard -- '*.h' '*.cpp'
  else
    find . \( -name build -o -name 'build-*' -o -name '.?*' \) -prune -o \
      -type f \( -name '*.h' -o -name '*.cpp' \) -printf '%P\0'
  fi
}

checked=0
unformatted=()
while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue  # deleted in the work tree but still in the index
  checked=$((checked + 1))
  if ! "$clang_format" --style=file --dry-run --Werror "$file" >/dev/null 2>&1; then
    unformatted+=("$file")
  fi
done < <(list_sources | sort -z)

if [ "${#unformatted[@]}" -gt 0 ]; then
  echo "check_format: ${#unformatted[@]} of $checked file(s) need clang-format" \
    "($("$clang_format" --version | head -n1)):"
  printf '  %s\n' "${unformatted[@]}"
  echo "Fix with scripts/format (or: clang-format -i <file>)."
  exit 1
fi
echo "check_format: $checked file(s) formatted"
