"""Writing played episodes as an animated GIF (Pillow) or an MP4 (imageio), frame by frame."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import numpy as np
from PIL import Image

from utils.errors import VideoError, WriteError
from utils.files import atomic_write, require_free_space, temporary_path

VIDEO_SUFFIXES = (".gif", ".mp4")


def check_video_path(path: str | os.PathLike) -> Path:
    """Checks that ``path`` names a format this module writes; returns it as a ``Path``.

    Raises:
        VideoError: for another suffix, or ``.mp4`` without ``imageio`` and ``imageio-ffmpeg``.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoError(f"--record={path}: the file must end in .gif or .mp4")
    if path.suffix.lower() == ".mp4" and not all(
        importlib.util.find_spec(name) for name in ("imageio", "imageio_ffmpeg")
    ):
        raise VideoError(
            f"--record={path}: MP4 needs `pip install imageio imageio-ffmpeg`; "
            "a .gif needs nothing more"
        )
    return path


class VideoWriter:
    """Writes played frames to a GIF or MP4 as they come, atomically at ``close``.

    Each frame is resized (``scale``) as it arrives and the full-size frame dropped: an MP4's
    frames stream to the encoder (ffmpeg, through imageio), a GIF's are kept as small palette
    images until ``close`` (a GIF is written in one go), about 1/12 of the raw frames' memory at
    ``scale=0.5``. Memory no longer grows with full-size frames, however long the play.

    Args:
        path: ends in ``.gif`` or ``.mp4`` (see ``check_video_path``).
        fps: frames per second of the played env (CartPole renders at 50).
        scale: resize factor, to keep files small.

    Raises:
        VideoError: as ``check_video_path``; from ``close``, if no frame was added.
        utils.errors.WriteError: from ``close``, if the file cannot be written (the temporary
            file is removed).
    """

    def __init__(self, path: str | os.PathLike, fps: int = 50, scale: float = 0.5):
        self.path = check_video_path(path)
        self.fps = fps
        self.scale = scale
        self.mp4 = self.path.suffix.lower() == ".mp4"
        self.size: tuple[int, int] | None = None
        self.images: list[Image.Image] = []  # GIF: palette frames
        self._temporary = str(temporary_path(self.path))
        self._encoder = None  # MP4: imageio's ffmpeg writer
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        """Adds a uint8 ``(height, width, 3)`` frame."""
        image = Image.fromarray(np.asarray(frame))
        if self.size is None:
            width, height = (max(1, int(side * self.scale)) for side in image.size)
            if self.mp4:  # video codecs want sides in multiples of 16
                width, height = (-(-side // 16) * 16 for side in (width, height))
            self.size = (width, height)
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.LANCZOS)
        self.frames += 1
        if self.mp4:
            if self._encoder is None:
                import imageio.v2 as imageio

                require_free_space(self.path, 0)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._encoder = imageio.get_writer(self._temporary, format="FFMPEG", fps=self.fps)
            self._encoder.append_data(np.asarray(image))
        else:
            self.images.append(image.quantize(colors=256))

    def close(self) -> Path:
        """Writes the file (renamed into place when complete); returns its path."""
        if not self.frames:
            self.discard()
            raise VideoError("there are no frames to record")
        if self.mp4:
            try:
                self._encoder.close()
                self._encoder = None
                os.replace(self._temporary, self.path)
            except OSError as error:
                self.discard()
                raise WriteError(
                    error.errno, f"cannot write {self.path}: {error.strerror or error}"
                ) from None
            return self.path
        milliseconds = round(1000 / self.fps)
        images, self.images = self.images, []
        return atomic_write(
            self.path,
            lambda temporary: images[0].save(
                temporary,
                format="GIF",
                save_all=True,
                append_images=images[1:],
                duration=milliseconds,
                loop=0,
                optimize=True,
            ),
            size=sum(image.width * image.height for image in images) // 4,
        )

    def discard(self) -> None:
        """Drops what was added; leaves no file behind."""
        self.images = []
        if self._encoder is not None:
            with contextlib.suppress(Exception):
                self._encoder.close()
            self._encoder = None
        if os.path.exists(self._temporary):
            os.remove(self._temporary)
