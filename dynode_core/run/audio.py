"""The input's audio in the run's outputs (PyAV).

An output of the input's length gets the input's first audio stream, cut to the
output's duration and shifted so that it starts with the first video frame. Packets
are copied when the mp4 container takes the codec (AAC, MP3, ALAC, AC-3, Opus), else
the sound is re-encoded to AAC, resampled to the nearest rate AAC takes (a 5 kHz phone
track becomes 8 kHz). The video packets are copied untouched, so the picture's bytes do
not change. The file is replaced atomically.

The rule for sound dynode cannot read or encode (a damaged stream): the video is kept
without it, a warning says so, and ``metrics.json`` records ``audio.dropped`` with the
reason. A run never fails because of its sound.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np
from pathlib import Path

COPYABLE = {"aac", "mp3", "alac", "ac3", "eac3", "opus"}
#: The sample rates the AAC encoder takes.
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000,
             88200, 96000)


def aac_rate(rate: int) -> int:
    """The AAC rate for a source at ``rate``: the same, else the lowest one above it (the
    highest for a source above them all)."""
    return next((r for r in AAC_RATES if r >= int(rate or 0)), AAC_RATES[-1])


def audio_info(path) -> dict | None:
    """``{"codec", "start"}`` of ``path``'s first audio stream (``start``: its offset
    from the first video frame, in seconds), or None without audio (or not a file)."""
    import av

    if not Path(path).is_file():
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            audio = container.streams.audio[0]
            video_start = _first_video_time(container)
            audio_start = float(audio.start_time * audio.time_base) if audio.start_time else 0.0
            return {"codec": audio.codec_context.name, "start": audio_start - video_start,
                    "video_start": video_start}
    except av.error.FFmpegError:
        return None


def _first_video_time(container) -> float:
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    for frame in container.decode(stream):
        return float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
    return 0.0


def add_audio(ctx, video: Path) -> None:
    """Mux the run's input audio into ``video`` (nothing when the input has none). Sound
    that cannot be read or encoded is dropped by the module's rule, recorded in
    ``ctx.store["audio"]`` (``metrics.json``'s ``audio``)."""
    import warnings

    import av

    source = ctx.results["read"].name
    if "audio_info" not in ctx.store:
        ctx.store["audio_info"] = audio_info(source)
    info = ctx.store["audio_info"]
    if info is None or ctx.store.get("audio", {}).get("dropped"):
        return
    record = ctx.store.setdefault("audio", {"codec": info["codec"], "dropped": None})
    try:
        mux_audio(video, source, info)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.FFmpegError):
            raise  # a full disk is not a damaged sound track
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        record["dropped"] = reason[:200]
        warnings.warn(f"the input's audio ({info['codec']}) could not be read or encoded and "
                      f"was left out of the outputs: {record['dropped']}", stacklevel=2)


def _video_packets(container, stream_in, stream_out):
    for packet in container.demux(stream_in):
        if packet.dts is None:
            continue
        packet.stream = stream_out
        yield float(packet.dts * packet.time_base), 0, packet


def _copied(container, stream_in, stream_out, shift: float, end: float):
    offset = round(shift / stream_in.time_base)
    for packet in container.demux(stream_in):
        if packet.pts is None or packet.dts is None:
            continue
        start = float((packet.pts - offset) * stream_in.time_base)
        if start < -1e-6:
            continue
        if start >= end - 1e-6:
            break
        packet.pts -= offset
        packet.dts -= offset
        packet.stream = stream_out
        yield float(packet.dts * packet.time_base), 1, packet


def _seconds(packet, stream) -> float:
    """A packet's decode time; fresh packets of the encoder count in samples."""
    base = packet.time_base or Fraction(1, stream.codec_context.sample_rate)
    return float((packet.dts or 0) * base)


def _cut(frame, keep: int, layout: str):
    """``frame`` (fltp) with at most ``keep`` samples: the last one ends with the video."""
    import av

    if keep >= frame.samples:
        return frame
    cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(frame.to_ndarray()[:, :max(keep, 0)]),
                                     format="fltp", layout=layout)
    cut.sample_rate = frame.sample_rate
    return cut


def _encoded(container, stream_in, stream_out, shift: float, end: float):
    """Decoded, converted to the encoder's float planar samples, cut to [0, end), encoded."""
    import av

    layout = stream_out.codec_context.layout.name
    rate = stream_out.codec_context.sample_rate
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    position = None  # seconds of the next converted sample, from the video's start
    for frame in container.decode(stream_in):
        if position is None:
            position = (float(frame.pts * stream_in.time_base) if frame.pts is not None
                        else 0.0) - shift
        for converted in resampler.resample(frame):
            start, position = position, position + converted.samples / rate
            if position <= 0 or start >= end - 1e-6:
                continue
            skip = max(0, int(round(-start * rate)))
            converted = _cut(converted, int(round((end - start) * rate)), layout)
            if skip:
                data = converted.to_ndarray()[:, skip:]
                converted = av.AudioFrame.from_ndarray(np.ascontiguousarray(data),
                                                       format="fltp", layout=layout)
                converted.sample_rate = rate
            converted.pts = None
            for packet in stream_out.encode(converted):
                yield _seconds(packet, stream_out), 1, packet
    for packet in stream_out.encode(None):
        yield _seconds(packet, stream_out), 1, packet


def mux_audio(video: Path, source: str, info: dict) -> None:
    """Rewrite ``video`` with ``source``'s first audio stream beside its picture."""
    import av

    from ..io import atomic_path

    video = Path(video)
    with av.open(str(video)) as picture, av.open(source) as sound, \
            atomic_path(video) as tmp:
        vin, ain = picture.streams.video[0], sound.streams.audio[0]
        end = float(vin.duration * vin.time_base) if vin.duration else float(
            picture.duration or 0) / av.time_base
        with av.open(str(tmp), mode="w", format="mp4",
                     options={"movflags": "+faststart"}) as out:
            vout = out.add_stream_from_template(vin)
            shift = info["video_start"]
            if info["codec"] in COPYABLE:
                aout = out.add_stream_from_template(ain)
                audio = _copied(sound, ain, aout, shift, end)
            else:
                aout = out.add_stream("aac", rate=aac_rate(ain.codec_context.sample_rate))
                channels = ain.codec_context.channels
                # an unordered layout ("1 channels") is refused by the AAC encoder
                aout.layout = {1: "mono", 2: "stereo"}.get(channels, ain.codec_context.layout)
                audio = _encoded(sound, ain, aout, shift, end)
            merged = heapq.merge(_video_packets(picture, vin, vout), audio,
                                 key=lambda item: (item[0], item[1]))
            for _time, _order, packet in merged:
                out.mux(packet)
