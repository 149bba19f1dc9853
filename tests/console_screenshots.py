"""The console's screenshots in docs/console/ (issue 26), taken as a new user sees them.

Run ``python tests/console_screenshots.py`` (headless Chromium and chromedriver on PATH, the test
extra installed): it starts ``threadcore serve --console --demo``, logs in with the token it
prints, and saves each page at 1280x800 (and the thread list at a phone's 390x844).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

OUT = Path(__file__).resolve().parent.parent / "docs" / "console"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "threadcore", "serve", "--console", "--demo", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = re.search(r"serving (http://\S+)", server.stdout.readline())
    token = re.search(r"control token (\S+)\)", server.stdout.readline())
    if url is None or token is None:
        raise SystemExit("serve --console --demo did not start")
    base = url.group(1)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--hide-scrollbars", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "chromedriver")
    )
    try:
        driver.set_window_size(1280, 800)
        driver.get(f"{base}/console/")
        driver.save_screenshot(str(OUT / "login.png"))
        driver.find_element(By.NAME, "token").send_keys(token.group(1))
        driver.find_element(By.CSS_SELECTOR, '[data-testid="login-form"] button').click()
        shots = {
            "overview": "/console/",
            "threads": "/console/threads?status=Open",
            "outbound": "/console/outbound",
            "directory": "/console/directory",
        }
        for name, path in shots.items():
            driver.get(base + path)
            driver.save_screenshot(str(OUT / f"{name}.png"))
        driver.get(f"{base}/console/threads?status=Open")
        rows = driver.find_elements(By.CSS_SELECTOR, '[data-testid="thread-row"] a')
        rows[3].click()
        driver.save_screenshot(str(OUT / "thread.png"))
        driver.find_element(By.CSS_SELECTOR, 'button[value="PT72H"]').click()
        driver.save_screenshot(str(OUT / "thread-72h-later.png"))
        driver.set_window_size(390, 844)
        driver.get(f"{base}/console/threads")
        driver.save_screenshot(str(OUT / "threads-phone.png"))
    finally:
        driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
