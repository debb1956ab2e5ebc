"""The README's MLflow and Dagster walkthrough (docs/operations.md) in a real browser, on a real
stack: this module's copy of the small trained stack, a retrain of the HRV model that the gate
refuses (the same data cannot beat the champion by the margin), a real ``mlflow ui`` on the
stack's SQLite store and a real ``dagster-webserver`` on the stack's DAGSTER_HOME, each on a free
port. Screenshots are kept in .logs/browser."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bento.testing import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / ".logs" / "browser"  # screenshots kept as test artifacts
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ASSET = "hrv_stress_model"
CHECK = f"{ASSET}_challenger_promoted"

# Runs a server as its own process group and takes the group down with it: on SIGTERM, and when
# the process that started it (the test) dies, however it dies (PR_SET_PDEATHSIG). `mlflow ui`
# and `dagster-webserver` start children of their own (uvicorn, the code server) that would
# otherwise outlive them.
SUPERVISOR = """
import os, signal, subprocess, sys, time
from bento.lifecycle import die_with_parent
parent = int(sys.argv[1])
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
child = subprocess.Popen(sys.argv[2:])
die_with_parent(signal.SIGTERM, parent)
while child.poll() is None and not stopping:
    time.sleep(0.2)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.killpg(0, signal.SIGTERM)
deadline = time.monotonic() + 10
while child.poll() is None and time.monotonic() < deadline:
    time.sleep(0.1)
os.killpg(0, signal.SIGKILL)
"""


class Server:
    """A server command under the supervisor above; ``url`` answers once :meth:`wait` returns."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict, log: Path, ready_path: str = "/"):
        self.name, self.url, self.ready = name, f"http://127.0.0.1:{port}", ready_path
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SUPERVISOR, str(os.getpid()), *argv],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self, timeout: float = 180.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + self.ready, timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(
            f"{self.name} not answering after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}"
        )

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _group_alive(pgid: int, wait: float = 0.0) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies waiting to be reaped do not count),
    waiting up to ``wait`` seconds for it to end."""
    deadline = time.monotonic() + wait
    while True:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive = True
                break
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ui_stack(policy_stack):
    """The stack with a refused HRV retrain in a persistent Dagster instance, and both UIs on it."""
    import dagster as dg
    from conftest import SMALL

    from assets.resources import SettingsResource
    from definitions import build_definitions, build_resources
    from moodtune import registry

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make system-deps` (apt-get install chromium)")
    base = policy_stack["base"]
    mlflow_port, dagster_port = free_port(), free_port()
    artifacts = policy_stack["settings"].artifact_root
    res = SettingsResource(
        data_dir=str(base / "data"),
        tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
        overrides_yaml=SMALL + f"mlflow: {{artifact_root: {artifacts}, ui_url: "
        f"'http://127.0.0.1:{mlflow_port}'}}\ndagster: {{webserver_url: "
        f"'http://127.0.0.1:{dagster_port}'}}\n",
    )
    settings = res.get()
    home = base / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MOODTUNE_DATA_DIR": str(settings.data_dir),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "MOODTUNE_MLFLOW__ARTIFACT_ROOT": str(artifacts),
        "MOODTUNE_MLFLOW__UI_URL": settings.mlflow.ui_url,
        "MOODTUNE_DAGSTER__WEBSERVER_URL": settings.dagster.webserver_url,
    }
    bin_dir = Path(sys.executable).parent
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)  # its storage exists before the webserver opens it
    servers = [
        Server(
            "mlflow",
            [
                str(bin_dir / "mlflow"),
                "ui",
                "--backend-store-uri",
                settings.tracking_uri,
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
                "--workers",
                "1",
            ],
            mlflow_port,
            env,
            base / "mlflow_ui.log",
            "/health",
        ),
        Server(
            "dagster",
            [
                str(bin_dir / "dagster-webserver"),
                "-m",
                "definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(dagster_port),
            ],
            dagster_port,
            env,
            base / "dagster_webserver.log",
            "/server_info",
        ),
    ]
    try:
        # meanwhile, the retrain: the HRV model again on the same data, in the instance the
        # webserver reads; the gate finds no gain over the champion and refuses it
        champion = registry.champion(registry.HRV, settings)
        defs = build_definitions(settings, res)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = dg.materialize(
                [*defs.assets, *defs.asset_checks],
                instance=instance,
                resources=build_resources(res),
                selection=[ASSET],
                raise_on_error=False,
            )
        (check,) = result.get_asset_check_evaluations()
        assert not check.passed and check.check_name == CHECK, check.description
        for server in servers:
            server.wait()
        yield {
            "settings": settings,
            "result": result,
            "check": check,
            "champion": str(champion.version),
            "mlflow": servers[0].url,
            "dagster": servers[1].url,
            "home": home,
            "resources": build_resources(res),
            "pgids": [s.proc.pid for s in servers],
        }
    finally:
        for server in servers:
            server.terminate()  # both at once, then wait for each
        for server in servers:
            server.stop()
        assert not [s.name for s in servers if _group_alive(s.proc.pid, wait=10)], (
            "a UI server outlived the test"
        )


@pytest.fixture(scope="module")
def browser(ui_stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)  # where the test ended (what a failure looked like)
    page.screenshot(path=str(SHOTS / f"last_{request.node.name}.png"), full_page=True)
    context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)
    assert (SHOTS / name).stat().st_size > 10_000


def _skip_welcome(page) -> None:
    """Dagster's first visit shows a "Join the Dagster community" dialog over the page."""
    try:
        page.get_by_role("button", name="Skip").click(timeout=4_000)
    except Exception:  # not shown (this browser context has seen it, or a Dagster without it)
        pass


