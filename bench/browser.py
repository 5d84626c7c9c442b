"""Headless Debian chromium driven over WebDriver, and the page of `slt serve` used through it: what the
browser test (tests/test_serve.py) and the README's screenshot (bench/serve_screenshot.py) share."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless Debian chromium, driven through chromedriver's W3C WebDriver API (plain HTTP: no client
    library needed)."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the key WebDriver names an element by

    def __init__(self, width: int = 1000, height: int = 1200):
        port = free_port()
        self.driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}/session"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/status", timeout=2).json()["value"]["ready"]:
                    break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("chromedriver did not start within 30 s") from None
                time.sleep(0.2)
        fake_camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a test pattern, allowed
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}", *fake_camera]
        options = {"binary": shutil.which("chromium"), "args": args}
        self.url += "/" + self.call("POST", "", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})["sessionId"]

    def call(self, method: str, path: str, body: dict | None = None):
        """One WebDriver command on this session (`path` after the session's URL); its value."""
        answer = httpx2.request(method, self.url + path, json=body, timeout=60).json()["value"]
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"WebDriver: {answer}")
        return answer

    def run(self, script: str, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def element(self, css: str) -> str:
        return self.call("POST", "/element", {"using": "css selector", "value": css})[self.ELEMENT]

    def wait_for(self, script: str, seconds: float = 60):
        """The value of `script` once it is truthy; fails after `seconds`."""
        deadline = time.monotonic() + seconds
        while not (value := self.run(script)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {seconds} s for: {script}")
            time.sleep(0.3)
        return value

    def upload(self, path: Path) -> None:
        """Pick `path` in the page's file input and send it."""
        self.call("POST", f"/element/{self.element('#file')}/clear", {})
        self.call("POST", f"/element/{self.element('#file')}/value", {"text": str(path)})
        self.call("POST", f"/element/{self.element('#send')}/click", {})

    def painted_pixels(self, seconds: float = 30) -> int:
        """How many pixels of the page's canvas (the skeleton over the video) are painted, once any are."""
        painted = """const c = document.getElementById('canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"""
        return self.wait_for(painted, seconds)

    def close(self):
        try:
            httpx2.delete(self.url, timeout=30)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)
