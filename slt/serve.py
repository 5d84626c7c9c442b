"""`slt serve`: a local web page and HTTP API that translate uploaded clips with one loaded `Translator`.

FastAPI on uvicorn: a widely used, well-kept stack that gives request validation, the OpenAPI docs
(`/docs`) and an in-process test client for free; uvicorn is its usual server. The model is loaded once,
at start-up. Uploads stream in side by side, but translations run one at a time, on the Translator's lock:
the requests waiting for it queue in Starlette's thread pool instead of splitting two cores between them.

Each upload is streamed straight into a private folder of its own (`tempfile.mkdtemp`: mode 0700, inside
one folder made at start-up), counted against the size limit as it arrives, and the folder is deleted
once the response is made; nothing is written anywhere else (the multipart parser is python-multipart's,
driven here, because Starlette's own spools large files into the system's temp folder).

Bad input gets a 4xx response `{"error": "one line"}`; anything else that goes wrong, a 500 with one line,
logged, and the service goes on. Not covered: a crash inside MediaPipe's native code ends the process,
since a `Translator` extracts in its own process.

The page's live mode is a WebSocket, `/live`: the page sends camera frames, the server runs a
`slt.live.LiveSession` on them and sends each sentence back as it is decoded (see `live`). One live
session at a time (each holds a MediaPipe graph, and one keeps a core busy); frames are at most
`LIVE_FRAME_MB` MB and `LIVE_MAX_SIDE` pixels a side, at most `LIVE_MAX_FPS` a second are taken, and
frames that come while the one before is still being processed are dropped, as `slt live` drops them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import struct
import tempfile
import time
import zipfile
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError
from starlette.concurrency import run_in_threadpool

from slt.keypoints.formats import KEYPOINT_SUFFIXES
from slt.keypoints.frames import IMAGE_EXTENSIONS, ClipSource, FrameReader, frame_images, is_video
from slt.keypoints.io import Keypoints
from slt.keypoints.schema import PART_SPECS, part_slices
from slt.live import LiveSession
from slt.translate import ClipReader, Translation, Translator

log = logging.getLogger("slt.serve")

LIVE_FRAME_MB = 1  # a 1280x720 JPEG is 0.1-0.3 MB
LIVE_MAX_SIDE = 1920
LIVE_MAX_FPS = 30  # frames closer together than this are dropped before they are decoded

# The request body as OpenAPI describes it: the endpoint reads the stream itself (see the module docstring).
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary", "description": "a video, a keypoint file (.parquet, .pose) or a zip of frame images"}},
                    "required": ["file"],
                }
            }
        },
    }
}


class BadInput(Exception):
    """An upload that cannot be translated: the HTTP status and the one line that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def internal_error(failure: Exception) -> str:
    """The one line that reports a failure that is not the input's fault."""
    return f"internal error: {type(failure).__name__}: {next(iter(str(failure).splitlines()), '')}"


