"""Bundled video I/O: PyAV for video files, Pillow for GIFs and frame folders.

Readers and writers are registered with the suffixes they handle, so that
:func:`dynode_core.video.read_video` and :func:`~dynode_core.video.write_video`
choose them by path. Nothing heavy (av, PIL, numpy) is imported until a
factory runs.
"""

from dynode_core import hookimpl

#: Containers the PyAV reader is registered for (FFmpeg reads many more; pass reader="pyav").
PYAV_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")


def _pyav_reader(**kwargs):
    from .pyav_reader import PyAVReader

    return PyAVReader(**kwargs)


def _gif_reader(**kwargs):
    from .image_readers import GifReader

    return GifReader(**kwargs)


def _frame_folder_reader(**kwargs):
    from .image_readers import FrameFolderReader

    return FrameFolderReader(**kwargs)


def _mp4_writer(**kwargs):
    from .writers import Mp4Writer

    return Mp4Writer(**kwargs)


def _gif_writer(**kwargs):
    from .writers import GifWriter

    return GifWriter(**kwargs)


@hookimpl
def register_video_readers(register):
    register("pyav", _pyav_reader, extensions=PYAV_EXTENSIONS,
             description="video files through FFmpeg (PyAV), real timestamps kept")
    register("gif", _gif_reader, extensions=(".gif",),
             description="animated GIFs (Pillow), times from frame delays")
    register("frames", _frame_folder_reader, directory=True,
             description="a folder of PNG/JPEG frames in natural order, times = index / fps")


@hookimpl
def register_video_writers(register):
    register("mp4", _mp4_writer, extensions=(".mp4", ".m4v", ".mov"),
             description="H.264 (libx264, yuv420p, crf 12) through PyAV")
    register("gif", _gif_writer, extensions=(".gif",),
             description="animated GIF (Pillow), loops forever")
