#!/usr/bin/env bash
# Elastic Beanstalk postdeploy hook: apply pending database migrations.
# Runs on every instance after each deploy; concurrent runs take turns on a Postgres
# advisory lock (migrations/env.py). A failure here fails the deployment.
set -euo pipefail

# Overridable only so the test suite can run this script outside an EB instance.
APP_DIR="${APP_DIR:-/var/app/current}"
EB_VENV_ROOT="${EB_VENV_ROOT:-/var/app/venv}"
EB_GET_CONFIG="${EB_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

cd "$APP_DIR"

# EB does not export environment properties (DATABASE_URL, SECRET_KEY, ...) to hook
# scripts: read them from the platform. Values are never echoed.
if [ -x "$EB_GET_CONFIG" ]; then
    exports="$("$EB_GET_CONFIG" environment | python3 -c '
import json, re, shlex, sys
for key, value in json.load(sys.stdin).items():
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        print(f"export {key}={shlex.quote(str(value))}")
')"
    eval "$exports"
    unset exports
fi

# The platform's virtualenv (its name carries a hash, hence the glob).
set +u
# shellcheck disable=SC1090
source "$EB_VENV_ROOT"/*/bin/activate
set -u

# Migrations run as the database owner: with DATABASE_URL the app's least-privilege role
# (`db url`), MIGRATION_DATABASE_URL carries the owner's (`db url --owner`).
if [ -n "${MIGRATION_DATABASE_URL:-}" ]; then
    export DATABASE_URL="$MIGRATION_DATABASE_URL"
fi
export FLASK_APP="app:create_app"
echo "budgetsync: running flask db upgrade"
flask db upgrade
echo "budgetsync: migrations applied"
