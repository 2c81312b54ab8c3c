#!/usr/bin/env bash
# Elastic Beanstalk predeploy hook (written by deploykit's init): apply pending database
# migrations before the new version starts serving. A failure fails the deployment and the
# running version keeps serving. With more than one instance every instance runs it: make the
# migrations safe to run concurrently (a PostgreSQL advisory lock in env.py) or use a
# `leader_only` container command instead.
set -euo pipefail

# Overridable only so tests can run this script outside an EB instance.
APP_DIR="${APP_DIR:-/var/app/staging}"
EB_VENV_ROOT="${EB_VENV_ROOT:-/var/app/venv}"
EB_GET_CONFIG="${EB_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

cd "$APP_DIR"

# EB does not export environment properties and secrets (DATABASE_URL, SECRET_KEY, ...) to
# hooks: read them from the platform. Values are never echoed.
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

{{#flask_migrate}}
export FLASK_APP="{{entry}}"
echo "{{name}}: running flask db upgrade"
flask db upgrade
{{/flask_migrate}}
{{^flask_migrate}}
echo "{{name}}: running alembic upgrade head"
alembic -c "{{alembic_ini}}" upgrade head
{{/flask_migrate}}
echo "{{name}}: migrations applied"
