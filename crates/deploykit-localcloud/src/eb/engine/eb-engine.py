#!/usr/bin/env python3
"""The local Elastic Beanstalk platform engine (Python platform on Amazon Linux 2023).

Runs as the command of one environment's instance container. The edge has already downloaded
and extracted the source bundle to /var/app/staging and written the deployment plan (environment
properties and secrets, .ebextensions commands and container_commands, the web command) to
/opt/elasticbeanstalk/local/plan.json (the values come as the container's environment). This script performs the instance deployment in the
order AL2023 documents, writes /var/log/eb-engine.log like the real engine, and reports each
step's outcome to the edge in /opt/elasticbeanstalk/local/status.json. After the web
process starts it stays as the container's main process until that process exits.

Standard library only: it runs on the platform image before anything is installed.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

DEPLOYMENT = "/opt/elasticbeanstalk/deployment"
LOCAL = "/opt/elasticbeanstalk/local"
PLAN = os.path.join(LOCAL, "plan.json")
STATUS = os.path.join(LOCAL, "status.json")
ENV_FILE = os.path.join(DEPLOYMENT, "env")
APP = "/var/app"
STAGING = os.path.join(APP, "staging")
CURRENT = os.path.join(APP, "current")
LOG_DIR = "/var/log"
ENGINE_LOG = os.path.join(LOG_DIR, "eb-engine.log")
HOOKS_LOG = os.path.join(LOG_DIR, "eb-hooks.log")
CMD_LOG = os.path.join(LOG_DIR, "cfn-init-cmd.log")
WEB_LOG = os.path.join(LOG_DIR, "web.stdout.log")
WHEELS = "/var/cache/eb-wheels"
GET_CONFIG = "/opt/elasticbeanstalk/bin/get-config"
# Where AL2023's Python platform keeps the app's virtualenv (hooks `source` its activate).
VENV_LINK = "/var/app/venv/staging-LQM1lest"

GET_CONFIG_SCRIPT = r"""#!/usr/bin/python3
# Local stand-in for the platform's get-config: `get-config environment [-k KEY]`.
import json, os, sys
env = dict(l.split("=", 1) for l in open("%s", encoding="utf-8").read().splitlines() if "=" in l)
args = sys.argv[1:]
if not args or args[0] != "environment":
    sys.stderr.write("get-config: only 'environment' is available on the local platform\n")
    sys.exit(1)
if "-k" in args:
    key = args[args.index("-k") + 1]
    if key not in env:
        sys.exit(1)
    print(env[key])
else:
    print(json.dumps(env))
