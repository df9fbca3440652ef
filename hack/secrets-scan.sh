#!/usr/bin/env bash
# make secrets-scan: scans every file git tracks or would track (so new,
# not yet committed files too) for credentials with gitleaks, pinned here.
# It first proves the scan can fail, on a planted credential made up at
# run time.
set -euo pipefail
GITLEAKS=${GITLEAKS:-github.com/zricethezav/gitleaks/v8@v8.28.0}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scan() { go run "$GITLEAKS" dir "$1" --config "$root/hack/gitleaks.toml" --no-banner --no-color --redact --exit-code 1 "${@:2}"; }

mkdir -p "$tmp/selftest"
printf 'github_token = "ghp_%s"\n' "$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)" > "$tmp/selftest/leak.env"
if scan "$tmp/selftest" >/dev/null 2>&1; then
	echo "secrets-scan: the scanner missed a planted credential; not trusting it" >&2
	exit 2
fi

mkdir -p "$tmp/tree"
cd "$root"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
	[ -f "$f" ] && cp --parents -- "$f" "$tmp/tree/"
done
echo "secrets-scan: $(find "$tmp/tree" -type f | wc -l) files"
cd "$tmp/tree" && scan . -v
