"""Templates substitute values, never syntax: each attack written as the attack, against the
real Alertmanager, Prometheus and PostgreSQL.

- Silence previews ask Alertmanager which alerts match (its own RE2 regexes), so the count
  shown is what the silence then mutes, and a matcher it rejects is a usage error (exit 2)
  that still ends the run record.
- A matcher is parsed from the template before any value is known: a value fills the value
  slot only, it never turns `instance={{ instance }}` into a regex.
- PromQL values stand only inside quoted strings, escaped for their quote; a backtick string
  cannot escape anything, so a value holding a backtick is refused.
- SQL values are bound, and the query is shown as sent: text plus the bound values.
- Kubernetes names are DNS-1123 before any step runs; API path segments are quoted whole.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken, wait_until
from tests.promfixtures import Exporter, wait_for_query

INSTALL = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"
BACKTICK_ATTACK = "nope`}) or vector(1000) # "


def metrics() -> str:
    return (
        "# TYPE inj_owner gauge\n"
        'inj_owner{owner="o\'brien"} 7\n'
        'inj_owner{owner="someone"} 2\n'
        "# TYPE inj_requests gauge\n"
        'inj_requests{svc="dits"} 3\n'
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binary("prometheus", INSTALL)
    require_binary("prometheus-alertmanager", INSTALL)
    exporter = Exporter(metrics)
    directory = tmp_path_factory.mktemp("prom")
    started = retry_if_port_taken(lambda: promstack.start_stack(directory, [exporter.target]))
    try:
        wait_for_query(started.prometheus.url, "count(inj_owner)", lambda r: bool(r) and r[0]["value"][1] == "2")
        yield started
    finally:
        promstack.stop_stack(started)
        exporter.close()


@pytest.fixture
def env(stack, isolated_home):
    return {"DITSOPS_PROMETHEUS_URL": stack.prometheus.url, "DITSOPS_ALERTMANAGER_URL": stack.alertmanager.url}


def write(tmp_path, name: str, body: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def post_alerts(url: str, *label_sets: dict[str, str]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": "injection test"},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (now + timedelta(minutes=30)).isoformat(),
        }
        for labels in label_sets
    ]
    httpx.post(f"{url}/api/v2/alerts", json=body, timeout=5).raise_for_status()

    def arrived() -> bool:
        names = [a["labels"] for a in httpx.get(f"{url}/api/v2/alerts", timeout=5).json()]
        return all(labels in names for labels in label_sets)

    wait_until(arrived, 10, "the posted alerts in Alertmanager", interval=0.1)


def silenced_by(url: str, silence_id: str) -> list[dict[str, str]]:
    alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    return [a["labels"] for a in alerts if silence_id in (a["status"].get("silencedBy") or [])]


def last_record(home) -> list[dict]:
    runs = sorted((home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(line) for line in runs[-1].read_text().splitlines()]


SILENCE = """\
    name: {name}
    title: Silence for a test
    params:
      instance: {{type: string, default: none}}
    steps:
      - id: mute
        title: Mute it
        action: silence
        matchers: {matchers}
        duration: 10m
        comment: injection test
