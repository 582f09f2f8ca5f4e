"""The complete examples: examples/python/chat_demo.py, and README.md's Python section."""

import os
import re
import shutil
import subprocess
import sys

import supportbot
from conftest import PACKAGE_ROOT, REPO, SHOP_JSON, THRESHOLD


def env_for_examples():
    env = dict(os.environ)
    if os.sep in supportbot.library_path:  # the examples run in another folder
        env["SUPPORTBOT_LIBRARY"] = os.path.abspath(supportbot.library_path)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def test_chat_demo(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "examples" / "python" / "chat_demo.py"),
                        "--faqs", str(SHOP_JSON), "--threshold", str(THRESHOLD)],
                       cwd=tmp_path, env=env_for_examples(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "bot 'Demo shop': 6 FAQs" in out
    assert "Open Account > Orders" in out and "source: track-order" in out
    assert "handed to a human: user_requested" in out
    # While the session waits for an agent, the bot answers no FAQ: it acknowledges once.
    assert "An agent will be with you shortly." in out
    assert ", 8 messages, first: 'where is my package?'" in out and "[assistant]" in out
    assert "summary: " in out and "analytics: 1 session(s), escalation rate 1.00" in out


def test_chat_demo_reports_a_bad_faq_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"question": "q"}]')
    r = subprocess.run([sys.executable, str(REPO / "examples" / "python" / "chat_demo.py"),
                        "--faqs", str(bad)], cwd=tmp_path, env=env_for_examples(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "entry 1" in r.stderr


def readme_python_example():
    text = (REPO / "README.md").read_text()
    section = text.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_readme_example(tmp_path):
    (tmp_path / "example.py").write_text(readme_python_example())
    shutil.copy(SHOP_JSON, tmp_path / "faqs.json")
    for run in range(2):  # a second run finds the admin registered and goes on
        r = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env_for_examples(),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        assert "6 FAQs" in out and "track-order: How can I track my order?" in out
        assert "escalated: True user_requested" in out
        assert "[user] how long does a refund take?" in out
        assert "SB_ENOTFOUND" in out
        assert "\n1 session(s)" in out  # each run makes a new bot