""" % os.path.join(DEPLOYMENT, "env")
PIP = "/opt/python/bin/pip"
TAIL_BYTES = 4096

status = {"phase": "deploying", "steps": [], "failed": None, "web_exit": None}


def now():
    t = time.time()
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t)) + ".%06d" % int((t % 1) * 1e6)


def log(level, msg):
    with open(ENGINE_LOG, "a", encoding="utf-8") as f:
        f.write("%s [%s] %s\n" % (now(), level, msg))


def write_status():
    tmp = STATUS + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(status, f)
    os.replace(tmp, STATUS)


def tail(text):
    data = text.encode("utf-8", "replace")
    if len(data) > TAIL_BYTES:
        data = data[-TAIL_BYTES:]
        return "(TRUNCATED)..." + data.decode("utf-8", "replace")
    return data.decode("utf-8", "replace")


class StepFailed(Exception):
    def __init__(self, code, output, message):
        super().__init__(message)
        self.code = code
        self.output = output
        self.message = message


def run(argv, cwd, env, logfile, shell=False):
    """Runs one command, appending its output to logfile; returns (exit code, output)."""
    try:
        p = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except PermissionError as e:
        return 126, "fork/exec %s: permission denied" % (argv if isinstance(argv, str) else argv[0])
    except OSError as e:
        return 127, "fork/exec %s: %s" % (argv if isinstance(argv, str) else argv[0], e.strerror)
    out = p.stdout.decode("utf-8", "replace")
    with open(logfile, "a", encoding="utf-8") as f:
        for line in out.splitlines():
            f.write("%s [INFO] %s\n" % (now(), line))
    return p.returncode, out


def step(name, fn):
    log("INFO", "Executing instruction: %s" % name)
    started = time.time()
    entry = {"name": name, "ok": True, "code": 0, "output": "", "seconds": 0.0}
    status["steps"].append(entry)
    write_status()
    try:
        out = fn() or ""
        entry["output"] = tail(out)
    except StepFailed as e:
        entry.update(ok=False, code=e.code, output=tail(e.output), message=e.message)
        entry["seconds"] = round(time.time() - started, 3)
        log(
            "ERROR",
            "An error occurred during execution of command [app-deploy] - [%s]. "
            "Stop running the command. Error: %s" % (name, e.message),
        )
        status["phase"] = "failed"
        status["failed"] = entry
        write_status()
        raise
    entry["seconds"] = round(time.time() - started, 3)
    write_status()


def hooks(kind, env, cwd):
    def go():
        d = os.path.join(cwd, ".platform", "hooks", kind)
        if not os.path.isdir(d):
            log("INFO", "The dir .platform/hooks/%s/ does not exist in the application. "
                "Skipping this step..." % kind)
            return ""
        outputs = []
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            rel = ".platform/hooks/%s/%s" % (kind, name)
            if not os.path.isfile(path):
                continue
            log("INFO", "Running platform hook: %s" % rel)
            if not os.access(path, os.X_OK):
                raise StepFailed(
                    1,
                    "\n".join(outputs),
                    "Command %s failed with error fork/exec %s: permission denied" % (rel, rel),
                )
            code, out = run([path], cwd, env, HOOKS_LOG)
            outputs.append(out)
            if code != 0:
                raise StepFailed(
                    code,
                    "\n".join(outputs),
                    "Command %s failed with error exit status %d. Stderr:%s" % (rel, code, out.strip()[-512:]),
                )
        return "\n".join(outputs)

    return go


def commands(entries, env, kind, default_cwd):
    """.ebextensions `commands` / `container_commands`, in the order the plan lists them."""

    def go():
        outputs = []
        for c in entries:
            label = "%s %s in %s" % ("Container command" if kind == "container_commands" else "Command", c["name"], c["file"])
            if c.get("leader_only") and not c.get("is_leader", True):
                log("INFO", "%s skipped: leader_only and this instance is not the leader" % label)
                continue
            cenv = dict(env)
            cenv.update(c.get("env") or {})
            cwd = c.get("cwd") or default_cwd
            if c.get("test"):
                tcode, _ = run(c["test"], cwd, cenv, CMD_LOG, shell=True)
                if tcode != 0:
                    log("INFO", "%s skipped: test command returned %d" % (label, tcode))
                    continue
            log("INFO", "Running %s" % label)
            cmd = c["command"]
            code, out = run(cmd, cwd, cenv, CMD_LOG, shell=isinstance(cmd, str))
            outputs.append(out)
            if code != 0 and not c.get("ignore_errors"):
                raise StepFailed(code, "\n".join(outputs), "%s failed. For more detail, check /var/log/eb-engine.log." % label)
        return "\n".join(outputs)

    return go


def install_dependencies(plan, env):
    def go():
        out = []
        req = os.path.join(STAGING, "requirements.txt")
        wants = []
        if os.path.isfile(req):
            wants.append(["-r", req])
        if plan.get("needs_gunicorn"):
            probe = subprocess.run(["/opt/python/bin/python", "-c", "import gunicorn"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if probe.returncode != 0:
                wants.append(["gunicorn"])
        if not wants:
            log("INFO", "No requirements.txt in the source bundle; skipping dependency installation.")
            return ""
        os.makedirs(WHEELS, exist_ok=True)
        penv = dict(env)
        penv.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        for w in wants:
            log("INFO", "Installing dependencies with pip: %s" % " ".join(w))
            # Offline first, from the wheels earlier deploys built (unchanged requirements: seconds).
            base = [PIP, "install", "--no-index", "--find-links", WHEELS]
            code, o = run(base + w, STAGING, penv, ENGINE_LOG)
            out.append(o)
            if code == 0:
                continue
            code, o = run([PIP, "wheel", "--wheel-dir", WHEELS] + w, STAGING, penv, ENGINE_LOG)
            out.append(o)
            if code == 0:
                code, o = run(base + w, STAGING, penv, ENGINE_LOG)
                out.append(o)
            if code != 0:
                raise StepFailed(code, "\n".join(out),
                                 "fail to install dependencies with pip: %s" % " ".join(w))
        return "\n".join(out)

    return go


def load_plan():
    with open(PLAN, encoding="utf-8") as f:
        return json.load(f)


def main():
    os.makedirs(LOG_DIR, exist_ok=True)
    plan = load_plan()
    env = dict(os.environ)
    env["PATH"] = "/opt/python/bin:" + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("PYTHONPATH", CURRENT)
    # Like /opt/elasticbeanstalk/deployment/env on AL2023: what the app and hooks see.
    os.makedirs(DEPLOYMENT, exist_ok=True)
    with open(ENV_FILE, "w", encoding="utf-8") as f:
        for k in sorted(plan.get("env_names") or []):
            f.write("%s=%s\n" % (k, os.environ.get(k, "")))
    os.chmod(ENV_FILE, 0o600)
    with open(GET_CONFIG, "w", encoding="utf-8") as f:
        f.write(GET_CONFIG_SCRIPT)
    os.chmod(GET_CONFIG, 0o755)
    os.makedirs(os.path.dirname(VENV_LINK), exist_ok=True)
    if not os.path.lexists(VENV_LINK):
        os.symlink("/opt/python", VENV_LINK)
    write_status()
    try:
        step("StageApplication", lambda: "")
        step("EbExtensionPreBuild", commands(plan.get("commands") or [], env, "commands", "/"))
        step("RunAppDeployPreBuildHooks", hooks("prebuild", env, STAGING))
        step("InstallDependency", install_dependencies(plan, env))
        step("check Procfile", lambda: "web: %s" % plan["web"])
        step("EbExtensionPostBuild",
             commands(plan.get("container_commands") or [], env, "container_commands", STAGING))
        step("RunAppDeployPreDeployHooks", hooks("predeploy", env, STAGING))

        def flip():
            os.rename(STAGING, CURRENT)
            return ""

        step("FlipApplication", flip)
    except StepFailed:
        sys.exit(1)

    web_log = open(WEB_LOG, "ab")
    web = subprocess.Popen(
        plan["web"],
        shell=True,
        cwd=CURRENT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def pump():
        out = sys.stdout.buffer
        for line in iter(web.stdout.readline, b""):
            web_log.write(line)
            web_log.flush()
            out.write(line)
            out.flush()

    t = threading.Thread(target=pump, daemon=True)
    t.start()

    def stop(signum, _frame):
        try:
            os.killpg(web.pid, signal.SIGTERM)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        step("start web", lambda: "web: pid %d" % web.pid)
        step("RunAppDeployPostDeployHooks", hooks("postdeploy", env, CURRENT))
    except StepFailed:
        stop(signal.SIGTERM, None)
        web.wait()
        sys.exit(1)
    status["phase"] = "deployed"
    write_status()
    log("INFO", "Instance deployment completed successfully.")
    code = web.wait()
    t.join(timeout=2)
    status["phase"] = "exited"
    status["web_exit"] = code
    write_status()
    log("ERROR", "web process exited with status %d" % code)
    sys.exit(code if code else 1)


if __name__ == "__main__":
    main()
