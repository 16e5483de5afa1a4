# Sourced by the shell tests: `check NAME STATUS` prints ok/FAIL and counts;
# `check_summary` prints "N passed, N failed" and returns non-zero on a failure.
passed=0
fail=0
check() {
  if [[ $2 -eq 0 ]]; then echo "ok:   $1"; passed=$((passed + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}
check_summary() {
  echo "$passed passed, $fail failed"
  [[ $fail -eq 0 ]]
}
