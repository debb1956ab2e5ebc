"""moodtune.lazy: a package's names imported on first use."""

import subprocess
import sys

import pytest

from moodtune.lazy import lazy_names


def test_a_listed_name_comes_from_its_module_and_another_is_an_attribute_error():
    getattr_ = lazy_names("pkg", {"dumps": "json"})
    import json

    assert getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        getattr_("loads")


@pytest.mark.slow  # a Python process of its own
def test_the_packages_load_their_heavy_modules_only_when_a_name_is_used():
    code = (
        "import sys, moodtune.text, moodtune.image, moodtune.hrv\n"
        "before = {m for m in ('jieba', 'torch', 'cv2', 'pandas') if m in sys.modules}\n"
        "moodtune.image.NoPersonFound; moodtune.hrv.StressReader\n"
        "print(sorted(before), 'torch' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "True"]