def make_app(translator: Translator, max_upload_mb: float = 100, max_seconds: float = 60) -> FastAPI:
    """The web app around `translator`; uploads over `max_upload_mb` MB or clips over `max_seconds` are refused."""
    max_bytes = int(max_upload_mb * 1024 * 1024)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.uploads = Path(tempfile.mkdtemp(prefix="slt-serve-"))
        try:
            yield
        finally:
            shutil.rmtree(app.state.uploads, ignore_errors=True)

    app = FastAPI(title="slt", summary="Sign language clips to sentences", lifespan=lifespan)
    page = (resources.files("slt") / "serve.html").read_text()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        return error(422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict:
        """Whether the service is up, and the run it translates with."""
        return {"status": "ok", "model": str(translator.run_dir), "max_upload_mb": max_upload_mb, "max_seconds": max_seconds}

    @app.post("/translate", openapi_extra=UPLOAD_BODY)
    async def translate(request: Request, keypoints: bool = False) -> JSONResponse:
        """Translate one uploaded clip (multipart field `file`): its sentence, the seconds each stage took, the
        fraction of frames each body part was found in, a warning if any, and with `?keypoints=true` the
        keypoints to draw (x, y as fractions of the image; null where a part was not found)."""
        folder = Path(tempfile.mkdtemp(dir=request.app.state.uploads))
        try:
            name, path = await receive_upload(request, folder, max_bytes)
            result = await run_in_threadpool(translate_upload, translator, path, max_seconds)
            body = {**result.as_dict(), "input": name}
            del body["error"]
            if keypoints:
                body["keypoints"] = drawable(result.keypoints)
            return JSONResponse(body)
        except BadInput as bad:
            return error(bad.status, str(bad))
        except Exception as failure:  # a bug, or a resource that ran out: this request fails, the service goes on
            log.exception("translating an upload failed")
            return error(500, internal_error(failure))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    live_session = asyncio.Lock()

    @app.websocket("/live")
    async def live(socket: WebSocket) -> None:
        """Live translation of a stream of frames. Each binary message is one frame: its time in seconds
        since the stream began (8 bytes, a little-endian float64), then the image (JPEG or PNG). The text
        message `end` ends the stream. Sent back as JSON: `{"sentence": {"start", "end", "text", "seconds"}}`
        as each is decoded, `{"error": "one line"}` for a frame that cannot be used (the stream goes on),
        and at the end `{"summary": {"frames", "processed", "dropped", "sentences"}}`, then the socket closes."""
        if live_session.locked():
            await socket.accept()
            await socket.send_json({"error": "another live session is running; try again when it ends"})
            return await socket.close(1013)
        async with live_session:  # taken before the socket is accepted: a second one that connects after is refused
            await socket.accept()
            try:
                session = await run_in_threadpool(LiveSession, translator)
            except ValueError as bad:  # a gloss-oracle run
                await socket.send_json({"error": str(bad)})
                return await socket.close(1011)
            await LiveStream(socket, session).run()

    return app


class LiveStream:
    """One `/live` connection: messages are read as they come; the newest frame waits while the one before
    is processed in a worker thread, and a frame it replaces is dropped."""

    def __init__(self, socket: WebSocket, session: LiveSession):
        self.socket, self.session = socket, session
        self.waiting: tuple[float, np.ndarray] | None = None
        self.ready, self.ended = asyncio.Event(), False
        self.last = -math.inf  # the latest frame time taken
        self.counts = {"frames": 0, "processed": 0, "dropped": 0, "sentences": 0}

    async def run(self) -> None:
        worker = asyncio.create_task(self.work())
        try:
            while (message := await self.socket.receive())["type"] != "websocket.disconnect":
                if message.get("text") == "end" or worker.done():  # the worker only stops by failing
                    break
                if message.get("bytes") is None:
                    await self.socket.send_json({"error": "send frames as binary messages, and the text message end to finish"})
                    continue
                try:
                    self.take(message["bytes"])
                except BadInput as bad:
                    await self.socket.send_json({"error": str(bad)})
            else:  # the page went away: what is left is not wanted
                self.waiting = None
            self.ended = True
            self.ready.set()
            await worker
            if message["type"] != "websocket.disconnect":
                await self.send(await run_in_threadpool(self.session.finish))
                await self.socket.send_json({"summary": self.counts})
                await self.socket.close()
        except WebSocketDisconnect:
            pass
        except Exception as failure:  # a bug, or a resource that ran out: this stream ends, the service goes on
            log.exception("a live stream failed")
            await self.socket.send_json({"error": internal_error(failure)})
            await self.socket.close(1011)
        finally:
            self.ended = True
            self.ready.set()
            await asyncio.gather(worker, return_exceptions=True)  # its frame done before the graph closes
            self.session.close()

    def take(self, message: bytes) -> None:
        """Make the frame of `message` the one waiting (the one it replaces is dropped); BadInput if it is not a frame."""
        if len(message) > LIVE_FRAME_MB * 2**20:
            raise BadInput(413, f"a frame is larger than {LIVE_FRAME_MB} MB")
        if len(message) < 9:
            raise BadInput(422, "a frame is its time (8 bytes, float64) followed by a JPEG or PNG image")
        (t,) = struct.unpack("<d", message[:8])
        if not math.isfinite(t) or t <= self.last:
            raise BadInput(422, f"frame times must increase, got {t} after {self.last}")
        self.counts["frames"] += 1
        if t - self.last < 1 / LIVE_MAX_FPS:
            self.counts["dropped"] += 1
            return
        image = cv2.imdecode(np.frombuffer(message, np.uint8, offset=8), cv2.IMREAD_COLOR)
        if image is None:
            raise BadInput(422, "a frame's image cannot be decoded (send JPEG or PNG)")
        if max(image.shape[:2]) > LIVE_MAX_SIDE:
            raise BadInput(413, f"a frame is larger than {LIVE_MAX_SIDE} pixels a side")
        self.last = t
        self.counts["dropped"] += self.waiting is not None
        self.waiting = (t, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        self.ready.set()

    async def work(self) -> None:
        """Process the waiting frame, over and over, until the stream ends and none is waiting."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.waiting is not None:
                frame, self.waiting = self.waiting, None
                sentences = await run_in_threadpool(self.session.frame, *frame)
                self.counts["processed"] += 1
                await self.send(sentences)
            if self.ended:
                return

    async def send(self, sentences) -> None:
        for sentence in sentences:
            self.counts["sentences"] += 1
            await self.socket.send_json({"sentence": {k: v for k, v in sentence.as_dict().items() if k != "delay"}})


async def receive_upload(request: Request, folder: Path, max_bytes: int) -> tuple[str, Path]:
    """Stream the request's one file into `folder`; (its name as uploaded, its path there, named by its suffix)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadInput(415, "send the clip as multipart/form-data, in a field named file")
    too_large = BadInput(413, f"the upload is larger than the limit of {max_bytes / 1024 / 1024:g} MB (--max-upload-mb)")
    if int(request.headers.get("content-length") or 0) > max_bytes:
        raise too_large
    files = []
    config = {"UPLOAD_DIR": str(folder), "MAX_MEMORY_FILE_SIZE": 0, "UPLOAD_DELETE_TMP": False}
    received = 0
    try:
        parser = create_form_parser(request.headers, None, files.append, config)
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise too_large
            parser.write(chunk)
        parser.finalize()
    except FormParserError as bad:
        raise BadInput(400, f"malformed multipart upload ({bad})") from bad
    finally:
        for file in files:
            file.close()
    if len(files) != 1:
        raise BadInput(400, f"send exactly one file, got {len(files)}")
    name = (files[0].file_name or b"").decode(errors="replace")
    if files[0].actual_file_name is None:  # nothing was written: the file is empty
        raise BadInput(422, "the uploaded file is empty")
    path = Path(files[0].actual_file_name.decode()).rename(folder / f"upload{Path(name).suffix.lower()}")
    return name, path


def translate_upload(translator: Translator, path: Path, max_seconds: float) -> Translation:
    """The `Translation` of an uploaded file, after checking what it is and that it is short enough."""
    tick = time.perf_counter()
    try:
        if path.suffix in KEYPOINT_SUFFIXES:
            clip = ClipReader()(path)  # reading a keypoint file makes no MediaPipe graph: nothing to close
            seconds = clip.duration
        elif path.suffix == ".zip":
            clip = unzip_frames(path)
            seconds = len(frame_images(clip)) / ClipSource(clip).fps
        elif is_video(path):
            clip, reader = path, FrameReader(ClipSource(path))  # opens the video: a corrupt one says so here
            seconds = reader.expected_frames / reader.fps
        else:
            raise BadInput(415, "not a video, keypoint file (.parquet, .pose) or zip of frame images")
    except ValueError as bad:  # the reasons ClipReader and FrameReader give
        raise BadInput(422, str(bad)) from bad
    if seconds > max_seconds:
        raise BadInput(422, f"the clip lasts {seconds:.0f} s, more than the limit of {max_seconds:g} s (--max-seconds)")
    reading = time.perf_counter() - tick
    [result] = translator([clip])
    if result.error:
        raise BadInput(422, result.error)
    result.seconds["extraction"] += reading
    return result


def unzip_frames(path: Path) -> Path:
    """The frame images of a zip, by file name, in a folder beside it (the zip's folders are dropped: no path
    inside it is trusted). Frame images hardly compress, so a zip that unpacks to far more is refused."""
    folder = path.parent / "frames"
    folder.mkdir()
    try:
        with zipfile.ZipFile(path) as archive:
            images = [i for i in archive.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in IMAGE_EXTENSIONS]
            if not images:
                raise BadInput(422, f"the zip holds no {'/'.join(IMAGE_EXTENSIONS)} frame images")
            if sum(i.file_size for i in images) > path.stat().st_size * 2 + 2**20:
                raise BadInput(413, "the zip unpacks to more than twice its size: zip frame images (.png, .jpg), nothing else")
            for image in images:
                (folder / Path(image.filename).name).write_bytes(archive.read(image))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as bad:
        raise BadInput(422, f"not a readable zip file ({bad})") from bad
    return folder


def drawable(kp: Keypoints) -> dict:
    """The keypoints in a compact form for drawing: per frame, [x, y] per joint (fractions of the image,
    rounded to 4 places; null where the part was not found), and each part's first joint and bones."""
    xy = np.round(kp.points[..., :2].astype(np.float64), 4).astype(object)
    xy[~np.isfinite(kp.points[..., :2])] = None
    parts = {p: {"first": s.start, "bones": PART_SPECS[p][1]} for p, s in part_slices(kp.parts).items()}
    return {"fps": kp.fps, "width": kp.width, "height": kp.height, "parts": parts, "points": xy.tolist()}
