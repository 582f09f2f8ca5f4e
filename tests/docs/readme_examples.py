#!/usr/bin/env python3
"""README.md's shell examples, run as they are written, their output checked against the README.

  python3 tests/docs/readme_examples.py cli --cli build/examples/supportbot --faqs faqs.json
  python3 tests/docs/readme_examples.py server \
      --server build/examples/http_server/supportbot-server --faqs faqs.json

README.md marks each example with `<!-- example: NAME -->` before its ```sh block, and what it
prints with `<!-- output: NAME -->` before the next fenced block. The example runs with
`bash -e -o pipefail` in a temporary folder holding a copy of the FAQ file as faqs.json, with the
tool's folder first on PATH and none of the tools' settings in its environment. Its standard
output must match the README's output block, where `...` stands for any text (as in doctest's
ELLIPSIS), a UUID for any UUID (ids differ from run to run), and a decimal number (a confidence,
a rate) for one within 0.05 of it, so that retrieval changes that move a confidence a little do
not break the README while a different ranking, answer or escalation does.

cli: the "Using it from the CLI" example (cli.sh), which keeps everything in sqlite://shop.db.
server: the "HTTP server" curl example (server.sh) against a real supportbot-server started here
on a free loopback port (PORT=0) with a temporary SQLite database; the example's one line
`api=http://127.0.0.1:8000/api/v1` is pointed at that port. Needs curl and jq.
Standard library only; exit status 0 when the output matches, 1 (with a diff) when it does not.
"""
import argparse
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
# Settings of the CLI and the server that the caller's environment must not lend the example.
SETTINGS = re.compile(r"^(DATABASE_URL|SECRET_KEY|SUPPORTBOT_.*|LLM_.*|GEMINI_API_KEY|"
                      r"OPENAI_API_KEY|ACCESS_TOKEN_EXPIRE_MINUTES|HOST|PORT)$")


def fail(message):
    print("readme_examples: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def block(text, kind, name):
    """The fenced block right after `<!-- kind: name -->`."""
    marker = "<!-- %s: %s -->" % (kind, name)
    if text.count(marker) != 1:
        fail("README.md should have exactly one %s (it has %d)" % (marker, text.count(marker)))
    m = re.match(r"\s*```[a-z]*\n(.*?)^```", text.split(marker, 1)[1], re.S | re.M)
    if not m:
        fail("no fenced block right after %s" % marker)
    return m.group(1)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DECIMAL = r"\d+\.\d+(?:e-?\d+)?"
TOLERANCE = 0.05  # how far a decimal number (a confidence, a rate) may be from the README's


def output_pattern(expected):
    """A regex for the expected output: `...` matches any text, a UUID any UUID, a decimal
    number any decimal number (captured, to be compared with the README's)."""
    numbers = []
    parts = []
    for literal in re.split(r"(\.\.\.|%s|%s)" % (UUID.pattern, DECIMAL), expected):
        if literal == "...":
            parts.append(".*?")
        elif UUID.fullmatch(literal):
            parts.append(UUID.pattern)
        elif re.fullmatch(DECIMAL, literal):
            parts.append("(%s)" % DECIMAL)
            numbers.append(float(literal))
        else:
            parts.append(re.escape(literal))
    return "".join(parts), numbers


def check_output(name, expected, actual):
    expected, actual = expected.rstrip("\n") + "\n", actual.rstrip("\n") + "\n"
    pattern, numbers = output_pattern(expected)
    m = re.fullmatch(pattern, actual, re.S)
    if m:
        off = [(w, float(g)) for w, g in zip(numbers, m.groups())
               if abs(w - float(g)) > TOLERANCE]
        if not off:
            print("%s: the output matches README.md's" % name)
            return
        why = ", ".join("%g where README.md shows %g" % (g, w) for w, g in off)
        fail("%s printed numbers other than README.md's: %s\n%s" % (name, why, actual))
    # The diff shows UUIDs as <uuid>, so that it shows the lines that differ in more than ids.
    lines = [UUID.sub("<uuid>", text).splitlines(True) for text in (expected, actual)]
    diff = "".join(difflib.unified_diff(lines[0], lines[1], "README.md (output: %s)" % name,
                                        "the example's output"))
    fail("%s printed what README.md does not show ('...' in README.md matches any text):\n%s"
         % (name, diff))


def example_env(tool_dir):
    env = {k: v for k, v in os.environ.items() if not SETTINGS.match(k)}
    env["PATH"] = tool_dir + os.pathsep + env.get("PATH", "")
    return env


def run_example(name, script, cwd, env):
    path = os.path.join(cwd, name)
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["bash", "-e", "-o", "pipefail", path], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail("%s exited with %d\n--- stdout\n%s--- stderr\n%s" % (name, r.returncode, r.stdout,
                                                                 r.stderr))
    return r.stdout


def run_cli(args, readme, tmp):
    cli = os.path.abspath(args.cli)
    if os.path.basename(cli) != "supportbot":
        fail("--cli must be the supportbot binary (the example calls it by name): %s" % cli)
    out = run_example("cli.sh", block(readme, "example", "cli.sh"), tmp,
                      example_env(os.path.dirname(cli)))
    check_output("cli.sh", block(readme, "output", "cli.sh"), out)


def run_server(args, readme, tmp):
    for tool in ("curl", "jq"):
        if not shutil.which(tool):
            fail("%s is not installed (scripts/install-deps.sh installs it)" % tool)
    script = block(readme, "example", "server.sh")
    default = "api=http://127.0.0.1:8000/api/v1\n"
    if script.count(default) != 1:
        fail("the server example should set %r once" % default.strip())
    server = os.path.abspath(args.server)
    env = example_env(os.path.dirname(server))
    env.update({"PORT": "0", "HOST": "127.0.0.1", "DATABASE_URL": "sqlite://server.db",
                "SECRET_KEY": "readme-example-signing-key-0123456789abcdef", "ACCESS_LOG": "0"})
    proc = subprocess.Popen([server], cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    errors = []
    try:
        first = proc.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        if not m:
            proc.kill()
            fail("supportbot-server did not start: %r %s" % (first, proc.stderr.read()))
        drain = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
        drain.start()
        script = script.replace(default, "api=%s/api/v1\n" % m.group(1))
        out = run_example("server.sh", script, tmp, example_env(os.path.dirname(server)))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("supportbot-server did not stop within 30 s of SIGTERM")
    if rc != 0:
        fail("supportbot-server exited with %d: %s" % (rc, "".join(errors)))
    check_output("server.sh", block(readme, "output", "server.sh"), out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("example", choices=["cli", "server"])
    p.add_argument("--cli", help="the supportbot binary")
    p.add_argument("--server", help="the supportbot-server binary")
    p.add_argument("--faqs", required=True, help="the FAQ file the examples call faqs.json")
    p.add_argument("--readme", default=README)
    args = p.parse_args()
    if not getattr(args, args.example):
        p.error("%s needs --%s" % (args.example, args.example))
    with open(args.readme, encoding="utf-8") as f:
        readme = f.read()
    with tempfile.TemporaryDirectory(prefix="sb-readme-") as tmp:
        shutil.copy(args.faqs, os.path.join(tmp, "faqs.json"))
        (run_cli if args.example == "cli" else run_server)(args, readme, tmp)


if __name__ == "__main__":
    main()
