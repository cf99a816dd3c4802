"""Matchers read as amtool 0.25 reads them, side by side with the real amtool: it posts
each silence it adds to a loopback Alertmanager stand-in that records the body, and
ditsops must read every matcher string to the same value, or refuse the ones amtool
refuses (an unclosed quote, a stray quote)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ditsops.base.errors import DitsopsError
from ditsops.clients.alertmanager import Matcher
from ditsops.core.matchers import MatcherSyntaxError, MatcherTemplate, matcher_text
from tests.cli import run_cli

CASES = [
    ('foo="bar', None),  # unclosed quote: an error, not the value `"bar`
    ('foo=bar"', None),  # a quote only closes what one opened
    ('foo="a"b"', None),  # an unescaped quote inside
    ('foo="a\\nb"', "a\nb"),  # \n inside quotes is a newline
    ("foo=a\\nb", "a\nb"),  # and outside them
    ('foo="say \\"hi\\""', 'say "hi"'),
    ('foo="c:\\dir"', "c:\\dir"),  # a spurious escape keeps its backslash
    ('foo="back\\\\"', "back\\"),
    ("foo=end\\", "end\\"),  # a last lone backslash is itself
    ('foo = "spaced" ', "spaced"),
    ('foo=~"5..|x"', "5..|x"),
]


@pytest.fixture(scope="module")
def alertmanager() -> Iterator[tuple[str, list[dict]]]:
    """Answers amtool's POST /api/v2/silences and keeps each body."""
    posted: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self._json({"silenceID": "2f1a7c3e-0000-4000-8000-000000000000"})

        def do_GET(self) -> None:
            self._json([])

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posted
    finally:
        server.shutdown()
        server.server_close()


def amtool_reads(url: str, posted: list[dict], text: str) -> str | None:
    """The value amtool posts for `text`, or None when amtool refuses it."""
    binary = shutil.which("amtool")
    if binary is None:
        pytest.skip("amtool not installed (apt-get install prometheus-alertmanager)")
    before = len(posted)
    done = subprocess.run(
        [binary, f"--alertmanager.url={url}", "silence", "add", "-c", "test", "--duration=1h", text],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        assert len(posted) == before
        return None
    [body] = posted[before:]
    [matcher] = body["matchers"]
    return str(matcher["value"])


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_ditsops_reads_each_matcher_as_amtool_does(alertmanager, text: str, expected: str | None) -> None:
    url, posted = alertmanager
    assert amtool_reads(url, posted, text) == expected  # the reference really says so
    if expected is None:
        with pytest.raises(DitsopsError):
            Matcher.parse(text)
        with pytest.raises(MatcherSyntaxError):
            MatcherTemplate.parse(text)
        return
    assert Matcher.parse(text).value == expected
    filled = MatcherTemplate.parse(text).fill({})
    assert filled.value == expected
    assert Matcher.parse(matcher_text(filled)).value == expected  # what ditsops prints reads back the same


def test_placeholders_keep_their_place_among_escapes() -> None:
    template = MatcherTemplate.parse('instance="{{ host }}\\n:{{ port }}\\""')
    assert template.references == {"host", "port"}
    assert template.fill({"host": "a", "port": "9"}).value == 'a\n:9"'
    with pytest.raises(MatcherSyntaxError):
        MatcherTemplate.parse('instance="{{ host }}')


def test_silence_add_refuses_an_unclosed_quote_in_one_line(isolated_home) -> None:
    done = run_cli("silence", "add", 'instance="dits-1', "--comment", "x", "--yes")
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "unescaped double quote" in done.stderr and "Traceback" not in done.stderr
