"""The Explore map's hover in the page (AppTest): the option names every drawn point's
thumbnail by the row it carries, the thumbnails are on disk in the served folder, text
datasets carry each point's snippet, and the option grows by the templates only."""

from __future__ import annotations

import json
from pathlib import Path

from app_pages import APP, opened

from explorer.data import previews
from explorer.ui import hover, live_charts

STATIC = Path(APP).parent / "static"


def _map(at) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("echarts_chart")
                if c.proto.id.split("-")[-1].isdigit())


def test_every_drawn_point_of_digits_has_its_thumbnail_by_row(digits):
    at = opened()
    option = _map(at)
    formats = {s["tooltip"]["formatter"] for s in option["series"]}
    folder = {f.split('src="')[1].split("/{@[2]}.webp")[0] for f in formats}
    assert len(folder) == 1  # every series: one folder, the row number picks the file
    folder = folder.pop()
    assert folder.startswith(f"{hover.STATIC_URL}/thumbs/rows/")
    on_disk = STATIC / folder.removeprefix(f"{hover.STATIC_URL}/")
    drawn = [int(item[2]) for s in option["series"] for item in s["data"]]
    assert sorted(set(drawn)) == list(range(digits.n))
    assert all((on_disk / f"{r}.webp").stat().st_size > 0 for r in drawn)
    # no point carries a URL or an image: the background points are [x, y, row]
    assert {len(item) for s in option["series"] if s.get("large") for item in s["data"]} == {3}
    assert "data:image" not in json.dumps(option)
    assert not at.caption or "have no thumbnail" not in " ".join(c.value for c in at.caption)


def test_text_points_carry_their_snippet_and_no_image(pydocs):
    at = opened(sample="pydocs")
    option = _map(at)
    series = option["series"]
    assert all("<img" not in s["tooltip"]["formatter"] for s in series)  # no image column
    background = [s for s in series if s.get("large")]
    assert background and all(s["tooltip"]["formatter"].endswith("{@[3]}") for s in background)
    for s in background:
        for x, y, row, note in s["data"][:50]:
            assert note == previews.snippet(pydocs, int(row), hover.snippet_chars(pydocs.n))
    highlighted = [s for s in series if not s.get("large")]
    row, details = highlighted[0]["data"][0][2], highlighted[0]["data"][0][4]
    assert previews.snippet(pydocs, int(row), hover.snippet_chars(pydocs.n)) in details


def test_the_hover_adds_only_its_templates_to_a_map_of_images(digits):
    xy = digits.metadata[["x", "y"]].to_numpy()
    plain = live_charts.map_chart(xy, digits.ids, selected=range(0, 1797, 36))
    with_images = live_charts.map_chart(xy, digits.ids, selected=range(0, 1797, 36),
                                        image_folder="app/static/thumbs/rows/" + "f" * 32)
    size = lambda c: len(json.dumps(c.option, separators=(",", ":")))  # noqa: E731
    assert size(with_images) - size(plain) < 250 * len(with_images.option["series"])
