"""The triage chart draws Chinese with the bundled font, on any machine."""

from __future__ import annotations

import warnings

from matplotlib.ft2font import FT2Font

from bot import report
from nlp.digest import AspectStat, ReviewDigest
from nlp.types import ASPECTS


def test_bundled_cjk_font_covers_every_chinese_label_of_the_chart() -> None:
    path = report.bundled_font_path()
    assert path is not None, "mplfonts (a dependency) ships Noto Sans CJK SC"
    charmap = FT2Font(str(path)).get_charmap()
    texts = [*report._TITLES["zh"], *report._LABEL_NAMES["zh"].values(), *ASPECTS.values()]
    missing = {c for text in texts for c in text if not c.isspace() and ord(c) not in charmap}
    assert not missing
    assert report.cjk_font() == "Noto Sans CJK SC"


def test_chart_is_drawn_in_chinese_without_missing_glyphs() -> None:
    summary = ReviewDigest(
        12,
        {"negative": 5, "neutral": 2, "positive": 5},
        (
            AspectStat("logistics", 4, 7, (), 3),
            AspectStat("quality", 2, 6, (), 4),
            AspectStat("taste", 0, 3, (), 3),
        ),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = report.chart_png(summary, "zh")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not [w for w in caught if "missing from" in str(w.message)], [str(w.message) for w in caught]
    # a font without those glyphs would warn: the check above can fail
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        fig = Figure()
        fig.text(0.5, 0.5, "物流", family="DejaVu Sans")
        fig.savefig(__import__("io").BytesIO(), format="png")
    assert [w for w in caught if "missing from" in str(w.message)]
