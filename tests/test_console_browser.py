"""The inbox console in a real browser (issue 26): headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium; nothing downloads a browser) against ``threadcore serve
--console`` on SQLite with a manual clock and on PostgreSQL with two workers.

One browser per module, one walk per storage: log in, inject a customer's message through the
form, see a message another client injects appear without a reload, open its thread, move the
clock 72 h and see the thread expire, post a delivery status from the outbound queue, check the
pages at a phone's size and by keyboard, and end with no JavaScript error in the browser's log.
Without Chromium the test skips outside CI and fails in CI (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import served
import stores

pytest_plugins = ["conftest_pg"]

CONTROL = "ctl-browser"
OWNER, SUPPORT_NUMBER = "+12092480001", "+12092480009"
GUEST, GUEST2 = "+16502240001", "+16502240002"
DIRECTORY = {
    "resources": [
        {
            "extensionId": "6249888001",
            "name": "Billing Queue",
            "phoneNumbers": [OWNER],
            "handlers": ["101", {"extensionId": "102", "name": "Ann Lee"}],
        },
        {
            "extensionId": "6249888002",
            "name": "Support",
            "phoneNumbers": [SUPPORT_NUMBER],
            "handlers": ["201"],
        },
    ]
}
TOKENS = {"tok-101": "101", "tok-201": "201"}
START = "2026-02-17T17:00:00Z"
#: How long the browser waits for what should come (a page, a live update): generous, since a
#: shared CI machine may be slow; the walk never sleeps a fixed time.
WAIT = 20
Serve = Callable[..., str]


def _tool(*names: str) -> str:
    from conftest_pg import in_ci  # (imported late: the plugin is registered first)

    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    message = f"none of {', '.join(names)} is on PATH (apt-get install chromium chromium-driver)"
    if in_ci():
        pytest.fail(f"the console's browser test cannot run in CI: {message}", pytrace=False)
    pytest.skip(f"the console's browser test skipped: {message}")
    raise AssertionError  # unreachable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Selenium, with the browser's console log)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = _tool("chromium", "chromium-browser")
    driver_path = _tool("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,800"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager downloads nothing
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``threadcore serve --console`` with the given options; yields a function returning
    its URL, and stops it (exit 0, no traceback) after the test."""
    common = ("--control-token", CONTROL, "--console")
    with served.servers(tmp_path, DIRECTORY, TOKENS, *common) as begin:

        def start(url: str, *options: str) -> str:
            process, base = begin(url, *options)
            assert process.stdout is not None
            assert f"{base}/console/" in process.stdout.readline()
            return base

        yield start