def _refused(ui_stack) -> dict:
    meta = ui_stack["result"].get_asset_materialization_events()[0].materialization.metadata
    return {
        "version": str(meta["version"].value),
        "run_id": meta["mlflow_run_id"].value,
        "run_url": meta["mlflow_run_url"].url,
    }


def test_mlflow_opens_on_training_runs_and_the_registry_shows_both_aliases(ui_stack, page):
    from moodtune import registry

    refused = _refused(ui_stack)
    assert refused["version"] != ui_stack["champion"]
    # the experiment's page, as make up prints it: the training runs, Models in the side bar
    page.goto(registry.mlflow_experiment_url(ui_stack["settings"]))
    page.wait_for_url(re.compile(r"/experiments/\d+/runs\?"))
    page.get_by_role("link", name=ASSET).first.wait_for()
    body = page.inner_text("body")
    assert "Models" in body and "Model registry" in body
    assert "Token Usage" not in body and "No data available" not in body  # not the GenAI overview
    _shot(page, "mlflow_experiment.png")
    # the registered model: champion on the serving version, challenger on the refused one
    page.goto(f"{ui_stack['mlflow']}/#/models/{registry.HRV}")
    page.get_by_text(re.compile(r"^@?\s*challenger$")).first.wait_for()
    aliases, rows = {}, {}
    for row in page.locator("[role=row]").all():
        found = re.search(r"Version (\d+)", row.inner_text())
        if found:  # alias chips are the row's status chips without a "key: value"
            chips = [c.strip() for c in row.locator("[role=status]").all_inner_texts()]
            aliases[found.group(1)] = {re.sub(r"^@\s*", "", c) for c in chips if ":" not in c}
            rows[found.group(1)] = row.inner_text()
    assert aliases[refused["version"]] == {"challenger"}, aliases
    assert aliases[ui_stack["champion"]] == {"champion"}, aliases
    assert "Gate: REJECTED" in rows[refused["version"]] and "rejected" in rows[refused["version"]]
    _shot(page, "mlflow_registry_aliases.png")


