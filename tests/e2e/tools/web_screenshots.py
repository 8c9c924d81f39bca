#!/usr/bin/python3
"""Screenshots of the web client's states, through the DevTools protocol of headless Chromium
pages already running (--remote-debugging-port), for web_screenshots_test.sh. Standard library
and ws_client.py only.

Usage: web_screenshots.py STEPS.json
STEPS.json: {"browsers": {"NAME": PORT, ...}, "steps": [STEP, ...]}, each STEP one of
  {"page": NAME, "viewport": [WIDTH, HEIGHT, SCALE, MOBILE]}
  {"page": NAME, "navigate": URL}
  {"page": NAME, "until": JS_EXPRESSION, "timeout": SECONDS}   waits until it is true
  {"page": NAME, "click": CSS_SELECTOR, "timeout": SECONDS}    waits for it, enabled, clicks
  {"page": NAME, "shot": PNG_PATH}
  {"page": NAME, "measure": JS_EXPRESSION, "max": NUMBER, "what": TEXT}   fails above max
Exits non-zero, naming the step, when a step fails or times out.
"""
import base64
import json
import re
import socket
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ws_client import WebSocket  # noqa: E402


class Page:
    def __init__(self, url):
        parsed = urlparse(url)
        self.socket = WebSocket(parsed.hostname, parsed.port, path=parsed.path, timeout=30)
        self.next_id = 1

    def call(self, method, params=None):
        call_id = self.next_id
        self.next_id += 1
        self.socket.send({"id": call_id, "method": method, "params": params or {}})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = self.socket.recv()  # events in between are skipped
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(message["error"].get("message", "error"))
                return message.get("result", {})
        raise RuntimeError(f"{method}: no answer")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")


def connect(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page:
                connection = Page(page["webSocketDebuggerUrl"])
                connection.call("Page.enable")
                return connection
        except (OSError, ValueError):
            pass  # not up yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"no page on DevTools port {port}")
        time.sleep(0.2)


def until(page, expression, seconds):
    deadline = time.monotonic() + seconds
    while not page.evaluate(f"!!({expression})"):
        if time.monotonic() > deadline:
            raise RuntimeError("timeout")
        time.sleep(0.2)


def main():
    plan = json.loads(Path(sys.argv[1]).read_text())
    pages = {name: connect(port) for name, port in plan["browsers"].items()}
    for index, step in enumerate(plan["steps"]):
        page = pages[step["page"]]
        # Invitation tokens (a link's fragment) stay out of the log.
        shown = re.sub(r'#[^"]*', "#...", json.dumps(step))[:90]
        what = f"step {index + 1} ({shown})"
        try:
            if "viewport" in step:
                width, height, scale, mobile = (step["viewport"] + [1, False])[:4]
                page.call("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": scale or 1,
                           "mobile": bool(mobile)})
            elif "languages" in step:
                # The browser's languages (navigator.languages and Accept-Language), as a
                # person's browser settings give them.
                agent = page.evaluate("navigator.userAgent")
                page.call("Emulation.setUserAgentOverride",
                          {"userAgent": agent, "acceptLanguage": step["languages"]})
            elif "navigate" in step:
                # Through a blank page: a link that differs only in its fragment loads afresh.
                page.call("Page.navigate", {"url": "about:blank"})
                until(page, "location.href === 'about:blank'", 10)
                page.call("Page.navigate", {"url": step["navigate"]})
            elif "until" in step:
                try:
                    until(page, step["until"], step.get("timeout", 20))
                except RuntimeError as error:
                    # What the page showed instead, when the step says how to see it.
                    if "show" not in step:
                        raise
                    raise RuntimeError(f"{error}: {page.evaluate(step['show'])}") from error
            elif "click" in step:
                selector = json.dumps(step["click"])
                until(page, f"(() => {{ const e = document.querySelector({selector}); "
                            f"return e && !e.disabled; }})()", step.get("timeout", 20))
                page.evaluate(f"document.querySelector({selector}).click()")
            elif "measure" in step:
                value = page.evaluate(step["measure"])
                if not isinstance(value, (int, float)) or value > step["max"]:
                    raise RuntimeError(f"{step.get('what', 'value')}: {value} > {step['max']}")
                print(f"measured {step.get('what', 'value')}: {value:.0f}", flush=True)
            elif "shot" in step:
                shot = page.call("Page.captureScreenshot", {"format": "png"})
                Path(step["shot"]).write_bytes(base64.b64decode(shot["data"]))
        except (RuntimeError, OSError, socket.timeout, ValueError) as error:
            print(f"{what}: {error}", file=sys.stderr)
            return 1
        print(f"ok {what}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
