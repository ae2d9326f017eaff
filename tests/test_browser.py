"""The app in a real browser: headless Debian Chromium, driven by playwright, as a user clicks through it.

Screenshots of each stage go to $SCREENSHOT_DIR (default: the test's temp folder).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


@pytest.fixture
def page(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.set_default_timeout(120_000)
            sync_api.expect.set_options(timeout=120_000)  # learning takes a while on 2 CPU cores
            page.goto(app_url)
            yield page
        finally:
            browser.close()


def test_upload_learn_see_progress_then_generate(page, app, clip_path, tmp_path):
    from playwright.sync_api import expect

    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    expect(page.get_by_text("1. Learn a motion")).to_be_visible()

    page.locator("#learn-clip input[type=file]").set_input_files(str(clip_path))
    expect(page.locator("#learn-clip video")).to_have_count(1)  # the upload is shown in the player
    page.locator("#learn-name textarea, #learn-name input").first.fill("browser orbit ↻")
    page.get_by_text("Advanced").first.click()
    steps = page.locator("#learn-steps input[type=number]")
    steps.fill("40")
    steps.press("Tab")
    page.screenshot(path=shots / "1-uploaded.png", full_page=True)

    page.get_by_role("button", name="Start learning").click()
    status = page.locator("#learn-status")
    expect(status).to_contain_text(re.compile(r"step \d+ / 40 · loss \d\.\d+ · about \d+ s left"))
    page.screenshot(path=shots / "2-learning.png", full_page=True)
    expect(status).to_contain_text("Saved browser orbit ↻ to your library after 40 steps")
    expect(page.locator("#library-gallery")).to_contain_text("browser orbit ↻")
    page.screenshot(path=shots / "3-learned.png", full_page=True)

    page.locator("#generate-prompt textarea, #generate-prompt input").first.fill("a blue square")
    page.get_by_text("Advanced").nth(1).click()
    sample_steps = page.locator("#generate-steps input")
    sample_steps.fill("2")
    sample_steps.press("Tab")
    page.get_by_role("button", name="Generate", exact=True).click()
    video = page.locator("#generated-video video")
    expect(video).to_have_attribute("src", re.compile(r"object-seed0\.mp4"))
    page.screenshot(path=shots / "4-generated.png", full_page=True)
    assert "browser orbit ↻" in app.studio.library().names()
