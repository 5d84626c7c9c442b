"""`slt serve`: the HTTP API through FastAPI's test client on the tiny trained runs and the real signing
clip (sentences, keypoints on request, every kind of bad upload answered with one line while the service
stays up, no upload left behind), and the command itself as a process on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import re
import shutil
import struct
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx2
import pytest
from fastapi.testclient import TestClient

from bench.browser import Browser, free_port
from helpers import slt, slt_process
from slt.serve import make_app
from slt.translate import Translator
from test_translator import clips_of, hypotheses


@pytest.fixture(scope="module")
def served(stage2_run):
    """(the test client of an app around the stage-2 run, the run, its translator); uploads over 1 MB or
    30 s are refused."""
    translator = Translator.from_pretrained(stage2_run)
    with TestClient(make_app(translator, max_upload_mb=1, max_seconds=30)) as client:
        yield client, stage2_run, translator


def post(client, path: Path | str, content: bytes | None = None, query: str = ""):
    content = Path(path).read_bytes() if content is None else content
    return client.post(f"/translate{query}", files={"file": (Path(path).name, content)})


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def assert_up_and_clean(client):
    """The service still answers, and no upload is left in its temp folder."""
    assert client.get("/health").json()["status"] == "ok"
    assert list(client.app.state.uploads.iterdir()) == []


def test_health_page_and_docs(served):
    client, run, _ = served
    assert client.get("/health").json() == {"status": "ok", "model": str(run), "max_upload_mb": 1, "max_seconds": 30}
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "http" not in page.text.split("<body>")[1]
    assert "/translate" in client.get("/openapi.json").json()["paths"]


def test_a_keypoint_file_gives_the_runs_sentence_and_keypoints_on_request(served, tiny_corpus):
    client, run, _ = served
    clip = clips_of(tiny_corpus)[0]
    answer = post(client, clip)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["text"] == hypotheses(run)[clip.stem] and body["input"] == clip.name
    assert set(body["seconds"]) == {"extraction", "encoder", "generation"} and 0 < body["detected"]["pose"] <= 1
    assert "keypoints" not in body and "error" not in body
    drawn = post(client, clip, query="?keypoints=true").json()["keypoints"]
    from slt.keypoints.io import read_parquet

    kp = read_parquet(clip)
    assert len(drawn["points"]) == kp.num_frames and len(drawn["points"][0]) == 75 and len(drawn["points"][0][0]) == 2
    assert drawn["fps"] == kp.fps and drawn["parts"]["right_hand"]["first"] == 54 and [0, 1] in drawn["parts"]["pose"]["bones"]
    assert_up_and_clean(client)


def test_bad_uploads_get_one_line_and_the_service_stays_up(served, tiny_corpus, monkeypatch):
    client, run, translator = served
    clip = clips_of(tiny_corpus)[0]
    cases = [
        (post(client, "notes.txt", b"not a video\n"), 415, "not a video, keypoint file"),
        (post(client, "big.mp4", b"\0" * (1024 * 1024 + 1)), 413, "larger than the limit of 1 MB"),
        (post(client, "empty.mp4", b""), 422, "empty"),
        (post(client, "corrupt.mp4", b"\1" * 5000), 422, "cannot be opened as a video"),
        (post(client, "corrupt.parquet", b"PAR1 nonsense"), 422, "unreadable keypoint file"),
        (post(client, "frames.zip", b"not a zip"), 422, "not a readable zip file"),
        (post(client, "frames.zip", zip_of({"../notes.txt": b"text"})), 422, "the zip holds no .png/.jpg/.jpeg frame images"),
        (post(client, "frames.zip", zip_of({"a.png": b"\0" * 2_000_000}, zipfile.ZIP_DEFLATED)), 413, "more than twice its size"),
        (client.post("/translate", headers={"content-type": "multipart/form-data"}, content=b"x"), 400, "malformed multipart"),
        (client.post("/translate", content=clip.read_bytes()), 415, "multipart/form-data"),
        (client.post("/translate", files=[("file", ("a.parquet", b"1")), ("file", ("b.parquet", b"2"))]), 400, "exactly one file"),
        (post(client, clip, query="?keypoints=maybe"), 422, "keypoints"),
    ]
    for answer, status, words in cases:
        assert answer.status_code == status, answer.text
        assert list(answer.json()) == ["error"] and words in answer.json()["error"] and "\n" not in answer.json()["error"]
    assert_up_and_clean(client)

    # Too long, under a stricter limit: the clip is refused before it is translated.
    with TestClient(make_app(translator, max_seconds=0.1)) as strict:
        answer = post(strict, clip)
        assert answer.status_code == 422 and "more than the limit of 0.1 s" in answer.json()["error"]
    assert not strict.app.state.uploads.exists()  # its temp folder goes when the app stops

    # A bug inside: a 500 with one line, and the next request is served.
    def boom(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(translator.model, "embed", boom)
    answer = post(client, clip)
    assert answer.status_code == 500 and answer.json() == {"error": "internal error: RuntimeError: boom"}
    monkeypatch.undo()
    assert post(client, clip).json()["text"] == hypotheses(run)[clip.stem]
    assert_up_and_clean(client)


@pytest.mark.slow
def test_the_real_signing_clip_as_video_and_as_zipped_frames(served, signing_clip, media):
    client, _, _ = served
    answer = post(client, signing_clip, query="?keypoints=true")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The tiny run's sentence for a real clip may be empty: what is checked is that it was decoded.
    assert isinstance(body["text"], str) and body["detected"]["pose"] > 0.9 and body["seconds"]["extraction"] > 0
    frames = body["keypoints"]["points"]
    assert 50 <= len(frames) <= 60 and body["keypoints"]["width"] == 540
    nose = frames[len(frames) // 2][0]  # mid-clip: inside the picture
    assert nose[0] is not None and 0 < nose[0] < 1 and 0 < nose[1] < 1

    zipped = io.BytesIO()
    capture = cv2.VideoCapture(str(signing_clip))
    with zipfile.ZipFile(zipped, "w") as archive:
        for i in range(8):  # under the 1-MB limit
            ok, frame = capture.read()
            archive.writestr(f"clip/frame{i}.jpg", cv2.imencode(".jpg", frame)[1].tobytes())
    capture.release()
    answer = post(client, "frames.zip", zipped.getvalue())
    assert answer.status_code == 200 and answer.json()["detected"]["pose"] > 0.9 and answer.json()["seconds"]["generation"] > 0

    answer = post(client, media / "bad" / "nobody.mp4")
    assert answer.status_code == 422 and answer.json() == {"error": "no person detected in any frame"}
    assert_up_and_clean(client)


def test_command_errors_are_one_line(tmp_path, stage1_run):
    for args, words in [
        (["--model", tmp_path], "cannot use the model"),
        (["--model", stage1_run, "--port", 70000], "--port must be 0-65535"),
        (["--model", stage1_run, "--max-upload-mb", 0], "must be positive"),
    ]:
        result = slt("serve", *args)
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output


@contextmanager
def running_server(run: Path) -> Iterator[str]:
    """`slt serve --model RUN` on a free port of 127.0.0.1, once it answers; yields its URL, stops it after."""
    port = free_port()
    server = slt_process("serve", "--model", run, "--port", port, wait=False)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "slt serve did not answer /health within 120 s"
            try:
                if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in server.stderr.read()


@pytest.mark.slow
def test_slt_serve_answers_requests_from_two_threads_then_stops(stage1_run, tiny_corpus):
    clip = clips_of(tiny_corpus)[0]
    with running_server(stage1_run) as url:

        def translate(_):
            return httpx2.post(f"{url}/translate", files={"file": (clip.name, clip.read_bytes())}, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(translate, range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        assert {a.json()["text"] for a in answers} == {hypotheses(stage1_run)[clip.stem]}
        assert httpx2.get(f"{url}/health", timeout=5).status_code == 200


@pytest.mark.slow
def test_the_page_translates_the_real_clip_draws_its_skeleton_and_shows_errors(stage2_run, signing_clip, tmp_path):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver; .ci/run installs them)")
    browser = Browser()
    try:
        with running_server(stage2_run) as url:
            browser.call("POST", "/url", {"url": url + "/"})
            browser.upload(signing_clip)
            sentence = browser.wait_for("return document.getElementById('sentence').textContent")
            assert sentence and browser.run("return document.getElementById('error').textContent") == ""
            assert "found in frames: pose" in browser.run("return document.getElementById('details').textContent")
            # The skeleton of the first frame, drawn over the video: painted pixels on the canvas.
            assert browser.painted_pixels() > 100
            screenshot = tmp_path / "page.png"
            screenshot.write_bytes(base64.b64decode(browser.call("GET", "/screenshot")))
            assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            notes = tmp_path / "notes.txt"
            notes.write_text("not a video\n")
            browser.upload(notes)
            error = browser.wait_for("return document.getElementById('error').textContent")
            assert error.startswith("not a video, keypoint file") and browser.run("return document.getElementById('sentence').textContent") == ""

            # Recording from the (fake) camera: the recording is uploaded and read; nobody is in its picture.
            browser.call("POST", f"/element/{browser.element('#record')}/click", {})
            browser.wait_for("return document.getElementById('record').textContent.startsWith('Stop')", 10)
            time.sleep(2)
            browser.call("POST", f"/element/{browser.element('#record')}/click", {})
            error = browser.wait_for("return document.getElementById('error').textContent")
            assert error == "no person detected in any frame"

            # Live from the (fake) camera: frames go over the WebSocket until stopped, then the summary comes.
            browser.call("POST", f"/element/{browser.element('#live')}/click", {})
            browser.wait_for("return document.getElementById('state').textContent.startsWith('live')", 20)
            time.sleep(2)
            browser.call("POST", f"/element/{browser.element('#live')}/click", {})
            summary = browser.wait_for("return document.getElementById('details').textContent")
            assert re.fullmatch(r"(\d+) frames sent, [1-9]\d* processed, \d+ dropped; 0 sentences", summary), summary
            assert int(summary.split()[0]) >= 10 and browser.run("return document.getElementById('error').textContent") == ""
    finally:
        browser.close()


def frame_message(t: float, image) -> bytes:
    """A `/live` frame: its time as a little-endian float64, then the image as JPEG."""
    return struct.pack("<d", t) + cv2.imencode(".jpg", image)[1].tobytes()


@pytest.mark.slow
def test_live_mode_translates_the_real_clip_sent_frame_by_frame_and_answers_bad_frames(served, signing_clip, monkeypatch):
    client, _, translator = served
    capture = cv2.VideoCapture(str(signing_clip))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    with client.websocket_connect("/live") as socket:
        with client.websocket_connect("/live") as second:  # one live session at a time
            assert "another live session is running" in second.receive_json()["error"]
        socket.send_bytes(b"\0" * 4)
        assert "a frame is its time" in socket.receive_json()["error"]
        socket.send_bytes(struct.pack("<d", 0.0) + b"not an image")
        assert "cannot be decoded" in socket.receive_json()["error"]
        socket.send_bytes(struct.pack("<d", 0.01) + b"\xff" * (1024 * 1024))
        assert "larger than 1 MB" in socket.receive_json()["error"]
        for i, image in enumerate(frames):  # at the clip's pace, 30 frames a second
            socket.send_bytes(frame_message(i / 30, image))
            time.sleep(1 / 30)
        socket.send_bytes(frame_message(0.5, frames[0]))
        assert "frame times must increase" in socket.receive_json()["error"]
        socket.send_text("end")
        messages = []
        while "summary" not in (message := socket.receive_json()):
            messages.append(message)
    sentences = [m["sentence"] for m in messages]
    assert sentences and len(sentences) == len(messages), messages  # no error among them
    assert all(set(s) == {"start", "end", "text", "seconds"} and 0 <= s["start"] < s["end"] <= 2.0 for s in sentences)
    counts = message["summary"]
    assert counts["frames"] == len(frames) + 1 and counts["processed"] + counts["dropped"] == len(frames)
    assert counts["processed"] > 0 and counts["sentences"] == len(sentences)

    # A bug inside: the stream ends with one line, and the service goes on.
    def boom(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(translator.model, "embed", boom)
    with client.websocket_connect("/live") as socket:
        for i, image in enumerate(frames[:10]):
            socket.send_bytes(frame_message(i / 30, image))
        socket.send_text("end")
        assert socket.receive_json() == {"error": "internal error: RuntimeError: boom"}
    monkeypatch.undo()
    assert_up_and_clean(client)
