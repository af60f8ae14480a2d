# Sourced by test-arm64.sh and test-node-versions.sh: runs the conformance
# suite's node:test driver (tooling/conformance/dist/node-test.js) in a given
# Node, one method per run, and keeps a summary line per run.
#
#   suite_start <label> <method> <node command...>   # in the background; output to a file
#   suite_finish                                      # waits for every started run, prints them in order
#   suite_summary <title>                             # the summary lines; returns 1 if any run failed
#
# A run fails when node --test fails, or when every case of the method was
# skipped: then the method never ran here (addon missing, probe failed), and
# that must not pass as green.

SUITE_RESULTS="$AIO_CROSS_CACHE/results"
suite_labels=()
suite_pids=()
suite_lines=()
suite_failures=0

now_ms() { printf '%s' "$((${EPOCHREALTIME//[!0-9]/} / 1000))"; }
seconds_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

# The count of one kind ("pass", "fail", "skipped") from a TAP file's closing lines.
tap_count() { sed -n "s/^# $2 \([0-9]*\)$/\1/p" "$1" | tail -n 1 | grep . || echo '?'; }

suite_start() {
  local label=$1 method=$2 name
  shift 2
  name="${label//[^A-Za-z0-9_-]/_}"
  mkdir -p "$SUITE_RESULTS"
  rm -f "$SUITE_RESULTS/$name".{tap,out,rc,time}
  (
    start=$(now_ms)
    cd "$AIO_REPO_ROOT" && AIO_CONFORMANCE_METHODS=$method "$@" --test --expose-gc \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$SUITE_RESULTS/$name.tap" \
      tooling/conformance/dist/node-test.js >"$SUITE_RESULTS/$name.out" 2>&1
    echo $? >"$SUITE_RESULTS/$name.rc"
    seconds_since "$start" >"$SUITE_RESULTS/$name.time"
  ) &
  suite_labels+=("$label")
  suite_pids+=($!)
}

suite_finish() {
  local i label name rc pass fail skipped verdict
  for i in "${!suite_pids[@]}"; do
    wait "${suite_pids[$i]}"
    label=${suite_labels[$i]}
    name="${label//[^A-Za-z0-9_-]/_}"
    printf '\n── %s ──\n' "$label"
    # The spec output's failures and the closing counts; the full output stays in the results folder.
    grep -E -A2 '^\s*✖|^ℹ (tests|pass|fail|skipped)|# SKIP' "$SUITE_RESULTS/$name.out" | head -n 40
    rc=$(cat "$SUITE_RESULTS/$name.rc" 2>/dev/null || echo 1)
    pass=$(tap_count "$SUITE_RESULTS/$name.tap" pass)
    fail=$(tap_count "$SUITE_RESULTS/$name.tap" fail)
    skipped=$(tap_count "$SUITE_RESULTS/$name.tap" skipped)
    if [[ $rc == 0 && $pass == 0 ]]; then
      rc=1
      printf '%s: every case was skipped; the method did not run here\n' "$label"
    fi
    verdict=PASS
    [[ $rc == 0 ]] || { verdict=FAIL; suite_failures=$((suite_failures + 1)); }
    suite_lines+=("$(printf '%-40s %s  pass %-4s fail %-4s skipped %-4s %s' "$label" "$verdict" "$pass" "$fail" "$skipped" "$(cat "$SUITE_RESULTS/$name.time" 2>/dev/null)")")
  done
  suite_labels=()
  suite_pids=()
}

# suite_line <text>: a summary line for a check that is not a suite run.
suite_line() { suite_lines+=("$1"); }

suite_summary() {
  printf '\n%s\n' "$1"
  printf '  %s\n' "${suite_lines[@]}"
  ((suite_failures == 0))
}
