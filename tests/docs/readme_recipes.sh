#!/usr/bin/env bash
# The README's recipes run as written: their commands are read from README.md
# and run in order, so a recipe that stops working fails this test.
#
# The scheme (README.md follows it; keep the two in step):
#   - A recipe is a fenced block opened by a line "```console" (or "```sh")
#     immediately after a line "<!-- recipe: NAME -->" (NAME: letters,
#     digits, dashes; each NAME once). Other blocks are not run.
#   - In it, a line starting with "$ " is a command, one line each (no
#     continuation lines). Every other line is output shown for the command
#     above it: a trimmed excerpt of a real run, where a line "..." stands for
#     lines left out and "..." inside a line for text left out.
#   - A command must exit 0, unless it ends with a comment "# exits N": then
#     it must exit N (a failing `check`, say). The first command that exits
#     otherwise fails the test, naming the recipe and the command.
#   - Each recipe runs in a fresh temporary folder, its commands one after
#     the other in one bash shell (so `export` carries to the next command),
#     with stdin from /dev/null and `batchtune` on PATH resolving to
#     BATCHTUNE (a folder holding a link to it comes first on PATH).
#   - The shown output is compared softly: each shown line, with every
#     number masked (timings and sizes differ from run to run) and blanks
#     squeezed, should match a line the command printed (stdout or stderr);
#     a line that does not is reported as a "note:", not a failure, since
#     machine and timing decide some words (a confidence, a cap). With
#     RECIPES_STRICT_OUTPUT=1 such a line fails the test.
#   - RECIPES_KEEP=DIR keeps every command's output as DIR/NAME/N.out (with
#     the command in DIR/NAME/N.cmd): what to paste when a recipe's shown
#     output is refreshed.
#
# Usage: readme_recipes.sh BATCHTUNE SOURCE_DIR [RECIPE ...]
#   (RECIPE names run only those; by default all, and at least 3 must exist)
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BATCHTUNE SOURCE_DIR [RECIPE ...]" >&2
  exit 2
fi
bt=$(realpath "$1")
src=$2
shift 2
only=("$@")
readme=$src/README.md
min_recipes=3
if [[ ! -x $bt ]]; then
  echo "FAIL: $bt is not an executable" >&2
  exit 2
fi
if [[ ! -f $readme ]]; then
  echo "FAIL: no $readme" >&2
  exit 2
fi

