"""Documentation keeps up with the code: every CLI command, MQTT topic and HTTP route is documented."""
import glob
import os

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
