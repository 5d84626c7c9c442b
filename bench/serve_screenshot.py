"""The README's picture of `slt serve`'s page (docs/serve.png): the real signing clip translated in headless
Debian chromium, with the sentence shown and the extracted skeleton drawn over the clip.

Starts `slt serve --model RUN` on 127.0.0.1 (as bench/serve_load.py does), uploads the clip through the
page (as the browser test does), waits for the sentence and the painted skeleton, and saves the window.

    python -m bench.serve_screenshot --run demo/stage2
"""

from __future__ import annotations

import argparse
import base64
import io
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.browser import Browser
from bench.measure import SIGNING_CLIP
from bench.serve_load import serving

BUSIEST_FRAME = """const points = keypoints.points; let best = 0, most = -1;
    points.forEach((frame, i) => { const found = frame.filter((joint) => joint[0] !== null).length; if (found > most) [best, most] = [i, found]; });
    const video = document.getElementById('video'); video.controls = false; video.pause(); video.currentTime = (best + 0.5) / keypoints.fps;"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder of either stage")
    parser.add_argument("--clip", type=Path, default=SIGNING_CLIP)
    parser.add_argument("--out", type=Path, default=Path("docs/serve.png"))
    parser.add_argument("--size", default="1000x1150", help="the window, WIDTHxHEIGHT pixels")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))

    browser = Browser(width, height)
    try:
        with tempfile.TemporaryDirectory() as tmp, serving(args.run, Path(tmp) / "serve.log") as (url, _):
            browser.call("POST", "/url", {"url": url + "/"})
            browser.upload(args.clip)
            sentence = browser.wait_for("return document.getElementById('sentence').textContent", 120)
            browser.painted_pixels()
            # The video paused on the frame with the most joints found (the hands in view), skeleton drawn over it.
            browser.run(BUSIEST_FRAME)
            time.sleep(1)
            png = base64.b64decode(browser.call("GET", "/screenshot"))
    finally:
        browser.close()
    # 256 colours: a page with a photo in it, at a third of the size, for a README.
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB; the page says \"{sentence}\"")


if __name__ == "__main__":
    main()
