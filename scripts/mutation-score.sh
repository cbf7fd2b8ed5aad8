#!/usr/bin/env bash
# Mutation testing of the program (infra/ and components/) with Stryker.NET, against the tests
# that need no real hosts (stryker-config.json). Arguments go to `dotnet stryker`, e.g.
#   scripts/mutation-score.sh --mutate 'infra/Config/**/*.cs'
# A whole run takes hours on two cores (docs/testing.md, "Mutation testing"). With
#   MERGE_INTO=<report.json> scripts/mutation-score.sh --mutate <files>
# the files this run mutated replace theirs in that report (made if it does not exist yet), and
# the score is the merged report's: the other files keep their earlier results, which tests
# added since can only improve. Runs over parts thus add up to a whole-program report.
# Prints the score last: detected (killed or timed out) over detected plus undetected (survived
# or covered by no test).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v jq >/dev/null || { echo "mutation-score.sh needs jq (apt-get install jq)" >&2; exit 1; }
dotnet tool restore >/dev/null
dotnet stryker --config-file stryker-config.json "$@"

# Stryker names each run's folder by its start time (yyyy-MM-dd.HH-mm-ss): the last in glob order is this run's.
shopt -s nullglob
reports=(StrykerOutput/*/reports/mutation-report.json)
[ "${#reports[@]}" -gt 0 ] || { echo "no mutation report under StrykerOutput/" >&2; exit 1; }
report=${reports[-1]}

# jq definitions: a file's path from infra/ or components/ on; [detected, undetected] of statuses
# (detected: killed or timed out; undetected: survived or covered by no test).
path='def path: capture("(?<p>(infra|components)/.*)$").p; '
counts='def counts: [(map(select(. == "Killed" or . == "Timeout")) | length), (map(select(. == "Survived" or . == "NoCoverage")) | length)]; '

if [ -n "${MERGE_INTO:-}" ]; then
  [ -f "$MERGE_INTO" ] || jq '.files = {}' "$report" > "$MERGE_INTO"
  # A report lists every file, those left out by --mutate with no mutants: this run's files are
  # those with a mutant it tested (not one only removed by a filter or failing to compile).
  # Reports name files by absolute path: compare them from infra/ or components/ on, so a report
  # made in another clone merges too.
  merge="$path"'def rel: .files |= with_entries(.key |= path);
    def tested: .files |= with_entries(select([.value.mutants[].status] | any(. != "Ignored" and . != "CompileError")));'
  jq -s "$merge"' (.[0] | rel) as $earlier | (.[1] | rel | tested) as $now | $earlier | .files += $now.files' \
    "$MERGE_INTO" "$report" > "$MERGE_INTO.new"
  mv "$MERGE_INTO.new" "$MERGE_INTO"
  echo "merged into $MERGE_INTO: $(jq -r "$merge"' rel | tested | .files | keys | join(", ")' "$report") from this run; it holds $(jq '.files | length' "$MERGE_INTO") files"
  report=$MERGE_INTO
fi

# Per file, as the README's table has it: detected of detected plus undetected.
jq -r "$path$counts"'.files | to_entries[]
  | ([.value.mutants[].status] | counts) as [$d, $u]
  | select($d + $u > 0)
  | "| `\(.key | path // .)` | \($d) of \($d + $u) |"' "$report" | sort

read -r detected undetected < <(jq -r "$counts"'[.files[].mutants[].status] | counts | @tsv' "$report")
if [ $((detected + undetected)) -eq 0 ]; then
  echo "mutation score: no mutant was tested ($report)"
  exit 1
fi
awk -v d="$detected" -v u="$undetected" -v r="$report" \
  'BEGIN { printf "mutation score: %.2f%% (%d detected, %d undetected; %s)\n", 100 * d / (d + u), d, u, r }'