root=$(mktemp -d /tmp/batchtune-readme-recipes-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/logs"
ln -s "$bt" "$root/bin/batchtune"

# Parse: one record per line, "NAME<TAB>cmd|out<TAB>TEXT"; a malformed
# recipe is an error line "error<TAB>LINE<TAB>MESSAGE".
awk -v OFS='\t' '
  function fail(msg) { print "error", NR, msg; bad = 1 }
  state == "marker" {
    if ($0 ~ /^```(console|sh)[[:space:]]*$/) { state = "block"; next }
    fail("<!-- recipe: " name " --> is not followed by a ```console block"); state = ""
  }
  state == "block" {
    if ($0 ~ /^```[[:space:]]*$/) {
      if (!commands) fail("recipe " name " has no \"$ \" command")
      state = ""; next
    }
    if (substr($0, 1, 2) == "$ ") { print name, "cmd", substr($0, 3); commands++ }
    else if (!commands) fail("recipe " name ": output before its first command")
    else print name, "out", $0
    next
  }
  /^<!-- recipe: / {
    if (match($0, /^<!-- recipe: [A-Za-z0-9-]+ -->[[:space:]]*$/)) {
      name = $0; sub(/^<!-- recipe: /, "", name); sub(/ -->.*$/, "", name)
      if (name in seen) fail("recipe " name " is defined twice")
      seen[name] = 1; state = "marker"; commands = 0
    } else fail("malformed recipe marker: " $0)
  }
  END { if (state != "") fail("recipe " name " is not closed") }
' "$readme" >"$root/recipes.tsv"

if grep -q $'^error\t' "$root/recipes.tsv"; then
  while IFS=$'\t' read -r _ line msg; do
    echo "FAIL: README.md:$line: $msg"
  done < <(grep $'^error\t' "$root/recipes.tsv")
  exit 1
fi

mapfile -t names < <(cut -f1 "$root/recipes.tsv" | awk '!seen[$0]++')
if [[ ${#only[@]} -eq 0 && ${#names[@]} -lt $min_recipes ]]; then
  echo "FAIL: README.md has ${#names[@]} recipe(s), expected at least $min_recipes (marked <!-- recipe: NAME -->)"
  exit 1
fi
for want in "${only[@]}"; do
  if ! printf '%s\n' "${names[@]}" | grep -qxF -- "$want"; then
    echo "FAIL: README.md has no recipe $want (it has: ${names[*]})"
    exit 1
  fi
done

# Numbers masked, blanks squeezed, ends trimmed: what the soft comparison sees.
normalise() {
  sed -E -e 's/[-+]?[0-9]+([.][0-9]+)?/#/g' -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ $//'
}
# A shown line as a bash glob: glob characters escaped, "..." a wildcard.
as_glob() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\*/\\*}
  s=${s//\?/\\?}
  s=${s//\[/\\[}
  s=${s//.../*}
  printf '%s' "$s"
}

failed=0
notes=0
total_start=$SECONDS
for name in "${names[@]}"; do
  if [[ ${#only[@]} -gt 0 ]] && ! printf '%s\n' "${only[@]}" | grep -qxF -- "$name"; then continue; fi
  cmds=()
  declare -A shown=()
  while IFS=$'\t' read -r rname kind text; do
    [[ $rname == "$name" ]] || continue
    if [[ $kind == cmd ]]; then
      cmds+=("$text")
    else
      i=$((${#cmds[@]} - 1))
      shown[$i]+="$text"$'\n'
    fi
  done <"$root/recipes.tsv"
  work=$root/work-$name
  logs=$root/logs/$name
  mkdir -p "$work" "$logs"
  for i in "${!cmds[@]}"; do printf '%s\n' "${cmds[$i]}" >"$logs/$i.cmd"; done
  start=$SECONDS
  # The recipe's own shell: a subshell, so its exports and cd stay in it.
  (
    cd "$work" || exit 1
    export PATH="$root/bin:$PATH"
    if [[ $(command -v batchtune) != "$root/bin/batchtune" ]]; then
      echo "FAIL: recipe $name: batchtune does not resolve to $root/bin/batchtune"
      exit 1
    fi
    __n=${#cmds[@]}
    __logs=$logs
    __name=$name
    unset cmds shown work logs name i rname kind text start
    for ((__i = 0; __i < __n; __i++)); do
      __cmd=$(<"$__logs/$__i.cmd")
      __want=0
      if [[ $__cmd =~ \#[[:space:]]*exits[[:space:]]+([0-9]+)[[:space:]]*$ ]]; then
        __want=${BASH_REMATCH[1]}
      fi
      eval "$__cmd" </dev/null >"$__logs/$__i.out" 2>&1
      __rc=$?
      if [[ $__rc -ne $__want ]]; then
        echo "FAIL: recipe $__name: command $((__i + 1)) exited $__rc, expected $__want: \$ $__cmd"
        echo "--- its output (last 40 lines):"
        tail -n 40 "$__logs/$__i.out"
        exit 1
      fi
    done
  )
  rc=$?
  if [[ $rc -ne 0 ]]; then
    failed=$((failed + 1))
  else
    echo "ok:   recipe $name: ${#cmds[@]} command(s) in $((SECONDS - start)) s"
  fi
  # The soft comparison of the shown output, for the commands that ran.
  for i in "${!cmds[@]}"; do
    [[ -f $logs/$i.out && -n ${shown[$i]:-} ]] || continue
    mapfile -t actual < <(normalise <"$logs/$i.out")
    while IFS= read -r line; do
      [[ $line =~ ^[[:space:]]*\.\.\.[[:space:]]*$ ]] && continue
      [[ -z ${line//[[:space:]]/} ]] && continue
      pattern=$(as_glob "$(printf '%s\n' "$line" | normalise)")
      found=0
      for a in "${actual[@]}"; do
        # shellcheck disable=SC2053  # the right side is a glob on purpose
        if [[ $a == $pattern ]]; then found=1; break; fi
      done
      if [[ $found -eq 0 ]]; then
        notes=$((notes + 1))
        echo "note: recipe $name, command $((i + 1)) (\$ ${cmds[$i]}): shown line not printed this run (numbers ignored): $line"
      fi
    done <<<"${shown[$i]%$'\n'}"
  done
  unset shown
  if [[ -n ${RECIPES_KEEP:-} ]]; then
    mkdir -p "$RECIPES_KEEP/$name"
    cp "$logs"/* "$RECIPES_KEEP/$name/"
  fi
done

echo "$((SECONDS - total_start)) s in all; $notes shown line(s) not printed this run"
if [[ $failed -gt 0 ]]; then
  echo "FAIL: $failed recipe(s) failed"
  exit 1
fi
if [[ $notes -gt 0 && ${RECIPES_STRICT_OUTPUT:-0} == 1 ]]; then
  echo "FAIL: RECIPES_STRICT_OUTPUT=1 and $notes shown line(s) were not printed"
  exit 1
fi
exit 0