def test_dagster_check_is_red_with_the_verdict_and_links_go_both_ways(ui_stack, page):
    check, dagster, refused = ui_stack["check"], ui_stack["dagster"], _refused(ui_stack)
    # the check, red, with the gate's verdict and both scores
    page.goto(f"{dagster}/assets/{ASSET}?view=checks")
    page.get_by_text("Evaluation result").wait_for()
    _skip_welcome(page)
    assert check.description.startswith("refused:")
    page.get_by_text(check.description).first.wait_for()
    tag = page.get_by_text("Failed", exact=True).last
    red, green, blue = (
        float(x)
        for x in re.findall(
            r"[\d.]+", tag.evaluate("e => getComputedStyle(e.parentElement).backgroundColor")
        )[:3]
    )
    assert red > 1.5 * green and red > 1.5 * blue, (red, green, blue)  # an error (red) tag, not a warning
    body = page.inner_text("body")
    assert "candidate_score" in body and "champion_score" in body and refused["run_url"] in body
    _shot(page, "dagster_gate_check_failed.png")
    # the materialization: the plots the MLflow run logged, and the link to that run
    page.goto(f"{dagster}/assets/{ASSET}?view=events")
    page.get_by_text("mlflow_run_url").first.wait_for()
    _skip_welcome(page)
    page.locator("tr", has_text="plot: model/feature_importance.png").get_by_text("[Show Markdown]").click()
    plot = page.get_by_role("dialog").locator("img[src^='data:image/png;base64,']")
    plot.wait_for()
    assert plot.evaluate("img => img.complete && img.naturalWidth") > 100
    assert (
        page.get_by_role("dialog").locator("a").first.get_attribute("href")
        == f"{refused['run_url']}/artifacts/model/feature_importance.png"
    )
    _shot(page, "dagster_materialization_plot.png")
    page.get_by_role("button", name="Close").click()
    href = page.locator(f"a[href*='/runs/{refused['run_id']}']").first.get_attribute("href")
    assert href == refused["run_url"]
    page.goto(href)
    page.get_by_text("dagster.run_url").first.wait_for()
    page.get_by_text(ASSET).first.wait_for()
    _shot(page, "mlflow_run_from_dagster.png")
    # ... and the MLflow run's dagster.run_url tag opens the Dagster run that made it
    dagster_run = ui_stack["result"].run_id
    shown = re.search(re.escape(dagster) + r"/runs/[0-9a-f-]{36}", page.inner_text("body"))
    assert shown and shown.group(0) == f"{dagster}/runs/{dagster_run}", page.inner_text("body")[:2000]
    page.goto(shown.group(0))
    page.get_by_text(CHECK).first.wait_for()
    _skip_welcome(page)
    page.get_by_text("Success").first.wait_for()
    assert dagster_run[:8] in page.inner_text("body")
    _shot(page, "dagster_run_from_mlflow.png")


def test_why_the_retraining_sensor_waits_shows_on_the_assets_page(ui_stack, page):
    """A sensor tick's skip reason is visible without opening the tick: the sensor reports it as
    an observation on retrained_policy, which the asset's page lists."""
    import dagster as dg

    from jobs.retraining import feedback_retraining_sensor

    with dg.DagsterInstance.from_config(str(ui_stack["home"])) as instance:
        with dg.build_sensor_context(instance=instance, cursor="0", resources=ui_stack["resources"]) as ctx:
            result = feedback_retraining_sensor(ctx)
        # what the sensor daemon does with a tick's asset events: store them in the instance
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
    reason = result.skip_reason.skip_message
    assert "waiting for" in reason
    page.goto(f"{ui_stack['dagster']}/assets/retrained_policy?view=events")
    _skip_welcome(page)
    page.get_by_text("waiting for", exact=False).first.wait_for()
    body = page.inner_text("body")
    assert "new_feedback_rows" in body and reason in body, body[:3000]
    _shot(page, "dagster_sensor_waiting.png")


def test_a_server_dies_with_the_process_that_started_it(tmp_path):
    """The supervisor: SIGTERM takes a server's whole process group down, and so does the death
    (SIGKILL: a test run stopped by a CI limit) of the process that started it."""
    server = Server(
        "sleeper",
        ["bash", "-c", "sleep 300 & sleep 300"],
        free_port(),
        dict(os.environ),
        tmp_path / "sleeper.log",
    )
    time.sleep(1.0)
    assert _group_alive(server.proc.pid)
    server.stop()
    assert not _group_alive(server.proc.pid, wait=5)

    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
            "sys.argv[1], str(os.getpid()), 'bash', '-c', 'sleep 300 & sleep 300'], start_new_session=True); "
            "print(p.pid, flush=True); time.sleep(300)",
            SUPERVISOR,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    group = int(starter.stdout.readline())
    time.sleep(1.0)
    assert _group_alive(group)
    starter.kill()
    starter.wait()
    assert not _group_alive(group, wait=20)
