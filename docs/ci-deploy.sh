#!/usr/bin/env bash
# ci/deploy.sh: run by CI on every branch once the tests have passed, with heroku-tools
# (pip install -r requirements.txt) and the heroku CLI (npm install --global heroku) on PATH.
set -euo pipefail

# The account that deploys: a CI secret, never in the repository.
: "${HEROKU_API_KEY:?set HEROKU_API_KEY as a CI secret}"
# Release tags are annotated: CI's git needs an identity.
git config user.name >/dev/null || git config user.name "CI"
git config user.email >/dev/null || git config user.email "ci@example.com"

# The branch this (detached) checkout was built from; GitLab's and CircleCI's are found without it.
branch="${CI_BRANCH:-${GITHUB_HEAD_REF:-${GITHUB_REF_NAME:-}}}"

# feature/* goes to the personal app of whoever made the commit: shop-dev-<name before the @>.
author=$(git log -1 --format=%ae | cut -d@ -f1 | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-')
export HEROKU_TOOLS_PERSONAL_APP="${HEROKU_TOOLS_PERSONAL_APP:-shop-dev-${author}}"

args=(--json)
if [ -n "$branch" ]; then
    args+=(--branch "$branch")
fi
status=0
# Not redirected to a file in the checkout: an untracked file would make the working tree dirty.
outcome=$(heroku-tools ci "${args[@]}") || status=$?
if [ "$status" -eq 75 ]; then
    echo "another change holds the environment's lock: run this job again later" >&2
fi
echo "$outcome"
exit "$status"
