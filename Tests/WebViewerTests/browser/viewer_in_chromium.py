"""Drives the web viewer in headless Chromium (Debian's chromium, chromium-driver, python3-selenium).

Usage: viewer_in_chromium.py VIEWER_URL LAB_PORT SCREENSHOT_DIR HTTP_SESSION RESP_SESSION

Records sessions through the running `wirelog serve` at LAB_PORT and checks what a person would
see in the viewer at VIEWER_URL: the list, a filter kept over a reload, a session in hex, a new
session appearing live, hostile payloads shown as text that run nothing, and the decoded http and
resp sessions (written into the store by the test) with their exchanges, decoded by default and
raw one click away. Exits 1 on the first failed check, printing it.
"""
import socket
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

VIEWER, LAB_PORT, SHOTS = sys.argv[1].rstrip("/"), int(sys.argv[2]), sys.argv[3]
HTTP_SESSION, RESP_SESSION = int(sys.argv[4]), int(sys.argv[5])
IMG = '<img src=x onerror="window.pwned=1">'
SCRIPT = "</script><script>window.pwned=2</script>"
HOSTILE_TARGET = "/search?q=<script>window.pwned=3</script>"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print("FAILED:", what)
        sys.exit(1)
    checks += 1
    print("ok:", what)


def converse(lines, keep_open=False):
    """Sends each line to the lab server and waits for its reply."""
    connection = socket.create_connection(("127.0.0.1", LAB_PORT))
    for line in lines:
        connection.sendall(line.encode() + b"\n")
        connection.recv(4096)
    if keep_open:
        return connection
    connection.close()


def session_rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")


def exchange_rows(driver):
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "#exchange-table tbody tr")]


def transcript_texts(driver):
    return [pre.text for pre in driver.find_elements(By.CSS_SELECTOR, "#transcript pre")]


def wait(driver, condition, what, seconds=30):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))
    except Exception:
        describe_page(driver)
        check(False, what)


def describe_page(driver):
    """What the page showed when a wait ran out: enough to tell a slow server from a broken page."""
    try:
        print("page:", driver.current_url)
        for box in driver.find_elements(By.ID, "error"):
            print("error box:", repr(box.text), "(shown)" if box.is_displayed() else "(hidden)")
        print("session rows:", len(session_rows(driver)), "live indicator:",
              [e.text for e in driver.find_elements(By.ID, "live")])
        for entry in driver.get_log("browser"):
            print("console:", entry["level"], entry["message"])
    except Exception as error:  # the report must not hide the failure it reports
        print("could not describe the page:", error)


