#!/usr/bin/env bats
# scripts/mutation-score.sh against a stand-in `dotnet` whose `stryker` writes the report a run
# would: StrykerOutput/<start time>/reports/mutation-report.json, files keyed by absolute path,
# each with its mutants' statuses (mutation-testing-elements schema, version 2, as Stryker.NET
# 5.1.0 writes it: a file left out by --mutate is listed with no mutants; a mutated one may have
# only mutants that did not compile or that a filter removed).

setup() {
  # Not the caller's report: under Stryker (scripts/mutation-score.sh with MERGE_INTO) this test
  # runs with MERGE_INTO set, and would merge its made-up files into the real report.
  unset MERGE_INTO
  repo=$(mktemp -d)
  mkdir -p "$repo/scripts"
  cp "$BATS_TEST_DIRNAME/../../scripts/mutation-score.sh" "$repo/scripts/"
  stubs=$(mktemp -d)
  cat > "$stubs/dotnet" <<'STUB'
#!/usr/bin/env bash
# `dotnet tool restore`, then `dotnet stryker ...`: the run writes $NEXT_REPORT as its report.
case "$1" in
  tool) exit 0 ;;
  stryker)
    [ -n "${STRYKER_FAILS:-}" ] && { echo "Initial test run could not be completed" >&2; exit 1; }
    runs=$(find StrykerOutput -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
    dir="StrykerOutput/2026-01-01.00-00-$(printf %02d "$runs")/reports"
    mkdir -p "$dir" && cp "$NEXT_REPORT" "$dir/mutation-report.json" ;;
  *) echo "unexpected dotnet $*" >&2; exit 9 ;;
esac
STUB
  chmod +x "$stubs/dotnet"
  export PATH="$stubs:$PATH"
}

# report <clone> <file>=<status,status...> ...
report() {
  local clone=$1; shift
  local files='{}'
  for spec in "$@"; do
    files=$(jq --arg f "$clone/${spec%%=*}" --arg s "${spec#*=}" \
      '.[$f] = {language: "cs", source: "", mutants: ($s | split(",") | map(select(. != "")) | to_entries | map({id: "\(.key)", mutatorName: "m", status: .value}))}' <<<"$files")
  done
  jq -n --argjson files "$files" --arg root "$clone" '{schemaVersion: "2", projectRoot: $root, thresholds: {high: 85, low: 60}, files: $files}' > "$BATS_TEST_TMPDIR/next.json"
  export NEXT_REPORT="$BATS_TEST_TMPDIR/next.json"
}

@test "the score is the last line: killed and timed out over those and survived or not covered" {
  report /src infra/A.cs=Killed,Survived,Timeout,NoCoverage,Ignored,CompileError components/B.cs=Killed,Killed
  run "$repo/scripts/mutation-score.sh" --mutate infra/A.cs
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "mutation score: 66.67% (4 detected, 2 undetected; StrykerOutput/2026-01-01.00-00-00/reports/mutation-report.json)" ]]
  [[ "$output" == *'| `infra/A.cs` | 2 of 4 |'* ]]
  [[ "$output" == *'| `components/B.cs` | 2 of 2 |'* ]]
}

@test "runs merge by file: a file keeps its latest tested results, from any clone" {
  export MERGE_INTO="$BATS_TEST_TMPDIR/whole.json"
  report /first/clone infra/A.cs=Killed,Survived components/B.cs=
  run "$repo/scripts/mutation-score.sh" --mutate infra/A.cs
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "mutation score: 50.00% (1 detected, 1 undetected; $MERGE_INTO)" ]]

  # B measured in another clone; A, left out of this run, keeps its first results.
  report /second infra/A.cs= components/B.cs=Killed,Killed,Survived
  run "$repo/scripts/mutation-score.sh" --mutate components/B.cs
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "mutation score: 60.00% (3 detected, 2 undetected; $MERGE_INTO)" ]]
  [ "$(jq -c '.files | keys' "$MERGE_INTO")" = '["components/B.cs","infra/A.cs"]' ]

  # A re-measured after a test was added: its new results replace the old. B, mutated again
  # but with nothing tested (every mutant removed or not compiling), keeps its results.
  report /first/clone infra/A.cs=Killed,Killed components/B.cs=Ignored,CompileError
  run "$repo/scripts/mutation-score.sh" --mutate infra/A.cs --mutate components/B.cs
  [[ "${lines[-1]}" == "mutation score: 80.00% (4 detected, 1 undetected; $MERGE_INTO)" ]]
  [[ "$output" == *'| `infra/A.cs` | 2 of 2 |'* ]]
  [[ "$output" == *'| `components/B.cs` | 2 of 3 |'* ]]
}

@test "a run that tested no mutant gives no score and fails" {
  report /src infra/A.cs=Ignored,CompileError
  run "$repo/scripts/mutation-score.sh"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "mutation score: no mutant was tested"* ]]
  [[ "$output" != *'infra/A.cs'*'of'* ]]
}

@test "a failed Stryker run fails the script, with no score" {
  export STRYKER_FAILS=1
  report /src infra/A.cs=Killed
  run "$repo/scripts/mutation-score.sh"
  [ "$status" -ne 0 ]
  [[ "$output" != *"mutation score"* ]]
}