class Walk:
    """The browser on one served console, with the few moves the walk makes."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver, self.url = driver, url
        self.api = httpx.Client(base_url=url, timeout=30)

    def wait(self, condition: Callable[[Any], Any], what: str) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, WAIT).until(condition, f"waited for {what}")

    def find(self, testid: str, extra: str = "") -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]{extra}')

    def all(self, testid: str, extra: str = "") -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]{extra}')

    def fill(self, form: Any, **fields: str) -> None:
        from selenium.webdriver.common.by import By

        for name, value in fields.items():
            field = form.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)

    def submit(self, button: Any) -> None:
        """Click ``button`` and wait for the page it leads to (a new page has no marker)."""
        self.driver.execute_script("window.__before_submit = true")
        button.click()
        self.wait(_next_page, "the next page")

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.api.post(
            f"/threadcore/v1{path}", json=body, headers={"Authorization": f"Bearer {CONTROL}"}
        )
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def as_user(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.api.request(
            method,
            f"/restapi/v1.0/account/~/message-threads{path}",
            json=body,
            headers={"Authorization": "Bearer tok-101"},
        )
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document


def _next_page(driver: Any) -> bool:
    from selenium.common.exceptions import WebDriverException

    try:
        return bool(
            driver.execute_script(
                "return window.__before_submit !== true && document.readyState === 'complete'"
            )
        )
    except WebDriverException:  # the old page is going: ask again
        return False


def _walk(driver: Any, url: str, *, manual_clock: bool) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    walk = Walk(driver, url)
    driver.set_window_size(1280, 800)
    driver.get_log("browser")  # start with an empty log

    # Without the cookie, the console is the login page; the control token opens it.
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # the other walk's session
    driver.get(f"{url}/console/threads")
    assert "/console/login" in driver.current_url
    token = driver.find_element(By.NAME, "token")
    token.send_keys(CONTROL)
    walk.submit(driver.find_element(By.CSS_SELECTOR, '[data-testid="login-form"] button'))
    assert driver.current_url.endswith("/console/threads")

    # A customer's message through the form (its text is never markup).
    form = walk.find("inbound-form")
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    walk.fill(form, **{"from": GUEST, "to": OWNER, "text": hostile})
    walk.submit(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    (row,) = walk.all("thread-row")
    first = row.get_attribute("data-thread-id")
    assert hostile in row.text
    assert driver.execute_script("return window.__xss === undefined")

    # Another client's message appears without a reload.
    driver.execute_script("window.__same_page = true")
    message = walk.control(
        "/carrier/inbound", {"from": GUEST2, "to": OWNER, "text": "Is my order shipped?"}
    )
    second = message["conversation"]["id"] if "conversation" in message else None
    walk.wait(lambda d: len(walk.all("thread-row")) == 2, "the new thread's row, live")
    assert driver.execute_script("return window.__same_page === true"), "the page was reloaded"
    rows = {r.get_attribute("data-thread-id") for r in walk.all("thread-row")}
    second = second or next(iter(rows - {first}))
    assert rows == {first, second}

    # An answer goes out: the outbound queue shows it, and a delivery status button posts.
    walk.as_user("POST", f"/{second}/assign", {"assignee": {"extensionId": "101"}})
    sent = walk.as_user(
        "POST", "/messages",
        {"from": {"phoneNumber": OWNER}, "to": [{"phoneNumber": GUEST2}], "text": "Tomorrow"},
    )  # fmt: skip
    driver.get(f"{url}/console/outbound")
    queued = walk.find("outbound-row", f'[data-message-id="{sent["id"]}"]')
    walk.submit(queued.find_element(By.CSS_SELECTOR, 'button[value="Delivered"]'))
    delivered = walk.find("outbound-row", f'[data-message-id="{sent["id"]}"]')
    assert delivered.get_attribute("data-status") == "Delivered"

    # Open the first thread from its row: its whole timeline.
    driver.get(f"{url}/console/threads")
    link = walk.find("thread-row", f'[data-thread-id="{first}"]').find_element(By.TAG_NAME, "a")
    walk.submit(link)
    assert driver.current_url.endswith(f"/console/threads/{first}")
    kinds = [e.get_attribute("data-entry-type") for e in walk.all("timeline-entry")]
    assert kinds == ["ThreadCreatedHint", "AliveMessage"]
    assert driver.execute_script("return window.__xss === undefined")

    if manual_clock:
        # 72 hours later the thread has expired.
        before = walk.find("clock-now").get_attribute("datetime")
        advance = walk.find("clock-advance")
        walk.submit(advance.find_element(By.CSS_SELECTOR, 'button[value="PT72H"]'))
        assert walk.find("clock-now").get_attribute("datetime") > before
        assert walk.find("thread-status").text == "Resolved (ThreadExpired)"
        assert "ThreadResolvedHint" in [
            e.get_attribute("data-entry-type") for e in walk.all("timeline-entry")
        ]
    else:
        assert walk.all("clock-advance") == []  # a real clock: shown, not moved
        assert walk.find("clock-now").text

    # Keyboard: the first Tab reaches the skip link, which leads to the content.
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("href").endswith("#content")

    # A phone-sized window: every page fits its width (no sideways scrolling of the page).
    driver.set_window_size(390, 844)
    for path in ("/console/", "/console/threads", f"/console/threads/{first}",
                 "/console/outbound", "/console/directory"):  # fmt: skip
        driver.get(f"{url}{path}")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        inner = driver.execute_script("return window.innerWidth")
        assert width <= inner, f"{path} is {width}px wide in a {inner}px window"
    driver.set_window_size(1280, 800)

    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    driver.get("about:blank")  # no page polls the service while it stops
    walk.api.close()
    assert errors == [], errors


def test_the_console_in_a_browser_on_sqlite(browser: Any, serve: Serve, tmp_path: Path) -> None:
    url = serve(f"sqlite:///{tmp_path / 'console.db'}", "--manual-clock", START)
    _walk(browser, url, manual_clock=True)


def test_the_console_in_a_browser_on_postgresql_with_two_workers(
    browser: Any, pg_repo: object, serve: Serve
) -> None:
    url = serve(stores.url_of(pg_repo), "--workers", "2")
    # Everything but moving the clock: serve refuses a manual clock with several workers until
    # the clock is stored for all of them (test_serve.py says so); the console then follows it.
    _walk(browser, url, manual_clock=False)


@pytest.mark.xfail(
    strict=True,
    reason="serve runs a manual clock on one worker only until the clock is stored for every "
    "worker (the stored-clock issue); the console moves it through the control plane's "
    "move_clock, so this walk passes then: remove this mark when it does",
)
def test_the_console_moves_the_clock_of_two_workers_on_postgresql(
    browser: Any, pg_repo: object, serve: Serve
) -> None:
    url = serve(stores.url_of(pg_repo), "--workers", "2", "--manual-clock", START)
    _walk(browser, url, manual_clock=True)