options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--disable-dev-shm-usage"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    converse(["HELO", "DATA " + IMG, "DATA " + SCRIPT, "QUIT"])
    converse(["HELO", "DATA hello world", "FOO", "QUIT"])

    # The list loads and shows what was recorded; the live indicator turns on.
    driver.get(VIEWER + "/")
    wait(driver, lambda d: len(session_rows(d)) >= 2, "the list shows the recorded sessions")
    wait(driver, lambda d: d.find_element(By.ID, "live").text == "live", "the live indicator says live")
    recorders = {row.find_elements(By.TAG_NAME, "td")[4].text for row in session_rows(driver)}
    check(r"lab\xe2\x80\xae1\x1b" in recorders and not any("\u202e" in r or "\x1b" in r for r in recorders),
          "the recorder name shows escaped, as `sessions list` prints it: %s" % recorders)

    # A filter narrows the list and survives a reload.
    Select(driver.find_element(By.NAME, "kind")).select_by_visible_text("mock")
    driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(driver, lambda d: "kind=mock" in d.current_url, "the filter is in the address")
    wait(driver, lambda d: d.find_element(By.ID, "empty").is_displayed(), "no mock sessions: 'no sessions match'")
    driver.refresh()
    wait(driver, lambda d: Select(d.find_element(By.NAME, "kind")).first_selected_option.text == "mock", "the filter survives a reload")
    check(len(session_rows(driver)) == 0, "still narrowed after the reload")

    # A new session recorded by the running serve appears without a reload.
    driver.get(VIEWER + "/?kind=server")
    wait(driver, lambda d: len(session_rows(d)) >= 2, "the server sessions are listed")
    driver.execute_script("window.notReloaded = true")
    before = {row.get_attribute("data-id") for row in session_rows(driver)}
    open_connection = converse(["HELO", "DATA live one"], keep_open=True)
    wait(driver, lambda d: len({r.get_attribute("data-id") for r in session_rows(d)} - before) == 1, "the new session appears live")
    check(driver.execute_script("return window.notReloaded === true"), "the page was not reloaded")
    new_row = [r for r in session_rows(driver) if r.get_attribute("data-id") not in before][0]
    check("open" in new_row.text, "the new session shows as open")
    open_connection.sendall(b"QUIT\n")
    open_connection.recv(4096)
    open_connection.close()
    new_id = new_row.get_attribute("data-id")
    wait(driver, lambda d: "quit" in d.find_element(By.CSS_SELECTOR, '#sessions tr[data-id="%s"]' % new_id).text,
         "the session's end arrives live")
    driver.save_screenshot(SHOTS + "/web-sessions.png")

    # The hostile session: shown literally, nothing runs.
    hostile_id = min(int(i) for i in before)
    driver.get(VIEWER + "/sessions/%d" % hostile_id)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#transcript pre")) >= 6, "the transcript loads")
    texts = [pre.text for pre in driver.find_elements(By.CSS_SELECTOR, "#transcript pre")]
    check(("DATA " + IMG + "\\n") in texts, "the <img> payload shows literally")
    check(("DATA " + SCRIPT + "\\n") in texts, "the </script> payload shows literally")
    check(driver.execute_script("return typeof window.pwned") == "undefined", "no payload ran")
    check(driver.execute_script("return document.querySelectorAll('main img').length") == 0, "no <img> element was made")
    scripts = driver.execute_script("return [...document.scripts].map(s => s.getAttribute('src'))")
    check(scripts == ["/assets/common.js", "/assets/session.js"], "no script element beyond the page's own")
    check(driver.find_element(By.CSS_SELECTOR, "[data-view=lab]").is_displayed(), "a lab session offers the Lab view")
    wait(driver, lambda d: d.find_element(By.ID, "live").text == "ended", "an ended session's indicator says ended")
    driver.save_screenshot(SHOTS + "/web-session.png")

    # Switch to hex: offset, hex, ASCII as `sessions show --hex` prints them.
    driver.find_element(By.CSS_SELECTOR, "[data-view=hex]").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript pre")[0].text.startswith("0000  48 45 4c 4f 0a"), "the hex view shows the dump")
    check("view=hex" in driver.current_url, "the view is in the address")
    driver.refresh()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript pre") and
         d.find_elements(By.CSS_SELECTOR, "#transcript pre")[0].text.startswith("0000"), "hex survives a reload")

    # A decoded http session: its exchanges above the transcript, each message as HTTP reads.
    driver.get(VIEWER + "/sessions/%d" % HTTP_SESSION)
    wait(driver, lambda d: len(exchange_rows(d)) == 2, "the exchanges table lists the two exchanges")
    check(not driver.find_element(By.CSS_SELECTOR, "[data-view=lab]").is_displayed(), "an http session offers no Lab view")
    rows = exchange_rows(driver)
    check(rows[0][:4] == ["1", "GET", "/users/42", "200"] and rows[0][5], "GET /users/42 answered 200, with its duration: %s" % rows[0])
    check(rows[1][:4] == ["3", "GET", HOSTILE_TARGET, "503"], "the <script> target shows as text in the table: %s" % rows[1])
    wait(driver, lambda d: "GET /users/42 HTTP/1.1" in transcript_texts(d), "the decoded view is the default: the request line")
    texts = transcript_texts(driver)
    check("Host: api.example" in texts, "the request's headers below it")
    check(any(text.startswith("HTTP/1.1 200 OK  (") for text in texts), "the response with its exchange's duration: %s" % texts)
    check(("GET " + HOSTILE_TARGET + " HTTP/1.1") in texts, "the <script> target shows literally in the transcript")
    check(driver.execute_script("return typeof window.pwned") == "undefined", "no payload ran")
    check(driver.execute_script("return document.querySelectorAll('main script').length") == 0, "no script element was made")
    link = driver.find_elements(By.CSS_SELECTOR, "#exchange-table tbody a")[1]
    link.click()
    request_row = driver.find_element(By.ID, link.get_attribute("href").split("#")[1])
    check(("GET " + HOSTILE_TARGET + " HTTP/1.1") in request_row.text, "an exchange links to its request")
    driver.save_screenshot(SHOTS + "/web-decoded.png")

    # The bytes are one click away.
    driver.find_element(By.CSS_SELECTOR, "[data-view=text]").click()
    wait(driver, lambda d: "GET /users/42 HTTP/1.1\\r\\nHost: api.example\\r\\n\\r\\n" in transcript_texts(d),
         "the Text view shows the escaped bytes")
    check("view=text" in driver.current_url, "the raw view is in the address")
    driver.find_element(By.CSS_SELECTOR, "[data-view=decoded]").click()
    wait(driver, lambda d: "GET /users/42 HTTP/1.1" in transcript_texts(d), "back to the decoded view")

    # A decoded resp session: commands as redis-cli words them, an error reply's word in the table.
    driver.get(VIEWER + "/sessions/%d" % RESP_SESSION)
    wait(driver, lambda d: len(exchange_rows(d)) == 2, "the resp exchanges are listed")
    rows = exchange_rows(driver)
    check(rows[0][:5] == ["1", "SET", "greeting", "simple", ""], "SET greeting answered +OK: %s" % rows[0])
    check(rows[1][:5] == ["3", "INCR", "greeting", "error", "ERR"], "INCR greeting answered -ERR: %s" % rows[1])
    texts = transcript_texts(driver)
    check("SET greeting hello" in texts, "the command as its words")
    check(any(text.startswith("-ERR value is not an integer or out of range  (") for text in texts), "the error reply: %s" % texts)

    # The stats page does not follow the store: no live indicator, and no "offline" either.
    driver.get(VIEWER + "/stats")
    wait(driver, lambda d: "sessions," in d.find_element(By.ID, "totals").text, "the stats load")
    check(not driver.find_element(By.ID, "live").is_displayed(), "the stats page shows no live indicator")

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    check(not errors, "no errors in the browser console: %s" % errors)
finally:
    driver.quit()
print("%d passed, 0 failed" % checks)
