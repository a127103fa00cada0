"""Documentation keeps up with the code: every CLI command, MQTT topic and HTTP route is documented."""
import ast
import glob
import os
import re
import subprocess

import click

from hub.cli import cli
from protocol import v1
from tests.support.procs import ROOT


def _docs_text():
    paths = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    paths += [os.path.join(ROOT, "firmware", "README.md"), os.path.join(ROOT, "hardware", "README.md")]
    return "\n".join(open(p, encoding="utf-8").read() for p in paths if os.path.exists(p))


def _commands(group, prefix):
    for name, cmd in group.commands.items():
        path = prefix + " " + name
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)
        else:
            yield path


def test_every_cli_command_is_documented():
    text = _docs_text()
    missing = [c for c in _commands(cli, "civic") if c not in text]
    assert not missing, "undocumented CLI commands (add them to README.md or docs/): %s" % missing


def test_every_topic_is_documented():
    text = _docs_text()
    missing = [ch for ch in v1.CHANNELS if "civic/v1/<kiosk>/" + ch not in text]
    assert not missing, "undocumented MQTT topics: %s" % missing


def test_every_route_is_documented(app):
    text = open(os.path.join(ROOT, "docs", "API.md"), encoding="utf-8").read()
    routes = sorted({r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"})
    missing = [r for r in routes if "`%s`" % r not in text and "`GET %s`" % r not in text
               and "`POST %s`" % r not in text]
    assert not missing, "routes missing from docs/API.md (write them as `GET /path`): %s" % missing


# --- Links and quoted paths: docs that cannot go stale -------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")
# A repository path as people quote it: a top-level folder of ours, then a path with a suffix.
REPO_PATH = re.compile(r"(?<![\w./-])((?:hub|firmware|protocol|tests|bench|docs|hardware|scripts)"
                       r"/[\w./-]*\.(?:md|py|conf|svg|json|html|css|txt|toml))\b")


def _tracked(pattern):
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", pattern], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [p for p in out if os.path.exists(os.path.join(ROOT, p))]


def test_every_relative_markdown_link_names_a_file_in_the_repository():
    broken = []
    for md in _tracked("*.md"):
        text = open(os.path.join(ROOT, md), encoding="utf-8").read()
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:|^#|^<", target):
                continue  # a URL, an anchor on the same page
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(md),
                                                 target.split("#")[0]))
            if not path.startswith(ROOT + os.sep) or not os.path.exists(path):
                broken.append("%s -> %s" % (md, target))
    assert not broken, "links to files that do not exist in the repository: %s" % broken


def _strings(path):
    """Every string literal of a Python file (messages, help texts, docstrings)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_every_repository_path_quoted_in_the_code_exists():
    """What a user is told to read (an error's advice, a help text) must be there to read."""
    missing = []
    for py in _tracked("*.py"):
        if not py.startswith(("hub/", "firmware/", "protocol/", "bench/", "hardware/")):
            continue
        for line, text in _strings(os.path.join(ROOT, py)):
            for p in REPO_PATH.findall(text):
                if not os.path.exists(os.path.join(ROOT, p)):
                    missing.append("%s:%d: %s" % (py, line, p))
    assert not missing, "paths quoted in the code that do not exist: %s" % missing


def test_nothing_points_outside_the_repository():
    """A user's clone has only the repository: no reference to the team's notes or contract."""
    bad = []
    for f in _tracked("*.md") + _tracked("*.py"):
        text = open(os.path.join(ROOT, f), encoding="utf-8").read()
        for needle in ("../shared/", "shared/CONTRACT.md", "notes/", "CONTRACT"):
            if needle in text and f != "tests/test_docs.py":
                bad.append("%s: %s" % (f, needle))
    assert not bad, bad
