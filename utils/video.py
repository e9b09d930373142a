"""Writing played episodes as an animated GIF (Pillow) or an MP4 (imageio, if installed)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from utils.files import atomic_write

VIDEO_SUFFIXES = (".gif", ".mp4")


class VideoError(ValueError):
    """A recording that cannot be written: unknown format, or MP4 without its encoder."""


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


def write_video(
    frames: Sequence[np.ndarray],
    path: str | os.PathLike,
    fps: int = 50,
    scale: float = 0.5,
    frame_step: int = 1,
) -> Path:
    """Writes uint8 ``(height, width, 3)`` frames as a GIF or MP4, atomically.

    Args:
        frames: the images, in order.
        path: ends in ``.gif`` or ``.mp4`` (see ``check_video_path``).
        fps: frames per second of the played env (CartPole renders at 50); with ``frame_step``
            the video keeps real time.
        scale: resize factor, to keep GIFs small.
        frame_step: keep every ``frame_step``-th frame.

    Raises:
        VideoError: as ``check_video_path``, or with no frames.
    """
    path = check_video_path(path)
    if not len(frames):
        raise VideoError("there are no frames to record")
    images = [Image.fromarray(np.asarray(frame)) for frame in frames[::frame_step]]
    size = (max(1, int(images[0].width * scale)), max(1, int(images[0].height * scale)))
    if path.suffix.lower() == ".mp4":  # video codecs want sides in multiples of 16
        size = tuple(-(-side // 16) * 16 for side in size)
    if size != images[0].size:
        images = [image.resize(size, Image.Resampling.LANCZOS) for image in images]
    milliseconds = round(1000 * frame_step / fps)

    def write(temporary: str) -> None:
        if path.suffix.lower() == ".gif":
            images[0].save(
                temporary,
                format="GIF",
                save_all=True,
                append_images=images[1:],
                duration=milliseconds,
                loop=0,
                optimize=True,
            )
        else:
            import imageio.v2 as imageio

            imageio.mimwrite(
                temporary,
                [np.asarray(image) for image in images],
                format="FFMPEG",
                fps=fps / frame_step,
            )

    return atomic_write(path, write)