"""


def run_silence(tmp_path, env, name: str, matchers: list[str], *args: str):
    path = write(tmp_path, name, SILENCE.format(name=name, matchers=json.dumps(matchers)))
    return run_cli("runbook", str(path), "--yes", "--output", "json", *args, env=env)


def preview_and_silence(home) -> tuple[int, str | None]:
    events = last_record(home)
    preview = next(e for e in events if e["event"] == "preview")
    applied = next((e for e in events if e["event"] == "applied"), None)
    return preview["items"]["matching_alerts"], applied["silence_id"] if applied else None


# -- silences: Alertmanager decides what matches -----------------------------------------


def test_posix_class_preview_count_is_what_alertmanager_then_mutes(stack, env, isolated_home, tmp_path):
    am = stack.alertmanager.url
    post_alerts(am, {"alertname": "InjPosix", "job": "nope"}, {"alertname": "InjPosix", "job": "123"})
    done = run_silence(tmp_path, env, "posix", ["alertname=InjPosix", "job=~[[:alpha:]].*"])
    assert done.returncode == 0, done.stdout + done.stderr
    previewed, silence_id = preview_and_silence(isolated_home)
    muted = silenced_by(am, silence_id)
    assert previewed == len(muted) == 1  # Python's re previewed 0 here and Alertmanager muted 1
    assert muted[0]["job"] == "nope"


def test_lookahead_is_a_usage_error_with_alertmanagers_message_and_the_record_ends(env, isolated_home, tmp_path):
    done = run_silence(tmp_path, env, "lookahead", ["alertname=InjLook", "job=~(?=n).*"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Alertmanager rejected the matchers" in done.stderr
    assert "(?=" in done.stderr and "Traceback" not in done.stderr
    events = last_record(isolated_home)
    assert events[-1]["event"] == "run-end" and events[-1]["exit_code"] == 2
    assert not any(e["event"] == "applied" for e in events)


def test_unicode_class_works_or_is_a_usage_error_never_an_internal_error(stack, env, isolated_home, tmp_path):
    am = stack.alertmanager.url
    post_alerts(am, {"alertname": "InjUnicode", "job": "émile"}, {"alertname": "InjUnicode", "job": "9lives"})
    done = run_silence(tmp_path, env, "unicode", ["alertname=InjUnicode", r"job=~\pL.*"])
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert last_record(isolated_home)[-1]["event"] == "run-end"
    if done.returncode == 0:
        previewed, silence_id = preview_and_silence(isolated_home)
        assert previewed == len(silenced_by(am, silence_id)) == 1


@pytest.mark.parametrize("given, literal", [("instance=~.*", "~.*"), ("instance==~.*", "=~.*")])
def test_a_value_fills_the_value_slot_only(stack, env, isolated_home, tmp_path, given, literal):
    am = stack.alertmanager.url
    alertname = "InjSlot" + str(len(literal))
    post_alerts(
        am,
        {"alertname": alertname, "instance": "db-1"},
        {"alertname": alertname, "instance": "~.*"},
        {"alertname": alertname, "instance": "=~.*"},
    )
    done = run_silence(tmp_path, env, "slot", [f"alertname={alertname}", "instance={{ instance }}"], "--set", given)
    assert done.returncode == 0, done.stdout + done.stderr
    previewed, silence_id = preview_and_silence(isolated_home)
    muted = silenced_by(am, silence_id)
    assert previewed == len(muted) == 1
    assert muted[0]["instance"] == literal  # an equality matcher on the literal value, not a regex
    silence = httpx.get(f"{am}/api/v2/silence/{silence_id}", timeout=5).json()
    matcher = next(m for m in silence["matchers"] if m["name"] == "instance")
    assert matcher == {"name": "instance", "value": literal, "isRegex": False, "isEqual": True}


def test_a_value_in_a_regex_matcher_stands_for_itself(stack, env, isolated_home, tmp_path):
    am = stack.alertmanager.url
    post_alerts(
        am, {"alertname": "InjRegexValue", "instance": "a.b-1"}, {"alertname": "InjRegexValue", "instance": "axb-1"}
    )
    done = run_silence(
        tmp_path,
        env,
        "regexvalue",
        ["alertname=InjRegexValue", 'instance=~"{{ instance }}-.*"'],
        "--set",
        "instance=a.b",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    previewed, silence_id = preview_and_silence(isolated_home)
    assert previewed == 1 and [m["instance"] for m in silenced_by(am, silence_id)] == ["a.b-1"]


def test_a_placeholder_in_a_matchers_name_or_operator_fails_lint(isolated_home, tmp_path):
    for matcher in ["{{ instance }}=db-1", "instance{{ instance }}db-1"]:
        path = write(tmp_path, "badmatcher", SILENCE.format(name="badmatcher", matchers=json.dumps([matcher])))
        done = run_cli("runbook", "lint", str(path))
        assert done.returncode == 2
        assert f"{path}:9:" in done.stderr and "never in its name or operator" in done.stderr, done.stderr


# -- PromQL: values only inside quotes, escaped for that quote ------------------------------

PROMQL = """\
    name: {name}
    title: PromQL with a parameter
    alert: {alert}
    params:
      {param}: {{type: string, default: {default}}}
    steps:
      - id: value
        title: The value
        promql: {query}
        threshold: {{warn: 500, fail: 900}}
"""


def test_a_backtick_label_from_an_alert_is_refused_and_does_not_drive_the_verdict(stack, env, isolated_home, tmp_path):
    post_alerts(stack.alertmanager.url, {"alertname": "InjBacktick", "job": BACKTICK_ATTACK})
    body = PROMQL.format(
        name="backtick", alert="InjBacktick", param="job", default="dits", query="'sum(inj_requests{svc=`{{ job }}`})'"
    )
    write(tmp_path, "backtick", body)
    runbooks = isolated_home.config / "ditsops" / "runbooks"
    runbooks.mkdir(parents=True, exist_ok=True)
    (runbooks / "backtick.yaml").write_text(textwrap.dedent(body))
    done = run_cli("runbook", "--alert", "InjBacktick", "--non-interactive", "--output", "json", env=env)
    data = json.loads(done.stdout)
    step = next(s for s in data["steps"] if s["id"] == "value")
    assert step["status"] == "error", step
    assert "parameter 'job'" in step["summary"] and "backtick" in step["summary"]
    assert step.get("value") != 1000
    assert done.returncode == 1 and "1000" not in done.stdout.replace(BACKTICK_ATTACK, "")
    # Without the attack the same runbook queries normally.
    fine = run_cli("runbook", "backtick", "--non-interactive", "--output", "json", env=env)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert next(s for s in json.loads(fine.stdout)["steps"] if s["id"] == "value")["value"] == 3


def test_a_backtick_default_in_a_backtick_string_fails_lint(isolated_home, tmp_path):
    body = PROMQL.format(
        name="backtickdefault", alert="X", param="job", default='"a`b"', query="'sum(inj_requests{svc=`{{ job }}`})'"
    )
    path = write(tmp_path, "backtickdefault", body)
    done = run_cli("runbook", "lint", str(path))
    assert done.returncode == 2 and f"{path}:9:" in done.stderr and "parameter 'job'" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "query",
    [
        """'sum(inj_owner{owner="{{ owner }}"})'""",
        '''"sum(inj_owner{owner='{{ owner }}'})"''',
        "'sum(inj_owner{owner=`{{ owner }}`})'",
    ],
)
def test_a_quote_of_the_other_kind_in_a_value_works_against_prometheus(env, isolated_home, tmp_path, query):
    path = write(tmp_path, "owner", PROMQL.format(name="owner", alert="X", param="owner", default="x", query=query))
    done = run_cli("runbook", str(path), "--set", "owner=o'brien", "--non-interactive", "--output", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert next(s for s in json.loads(done.stdout)["steps"] if s["id"] == "value")["value"] == 7


def test_a_string_outside_quotes_in_promql_fails_lint(isolated_home, tmp_path):
    path = write(
        tmp_path, "bare", PROMQL.format(name="bare", alert="X", param="job", default="x", query="'sum({{ job }})'")
    )
    done = run_cli("runbook", "lint", str(path))
    assert done.returncode == 2 and "outside quotes in PromQL" in done.stderr


# -- SQL: bound, and shown as sent ----------------------------------------------------------

SQL = """\
    name: {name}
    title: SQL with a parameter
    params:
      app: {{type: string, default: dits}}
    steps:
      - id: count
        title: Sessions of the application
        sql: {query}
