"""An administrator's walk through the web console in headless Chromium (Debian's chromium and chromium-driver, driven
by selenium): log in, add a device, see a template's lint diagnostic at its line, save a good template and see the
device's file change, approve the phone that asked while unknown (pending), open a device page, send that phone a
check-sync, log out. Every step saves a
screenshot in OUT, and the devices page one more at a phone's width.

    python3 console_walkthrough.py BASE_URL OUT USER PASSWORD MAC PENDING_MAC

Exits 0 when every step saw what it should; else prints the step that did not and exits 1.
"""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

base, out, user, password, mac, pending = sys.argv[1:7]
os.makedirs(out, exist_ok=True)
options = webdriver.ChromeOptions()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
browser.set_page_load_timeout(20)
wait = WebDriverWait(browser, 20)
shots = 0


def shot(name):
    global shots
    shots += 1
    browser.save_screenshot(os.path.join(out, f"{shots:02d}-{name}.png"))


def check(condition, step):
    if not condition:
        shot("failed-" + step.replace(" ", "-")[:40])
        print(f"console walkthrough: {step}: not as expected at {browser.current_url}", file=sys.stderr)
        browser.quit()
        sys.exit(1)


def text():
    return browser.find_element(By.TAG_NAME, "body").text


def click(selector):
    browser.find_element(By.CSS_SELECTOR, selector).click()


try:
    # Log in.
    browser.get(base + "/devices")
    check(browser.current_url.endswith("/login"), "a stranger is sent to the login page")
    browser.find_element(By.NAME, "name").send_keys(user)
    browser.find_element(By.NAME, "password").send_keys(password)
    shot("login")
    click("form button")
    wait.until(seen.title_contains("Fleet"))
    check(f"{user} · write" in text(), "signed in")
    shot("fleet")

    # Add a device; its label is HTML someone typed, and shows as text.
    browser.get(base + "/devices")
    click("details summary")
    form = browser.find_element(By.CSS_SELECTOR, "form[method=post][action='/devices']")
    form.find_element(By.NAME, "mac").send_keys(mac)
    form.find_element(By.NAME, "model").send_keys("T46S")
    form.find_element(By.NAME, "label").send_keys("<b>Reception</b>")
    shot("add-device")
    form.find_element(By.TAG_NAME, "button").click()
    wait.until(seen.url_contains("message=added"))
    check("Device added." in text() and "<b>Reception</b>" in text(), "the device page after adding it")
    bare = mac.replace(":", "").lower()

    # A template with an unknown variable: Check shows the diagnostic at its line, nothing is saved.
    browser.get(f"{base}/templates/edit?path=devices/{bare}.cfg")
    area = browser.find_element(By.NAME, "text")
    area.clear()
    area.send_keys("#!version:1.0.0.1\naccount.1.label = {{label}}\naccount.1.user_name = {{extension}}\n")
    click("button[value=check]")
    wait.until(seen.presence_of_element_located((By.ID, "line-3")))
    flagged = browser.find_element(By.ID, "line-3")
    check("flagged" in flagged.get_attribute("class") and "unknown variable 'extension'" in flagged.text,
          "the lint diagnostic at line 3")
    check("line 3, column" in browser.find_element(By.CSS_SELECTOR, ".diagnostics").text, "the diagnostics list")
    shot("template-lint")

    # A good one is saved, and the device's file changes.
    area = browser.find_element(By.NAME, "text")
    area.clear()
    area.send_keys("#!version:1.0.0.1\naccount.1.label = {{label}}\n")
    click("button[value=save]")
    wait.until(seen.url_contains("saved=1"))
    check("Saved as version 1." in text(), "the template saved")
    shot("template-saved")
    browser.get(f"{base}/devices/{bare}/files/{bare}.cfg")
    check("account.1.label = <b>Reception</b>" in text(), "the device's rendered file")
    shot("rendered-file")

    # Approve the pending phone.
    browser.get(base + "/pending")
    check(pending in text(), "the pending phone listed")
    shot("pending")
    click(f"form[action='/devices/{pending}/approve'] button")
    wait.until(seen.url_contains("done="))
    check("No phone is waiting." in text(), "the phone approved")

    # The device page: its file, its effective setting with the template line and variable.
    browser.get(f"{base}/devices/{bare}")
    settings = browser.find_element(By.CSS_SELECTOR, "table.settings").text
    check("account.1.label" in settings and f"devices/{bare}.cfg:2, label from built-in" in settings,
          "the effective configuration with its provenance")
    shot("device")
    browser.set_window_size(390, 844)
    browser.get(base + "/devices")
    shot("devices-phone-width")
    browser.set_window_size(1280, 1000)

    # Check-sync to the phone that was pending (sipp answers as it); the job page follows it to the end.
    browser.get(f"{base}/devices/{pending}")
    check("active" in browser.find_element(By.TAG_NAME, "h1").text, "the approved phone is active")
    click(f"form[action='/devices/{pending}/check-sync'] button")
    wait.until(seen.url_contains("/jobs/"))
    WebDriverWait(browser, 40).until(lambda b: "Done." in text())
    check(browser.find_element(By.ID, "answered").text == "1", "the phone answered the check-sync")
    shot("check-sync")

    # Log out.
    click("form.logout button")
    wait.until(seen.url_contains("/login"))
    browser.get(base + "/devices")
    check(browser.current_url.endswith("/login"), "signed out")
    shot("logged-out")
finally:
    browser.quit()
print(f"console walkthrough: {shots} screenshots in {out}")
