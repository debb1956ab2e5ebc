"""The work budget of uploads (issue #32), in-process: an RR file, a metrics CSV and an ECG/PPG
signal are refused from their line count before any parsing; a bad sampling rate says what is
wrong with it; audio is refused from its header's sample rate; request fields are strict."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from pydantic import ValidationError

from moodtune.errors import InvalidAudio, InvalidHRV, TooMuchHRV, TooMuchInput
from moodtune.hrv.reader import InputCaps, StressReader
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code

CAPS = InputCaps(max_intervals=20_000, max_rows=1_000, max_samples=1_000_000)
METRICS = {"MEAN_RR": 850, "SDRR": 55, "HR": 70.5, "RMSSD": 38, "pNN50": 18, "VLF": 900, "LF": 700, "HF": 650}


@pytest.fixture
def reader(settings):
    # no model is needed: everything here is refused before the model is asked
    return StressReader(None, HRV).with_caps(CAPS)


def test_a_million_interval_rr_file_is_refused_from_its_line_count_before_parsing(reader):
    rng = np.random.default_rng(1)
    lines = [str(800 + int(v)) for v in rng.integers(-40, 41, 1_000_000)]
    # lines that are not numbers: a reader that parsed first would refuse the file for them
    # (InvalidHRV naming the line), so the line-count refusal below shows nothing was parsed
    lines[-2:] = ["not-a-number", "nan"]
    with pytest.raises(TooMuchInput, match="1,000,000 lines; the limit is 20,000 RR intervals") as info:
        reader.read("\n".join(lines).encode(), filename="rr_1M.txt")
    assert (
        info.value.status_code == 413
        and isinstance(info.value, TooMuchHRV)
        and isinstance(info.value, InvalidHRV)
    )
    with pytest.raises(TooMuchInput, match="20,000 RR intervals"):  # a header line is not an interval
        reader.read(b"rr\n" + b"800\n" * 20_001, filename="rr.csv")


def test_metrics_rows_and_signal_samples_and_seconds_are_capped(reader):
    header, row = ",".join(METRICS).encode(), ",".join(map(str, METRICS.values())).encode()
    with pytest.raises(TooMuchInput, match="1,001 rows of metrics; the limit is 1,000"):
        reader.read(header + b"\n" + b"\n".join([row] * 1_001), filename="m.csv")
    with pytest.raises(TooMuchInput, match="the limit is 1,000,000 samples"):
        reader.read(b"ecg\n" + b"1\n" * 1_000_001, filename="s.csv", sampling_rate=1000)
    short = reader.with_limits(max_seconds=900)
    with pytest.raises(TooMuchInput, match="1,000 s of signal at 250 Hz is longer than 900 s"):
        short.read(b"# sampling_rate: 250\nppg\n" + b"1\n" * 250_000, filename="s.csv")


def test_the_cli_reader_has_no_caps(settings):
    assert StressReader(None, HRV).caps is None


@pytest.mark.parametrize("value", ["fast", "-250", "0", "nan", "inf", ""])
def test_a_rate_comment_that_is_not_a_rate_says_so(reader, value):
    body = f"# sampling_rate: {value}\necg\n".encode() + b"\n".join(b"%d" % v for v in range(60))
    with pytest.raises(
        InvalidHRV, match=f"gives the sampling rate as '{value}'; it must be a positive number"
    ):
        reader.read(body, filename="c.csv")


@pytest.mark.parametrize(
    "times, what",
    [
        ([0.0] * 60, "does not advance"),
        (list(np.arange(60)[::-1] / 250), "runs backwards"),
        ([1.0], "holds fewer than two numbers"),
    ],
)
def test_a_time_column_that_gives_no_rate_says_why(reader, times, what):
    rows = "\n".join(f"{t},{i % 7}" for i, t in enumerate(times))
    with pytest.raises(InvalidHRV, match=f"the time column 'time' {what}"):
        reader.read(f"time,ecg\n{rows}\n".encode(), filename="t.csv")


def _wav(declared_hz: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(
        buf, (0.3 * np.sin(np.arange(16000) / 5)).astype("float32"), 8000, format="WAV", subtype="PCM_16"
    )
    data = bytearray(buf.getvalue())
    data[24:28], data[28:32] = struct.pack("<I", declared_hz), struct.pack("<I", declared_hz * 2)
    return bytes(data)


@pytest.mark.parametrize("hz", [1, 7999, 192_001])
def test_audio_outside_the_rate_range_is_refused_from_its_header(hz):
    from moodtune.audio.decode import check_header

    with pytest.raises(
        InvalidAudio, match=f"declares a sample rate of {hz:,} Hz; accepted are 8,000 to 192,000 Hz"
    ):
        check_header(_wav(hz), min_rate=8000, max_rate=192_000, max_seconds=3600, label="'x.wav'")
    check_header(_wav(8000), min_rate=8000, max_rate=192_000, max_seconds=3600)  # in range: no complaint
    with pytest.raises(TooMuchInput, match="declares 2 s of audio; the limit is 1 s"):
        check_header(_wav(8000), min_rate=8000, max_rate=192_000, max_seconds=1)


def test_request_fields_are_strict(settings):
    from moodtune.serving import requests as models

    base = {"track_ids": ["a"], "age": 30, "mood": 3}
    for gender in ("FEMALE", "Male", " female"):
        with pytest.raises(ValidationError, match="'female' or 'male'"):
            models.RecommendRequest(**base, gender=gender)
    assert models.RecommendRequest(**base, gender="female").gender == "female"
    feedback = {"recommendation_id": "r", "track_id": "t"}
    with pytest.raises(ValidationError):
        models.FeedbackRequest(**feedback, stress_level="LOW")
    with pytest.raises(
        ValidationError, match="unknown keys 'SDNN'.*MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF"
    ):
        models.AnalyzeHrvRequest(metrics={**METRICS, "SDNN": 40})
    with pytest.raises(ValidationError, match="gives HR twice"):
        models.AnalyzeHrvRequest(metrics={**METRICS, "hr": 71})
    assert models.AnalyzeHrvRequest(
        metrics={k.lower(): v for k, v in METRICS.items()}
    ).metrics  # the reader matches case
    from moodtune.fields import describe

    for rate in (0, -250, float("nan"), float("inf"), "fast", True):
        with pytest.raises(ValidationError) as info:
            models.AnalyzeHrvRequest(sampling_rate=rate)
        assert "sampling_rate must be a number of samples per second" in describe(
            info.value, models.AnalyzeHrvRequest
        )
