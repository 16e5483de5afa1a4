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
# Another CLI11 lays the same options out differently (wrapping, defaults):
# then the options each command lists are compared, not the text.
version_of() { sed -n 's/^<!-- Laid out by CLI11 \(.*\) -->$/\1/p' "$1"; }
if [[ $(version_of "$src/docs/CLI.md") != "$(version_of "$tmp")" ]]; then
  options_of() {  # "command --option" for every option line of every command
    awk '/^## batchtune/ { cmd = $0 } /^  (-[a-zA-Z],)?--[a-z]/ { sub(/^  (-[a-zA-Z],)?/, ""); split($0, w, /[ =:]/); print cmd " " w[1] }' "$1" | sort -u
  }
  if ! diff -u --label docs/CLI.md --label "gen-cli-doc's output" <(options_of "$src/docs/CLI.md") <(options_of "$tmp") >"$tmp.diff"; then
    echo "docs/CLI.md lists other options than the binary: regenerate it with scripts/gen-cli-doc"
    cat "$tmp.diff"
    exit 1
  fi
  echo "ok: docs/CLI.md (CLI11 $(version_of "$src/docs/CLI.md")) lists the options $(basename "$bt") --help does" \
       "(CLI11 $(version_of "$tmp") lays them out differently: options compared, not text)"
  exit 0
fi
if ! diff -u --label docs/CLI.md --label "gen-cli-doc's output" "$src/docs/CLI.md" "$tmp" >"$tmp.diff"; then
  echo "docs/CLI.md is stale: run scripts/gen-cli-doc build/dev/batchtune docs/CLI.md"
  cat "$tmp.diff"
  exit 1
fi
echo "ok: docs/CLI.md matches $(basename "$bt") --help"
