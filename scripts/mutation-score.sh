#!/usr/bin/env bash
# Mutation testing of the program (infra/ and components/) with Stryker.NET, against the tests
# that need no real hosts (stryker-config.json). Arguments go to `dotnet stryker`, e.g.
#   scripts/mutation-score.sh --mutate 'infra/Config/**/*.cs'
# A whole run takes about an hour and a half on two cores (README "Mutation testing"). With
#   MERGE_INTO=<an earlier whole run's mutation-report.json> scripts/mutation-score.sh --mutate <files>
# the files this run mutated replace theirs in that report, and the score is the merged one's:
# the other files keep their earlier results, which tests added since can only improve.
# Prints the score last: detected (killed or timed out) over detected plus undetected (survived
# or covered by no test).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v jq >/dev/null || { echo "mutation-score.sh needs jq (apt-get install jq)" >&2; exit 1; }
if [ -n "${MERGE_INTO:-}" ] && [ ! -f "$MERGE_INTO" ]; then
  echo "MERGE_INTO=$MERGE_INTO: no such report" >&2
  exit 1
fi
dotnet tool restore >/dev/null
dotnet stryker --config-file stryker-config.json "$@"

# Stryker names each run's folder by its start time (yyyy-MM-dd.HH-mm-ss): the last in glob order is this run's.
shopt -s nullglob
reports=(StrykerOutput/*/reports/mutation-report.json)
[ "${#reports[@]}" -gt 0 ] || { echo "no mutation report under StrykerOutput/" >&2; exit 1; }
report=${reports[-1]}

if [ -n "${MERGE_INTO:-}" ]; then
  merged="${report%.json}.merged.json"
  # Reports name files by absolute path: compare them from infra/ or components/ on, so a report
  # made in another clone merges too.
  jq -s 'def rel: .files |= with_entries(.key |= (capture("(?<p>(infra|components)/.*)$").p));
    (.[0] | rel) as $earlier | (.[1] | rel) as $now | $earlier | .files += $now.files' "$MERGE_INTO" "$report" > "$merged"
  echo "merged: $(jq -r '[.files | keys[] | capture("(?<p>(infra|components)/.*)$").p] | join(", ")' "$report") from this run, the rest from $MERGE_INTO"
  report=$merged
fi

read -r detected undetected < <(jq -r '
  [.files[].mutants[].status] as $s
  | [($s | map(select(. == "Killed" or . == "Timeout")) | length),
     ($s | map(select(. == "Survived" or . == "NoCoverage")) | length)]
  | @tsv' "$report")
if [ $((detected + undetected)) -eq 0 ]; then
  echo "mutation score: no mutant was tested ($report)"
  exit 1
fi
awk -v d="$detected" -v u="$undetected" -v r="$report" \
  'BEGIN { printf "mutation score: %.2f%% (%d detected, %d undetected; %s)\n", 100 * d / (d + u), d, u, r }'
