"""Bundled video I/O: PyAV for video files, Pillow for GIFs and frame folders.

Readers and writers are registered with the suffixes they handle, so that
:func:`dynode_core.video.read_video` and :func:`~dynode_core.video.write_video`
choose them by path. Nothing heavy (av, PIL, numpy) is imported until a
factory runs.
"""

from dynode_core import hookimpl, lazy

#: Containers the PyAV reader is registered for (FFmpeg reads many more; pass reader="pyav").
PYAV_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")


@hookimpl
def register_video_readers(register):
    register("pyav", lazy("dynode_video.pyav_reader:PyAVReader"), extensions=PYAV_EXTENSIONS,
             description="video files through FFmpeg (PyAV), real timestamps kept")
    register("gif", lazy("dynode_video.image_readers:GifReader"), extensions=(".gif",),
             description="animated GIFs (Pillow), times from frame delays")
    register("frames", lazy("dynode_video.image_readers:FrameFolderReader"), directory=True,
             description="a folder of PNG/JPEG frames in natural order, times = index / fps")


@hookimpl
def register_video_writers(register):
    register("mp4", lazy("dynode_video.writers:Mp4Writer"), extensions=(".mp4", ".m4v", ".mov"),
             description="H.264 (libx264, yuv420p, crf 12) through PyAV")
    register("gif", lazy("dynode_video.writers:GifWriter"), extensions=(".gif",),
             description="animated GIF (Pillow), loops forever")