"""


def test_the_shown_query_lists_the_bound_value_beside_the_text(pg_dsn, diag_dsn, isolated_home, tmp_path):
    query = "SELECT count(*) AS sessions FROM pg_stat_activity WHERE application_name = {{ app }}"
    path = write(tmp_path, "shown", SQL.format(name="shown", query=json.dumps(query)))
    hostile = "x'; DROP TABLE victim; --"
    done = run_cli(
        "runbook",
        str(path),
        "--set",
        f"app={hostile}",
        "--non-interactive",
        "--verbose",  # the walk shows each step's query
        env={"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listing = "-- parameters: app = 'x''; DROP TABLE victim; --'"
    assert "application_name = {{ app }}" in done.stdout and listing in done.stdout
    assert f"= {hostile}" not in done.stdout
    step = next(e for e in last_record(isolated_home) if e["event"] == "step")
    assert step["query"] == f"{query}\n{listing}"
    report = run_cli("runbook", "report")
    assert listing in report.stdout and f"= {hostile}" not in report.stdout


def test_a_percent_sign_in_a_query_without_parameters_comes_back_as_written(pg_dsn, diag_dsn, isolated_home, tmp_path):
    path = write(tmp_path, "percent", SQL.format(name="percent", query=json.dumps("SELECT '50%' AS share")))
    done = run_cli(
        "runbook",
        str(path),
        "--non-interactive",
        "--output",
        "json",
        env={"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    step = next(s for s in json.loads(done.stdout)["steps"] if s["id"] == "count")
    assert step["result"]["rows"] == [["50%"]]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{{ app }}'",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $$ {{ app }} $$",
        'SELECT count(*) FROM pg_stat_activity WHERE "{{ app }}" = 1',
    ],
)
def test_a_placeholder_inside_sql_quotes_fails_lint_with_file_and_line(isolated_home, tmp_path, query):
    path = write(tmp_path, "quoted", SQL.format(name="quoted", query=json.dumps(query)))
    done = run_cli("runbook", "lint", str(path))
    assert done.returncode == 2
    assert f"{path}:8:" in done.stderr and "{{ app }} stands inside" in done.stderr, done.stderr


# -- Kubernetes names -------------------------------------------------------------------------

KUBE = """\
    name: kube
    title: Kubernetes read
    params:
      namespace: {type: string, default: ""}
    steps:
      - id: status
        title: Deployment status
        kube: status
        deployment: dits-server
        namespace: "{{ namespace }}"
"""


@pytest.mark.parametrize("namespace", ["a/b", "../kube-system", "UPPER", "x" * 64])
def test_a_namespace_that_is_not_dns_1123_is_a_usage_error(isolated_home, tmp_path, namespace):
    path = write(tmp_path, "kube", KUBE)
    done = run_cli("runbook", str(path), "--set", f"namespace={namespace}", "--non-interactive")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "step 'status' namespace" in done.stderr and "DNS-1123" in done.stderr or "63" in done.stderr


def test_api_path_segments_are_quoted_whole():
    from ditsops.clients.kube import _segment

    assert _segment("a/b") == "a%2Fb"
    assert _segment("..") == "%2E%2E"
    assert _segment("dits-server") == "dits-server"


def test_direct_k8s_commands_check_names_before_anything_is_sent(isolated_home):
    from tests.cli import run_cli

    done = run_cli("-n", "a/b", "k8s", "scale", "dits-server", "--replicas", "3", "--yes")
    assert done.returncode == 2 and "--namespace: 'a/b' is not a DNS-1123 label" in done.stderr
    done = run_cli("k8s", "undo", "../../api", "--yes")
    assert done.returncode == 2 and "is not a DNS-1123 name" in done.stderr
