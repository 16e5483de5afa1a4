#!/usr/bin/env bash
# docs/CLI.md is generated from the binary's --help (scripts/gen-cli-doc):
# regenerate it into a temporary file and compare. A difference means an
# option or its help text changed and the reference was not regenerated.
# Usage: cli_doc_current.sh BATCHTUNE SOURCE_DIR
set -uo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 BATCHTUNE SOURCE_DIR" >&2
  exit 2
fi
bt=$1
src=$2
tmp=$(mktemp /tmp/batchtune-cli-doc-XXXXXX)
trap 'rm -f "$tmp" "$tmp.diff"' EXIT
if ! "$src/scripts/gen-cli-doc" "$bt" "$tmp"; then
  echo "scripts/gen-cli-doc failed on $bt"
  exit 1
fi
if ! diff -u --label docs/CLI.md --label "gen-cli-doc's output" "$src/docs/CLI.md" "$tmp" >"$tmp.diff"; then
  echo "docs/CLI.md is stale: run scripts/gen-cli-doc build/dev/batchtune docs/CLI.md"
  cat "$tmp.diff"
  exit 1
fi
echo "ok: docs/CLI.md matches $(basename "$bt") --help"
