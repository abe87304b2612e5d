"""The operations console in a real headless browser (Debian's chromium and
chromedriver through Selenium), served by the receiver under gunicorn
against real PostgreSQL, with a real Celery worker doing the replay.

Read-only users see everything and can change nothing; operators search an
order, read its timeline, replay an item (one ShipBob order, one audit row)
and resolve a whole attention group; a POST without the CSRF token and a
logged-out visit are refused. The test saves docs/console.png for README."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from cli.stack import Stack, env_for
from connector.db.models import Job, JobState, OperatorAction
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from tests.conftest import REDIS_URL
from tests.helpers import eventually, hook, seed_world

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
SECRET_KEY = "k" * 40
USERS = {"alice": ("operator", "alice-pw-7f3a"), "bob": ("read-only", "bob-pw-91c2")}
ADDRESS = {"Name": "Grace Hopper", "Address1": "1 Navy Way", "City": "Arlington", "State": "VA",
           "ZipCode": "22202", "Country": "US"}
WAIT = 30


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture
def browser(tmp_path):
    paths = _browser_paths()
    if paths is None:
        reason = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    yield driver
    driver.quit()


def add_orders(ifs, orders: dict[str, dict]) -> None:
    hook(ifs, "orders", {"orders": [
        {"OrderNo": no, "Contract": "S01", "ShipViaCode": o.get("via", "UPS-GND"), "address": ADDRESS,
         "lines": [{"PartNo": part, "BuyQtyDue": 1} for part in o["parts"]]} for no, o in orders.items()]})


@pytest.fixture
def world(settings, sandboxes, ctx, tmp_path):
    """Parked orders in two groups, one pushed order, and the receiver with
    the console under gunicorn beside one Celery worker for the push queue."""
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=0)
    add_orders(ifs, {"C9001": {"parts": ["P00001", "NEW-SKU"]}, "C9002": {"parts": ["NEW-SKU"]},
                     "C9003": {"parts": ["P00002", "NEW-SKU"]}, "C9010": {"parts": ["P00003"]},
                     "C9020": {"parts": ["P00004"], "via": "CAMEL"}})
    results = {run_job(ctx, job_id).status for job_id in poll_orders(ctx)}
    assert results == {"done", "attention"}
    users = {name: {"role": role, "password_hash": generate_password_hash(pw)} for name, (role, pw) in USERS.items()}
    env = env_for(settings, broker_url=REDIS_URL, console_secret_key=SECRET_KEY, console_cookie_secure="false",
                  worker_metrics_port=0)
    env["CONSOLE_USERS"] = json.dumps(users)
    stack = Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob)
    try:
        stack.start_receiver(workers=1)
        stack.start_worker("push", concurrency=1, queues=["order_push"], pool="solo")
        yield ctx, shipbob, stack
    finally:
        stack.stop()


def wait_for(driver, by, value):
    return WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((by, value)))


def login(driver, base: str, name: str) -> None:
    driver.get(f"{base}/console/login")
    wait_for(driver, By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(USERS[name][1])
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, WAIT).until(EC.text_to_be_present_in_element((By.ID, "who"), name))


def logout(driver) -> None:
    driver.find_element(By.ID, "logout").click()
    wait_for(driver, By.ID, "login-form")


def job_by_key(ctx, key: str) -> Job:
    with ctx.session() as session:
        job = session.execute(select(Job).where(Job.key == key)).scalar_one()
        session.expunge(job)
        return job


def browser_session(driver) -> tuple[requests.Session, str]:
    """The browser's session cookie in a requests session, and the page's CSRF token."""
    http = requests.Session()
    for cookie in driver.get_cookies():
        http.cookies.set(cookie["name"], cookie["value"], path=cookie.get("path", "/"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', driver.page_source).group(1)
    return http, token


def group_of(driver, headline: str):
    for section in driver.find_elements(By.CSS_SELECTOR, "section.group"):
        if section.find_element(By.CLASS_NAME, "headline").text == headline:
            return section
    raise AssertionError(f"no group {headline!r} on the page")


def test_console_roles_search_timeline_group_resolve_and_replay(world, browser):
    ctx, shipbob, stack = world
    base = stack.receiver_url
    parked = job_by_key(ctx, "C9001")

    # logged out: every page sends the browser to the login form
    browser.get(f"{base}/console/order/C9010")
    wait_for(browser, By.ID, "login-form")
    assert "/console/login" in browser.current_url
    assert requests.post(f"{base}/console/items/{parked.id}/replay", timeout=10,
                         allow_redirects=False).status_code == 403  # no session, no token

    # read-only: sees the counts and the grouped reasons, gets no action buttons, and is refused
    login(browser, base, "bob")
    wait_for(browser, By.ID, "counts")
    group = group_of(browser, "SKU NEW-SKU blocks 3 orders")
    assert len(group.find_elements(By.CSS_SELECTOR, "tr[id^=item-]")) == 3
    assert sorted(b.text for b in browser.find_elements(By.TAG_NAME, "button")) == ["Log out", "Search"]
    assert browser.find_element(By.CSS_SELECTOR, "#counts-order_push td[data-state=attention]").text == "4"
    http, token = browser_session(browser)
    refused = http.post(f"{base}/console/items/{parked.id}/replay", data={"csrf_token": token}, timeout=10,
                        allow_redirects=False)
    assert refused.status_code == 403 and "operator role" in refused.text
    logout(browser)

    # operator: sees the actions; a screenshot of the overview for README
    login(browser, base, "alice")
    wait_for(browser, By.ID, f"replay-{parked.id}")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    no_token, _ = browser_session(browser)
    assert no_token.post(f"{base}/console/items/{parked.id}/resolve", data={"note": "x"}, timeout=10,
                         allow_redirects=False).status_code == 403  # the operator's cookie but no CSRF token
    with ctx.session() as session:
        assert session.get(Job, parked.id).state == JobState.ATTENTION.value

    # search by the IFS order number and by the ShipBob order id: the order's timeline
    pushed = job_by_key(ctx, "C9010")
    for ref in ("C9010", pushed.shipbob_refs[0]):
        search = wait_for(browser, By.ID, "search")
        search.clear()
        search.send_keys(ref)
        browser.find_element(By.CSS_SELECTOR, "form[role=search] button").click()
        WebDriverWait(browser, WAIT).until(EC.text_to_be_present_in_element((By.ID, "order-ref"), ref))
        assert browser.find_element(By.ID, f"state-{pushed.id}").text == "done"
        timeline = browser.find_element(By.ID, "timeline").text
        assert "created" in timeline and "attempt: done" in timeline
    assert "whsec_" not in browser.page_source and SECRET_KEY not in browser.page_source

    # replay one parked order from the page once its SKU exists: it lands exactly once
    hook(shipbob, "seed", {"skus": ["NEW-SKU"]})
    browser.get(f"{base}/console/order/C9001")
    wait_for(browser, By.ID, f"note-replay-{parked.id}").send_keys("SKU created at ShipBob")
    browser.find_element(By.ID, f"replay-{parked.id}").click()
    WebDriverWait(browser, WAIT).until(EC.text_to_be_present_in_element((By.ID, "flash"), "replay: 1 item(s)"))
    eventually(lambda: job_by_key(ctx, "C9001").state == JobState.DONE.value, 60, "the replayed push to finish")
    orders = hook(shipbob, "dump/orders", method="GET")
    assert [o["reference_id"] for o in orders].count("C9001") == 1
    with ctx.session() as session:
        audit = session.execute(select(OperatorAction).where(OperatorAction.job_id == parked.id)).scalars().all()
        assert [(a.action, a.actor, a.note) for a in audit] == [("replay", "alice", "SKU created at ShipBob")]
    browser.refresh()
    WebDriverWait(browser, WAIT).until(EC.text_to_be_present_in_element((By.ID, f"state-{parked.id}"), "done"))
    assert "replay by alice" in browser.find_element(By.ID, f"audit-{parked.id}").text

    # resolve the rest of the group at once, with a note; each item carries the audit
    browser.get(f"{base}/console/")
    group = group_of(wait_for(browser, By.ID, "counts").parent, "SKU NEW-SKU blocks 2 orders")
    group_id = group.get_attribute("id").removeprefix("group-")
    group.find_element(By.ID, f"group-note-resolve-{group_id}").send_keys("cancelled by the customer")
    group.find_element(By.ID, f"group-resolve-{group_id}").click()
    WebDriverWait(browser, WAIT).until(EC.text_to_be_present_in_element((By.ID, "flash"), "resolve: 2 item(s)"))
    assert "SKU NEW-SKU" not in browser.find_element(By.TAG_NAME, "main").text.split("Failed")[0].split(
        "Needs attention")[1]
    with ctx.session() as session:
        rows = session.execute(select(Job.key, Job.state, Job.resolved_by, Job.resolution_note)
                               .where(Job.key.in_(["C9002", "C9003"])).order_by(Job.key)).all()
        assert [tuple(r) for r in rows] == [("C9002", "resolved", "alice", "cancelled by the customer"),
                                            ("C9003", "resolved", "alice", "cancelled by the customer")]
        resolved = session.execute(select(OperatorAction.action).where(OperatorAction.action == "resolve")).all()
        assert len(resolved) == 2
    browser.get(f"{base}/console/order/C9002")
    assert "resolve by alice" in wait_for(browser, By.CSS_SELECTOR, "td[id^=audit-]").text
    # the other group is untouched
    assert job_by_key(ctx, "C9020").state == JobState.ATTENTION.value
    assert len(hook(shipbob, "dump/orders", method="GET")) == 2  # C9010 and the replayed C9001
