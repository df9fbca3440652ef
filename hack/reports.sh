#!/usr/bin/env bash
# make reports: copies each figures file a test wrote, .run/reports/<name>.md,
# between the "<!-- <name>:begin -->" and "<!-- <name>:end -->" markers of
# the page under docs/ that shows it. Tests never write into docs/, so
# running them leaves the tree clean; this is the one step that does.
set -euo pipefail
dir=${1:-.run/reports}
shopt -s nullglob
files=("$dir"/*.md)
if [ ${#files[@]} -eq 0 ]; then
	echo "reports: nothing under $dir; run make test or make test-faults first" >&2
	exit 1
fi
for f in "${files[@]}"; do
	name=$(basename "$f" .md)
	doc=$(grep -rlx -- "<!-- $name:begin -->" docs || true)
	if [ -z "$doc" ] || [ "$(wc -l <<<"$doc")" -ne 1 ]; then
		echo "reports: want exactly one page under docs/ with the markers <!-- $name:begin -->, found: ${doc:-none}" >&2
		exit 1
	fi
	awk -v figures="$f" -v name="$name" '
		$0 == "<!-- " name ":begin -->" { print; while ((getline l < figures) > 0) print l; skip = 1; found++; next }
		$0 == "<!-- " name ":end -->" { skip = 0; found++ }
		!skip { print }
		END { if (found != 2) { print "reports: " FILENAME " lacks the end marker of " name > "/dev/stderr"; exit 1 } }' \
		"$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc" || { rm -f "$doc.tmp"; exit 1; }
	echo "$doc: figures of $f"
done
