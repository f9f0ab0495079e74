"""Turning typed results into Telegram HTML: review cards, summaries, copy variants, reports.

Everything a merchant or the model wrote goes through `esc` (via `t`); the functions return
`HTML`. `split_html` cuts long output at `MessageLimit.MAX_TEXT_LENGTH`, on line breaks where
it can, never inside a tag or an entity, closing and reopening tags across the cut. Telegram
counts that limit in UTF-16 code units (an emoji or a rare CJK character outside the BMP counts
2), so every length measured for Telegram goes through `utf16_len` / `utf16_prefix`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime

from telegram.constants import MessageLimit

from bot.i18n import HTML, aspect_name, esc, t
from bot.services import AnalysedReview
from bot.store import Feedback, Generation
from nlp.digest import ReviewDigest, digest
from nlp.policy import ParsedPolicy
from nlp.types import Draft, Finding, Label, Language, Sentiment, ShopProfile

QUOTE_CHARS = 300  # of the review shown on its card
HISTORY_CHARS = 80


def short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def badge(lang: Language, label: Label) -> HTML:
    return t(lang, f"label.{label}")


def tone_name(lang: Language, tone: str) -> HTML:
    return t(lang, f"tone.{tone}")


NEGATIVES_SHOWN = 10  # negative reviews quoted in an upload's report
SIGN_MARK = {1: "👍", -1: "👎", 0: "😐"}  # an aspect praised, complained about, mixed


def aspects_text(lang: Language, aspects: Sequence[str], signs: dict[str, int] | None = None) -> str:
    """ "物流👍、质量👎" where each aspect's sign is known, "物流、质量" where it is not."""
    sep = "、" if lang == "zh" else ", "
    signs = signs or {}
    named = (aspect_name(lang, a) + (SIGN_MARK[signs[a]] if a in signs else "") for a in aspects)
    return sep.join(named) or t(lang, "none")


def findings(lang: Language, found: Sequence[Finding], ok_line: bool = False) -> HTML:
    """One line per finding (❌ errors, ⚠️ warnings); an all-clear line if asked for."""
    lines = [f"{'❌' if f.severity == 'error' else '⚠️'} {esc(f.message)}" for f in found]
    if not lines and ok_line:
        lines.append(t(lang, "findings.ok"))
    return HTML("\n".join(lines))


def accept_refusal(lang: Language, key: str, found: Sequence[Finding]) -> str:
    """Why a draft cannot be accepted as it is (plain text, for a callback answer or the console)."""
    spans = [f"“{short(f.span, 20)}”" if f.span else f.code for f in found if f.severity == "error"]
    return html.unescape(t(lang, key, problems="、".join(dict.fromkeys(spans[:3]))))


def review_card(
    lang: Language, review: AnalysedReview, draft: Draft | None = None, status: str = "", live: str = ""
) -> HTML:
    """A review's card: badge, confidence, aspects, the review, then the reply (or `status`).

    `live` is text still being generated (shown while streaming); `status` is a rendered line
    such as "writing…" or "accepted".
    """
    s = review.sentiment
    lines: list[str] = [
        t(lang, "card.head", badge=badge(lang, s.label), confidence=f"{s.confidence:.0%}"),
        t(lang, "card.aspects", aspects=aspects_text(lang, s.aspects, dict(s.aspect_polarity))),
        HTML(f"<blockquote>{esc(short(review.text, QUOTE_CHARS))}</blockquote>"),
    ]
    if draft is not None:
        tone = str(draft.params.get("tone", ""))
        lines.append(t(lang, "card.reply", tone=tone_name(lang, tone) if tone else "—"))
        lines.append(esc(draft.text) if draft.text else t(lang, "card.empty_reply"))
        if draft.findings:
            lines.append(findings(lang, draft.findings))
    elif live:
        lines.append(esc(live) + " ▌")
    if status:
        lines.append(HTML(status))
    return HTML("\n".join(lines))


def summary(lang: Language, reviews: Sequence[AnalysedReview], auto: int) -> HTML:
    d = digest([(r.text, r.sentiment) for r in reviews], examples=0)
    lines: list[str] = [t(lang, "summary", total=d.total, **d.counts)]
    worst = [a for a in d.aspects if a.negative > 0][:4]
    if worst:
        named = [f"{aspect_name(lang, a.aspect)} ×{a.negative}" for a in worst]
        lines.append(t(lang, "summary_aspects", aspects=("、" if lang == "zh" else ", ").join(named)))
    lines.append(t(lang, "summary_order"))
    if len(reviews) > auto:
        lines.append(t(lang, "summary_more", n=auto))
    return HTML("\n".join(lines))


def copy_variant(lang: Language, number: int, draft: Draft, status: str = "") -> HTML:
    p = draft.params
    head = t(
        lang,
        "cp.variant",
        i=number,
        platform=t(lang, f"platform.{p.get('platform', 'generic')}"),
        length=t(lang, f"length.{p.get('length', 'medium')}"),
        tone=tone_name(lang, str(p.get("tone", "warm"))),
    )
    body = esc(draft.text) if draft.text else t(lang, "cp.empty")
    parts = [head, body, findings(lang, draft.findings, ok_line=True)]
    if status:
        parts.append(HTML(status))
    return HTML("\n".join(parts))


def complaints(lang: Language, summary: ReviewDigest, top: int = 5) -> list[HTML]:
    """The most complained-about aspects with counts and example quotes."""
    worst = [a for a in summary.aspects if a.negative > 0][:top]
    if not worst:
        return [t(lang, "st.no_complaints")]
    lines = [t(lang, "st.aspects")]
    for a in worst:
        lines.append(
            t(lang, "st.aspect", aspect=aspect_name(lang, a.aspect), negative=a.negative, total=a.total)
        )
        lines.extend(t(lang, "st.quote", quote=q) for q in a.examples[:2])
    return lines


def praise(lang: Language, summary: ReviewDigest, top: int = 4) -> list[HTML]:
    """The most praised aspects with counts (one line; none when nothing is praised)."""
    best = sorted((a for a in summary.aspects if a.positive > 0), key=lambda a: (-a.positive, a.aspect))[:top]
    if not best:
        return []
    named = ("、" if lang == "zh" else ", ").join(
        f"{aspect_name(lang, a.aspect)} ×{a.positive}" for a in best
    )
    return [t(lang, "st.praise", aspects=named)]


def upload_digest(texts: Sequence[str], results: Sequence[Sentiment | None]) -> ReviewDigest:
    """The digest of an upload's classified reviews (empty ones have no result), for its report
    and its chart."""
    return digest([(text, s) for text, s in zip(texts, results, strict=True) if s is not None])


def upload_report(
    lang: Language,
    name: str,
    texts: Sequence[str],
    results: Sequence[Sentiment | None],
    summary: ReviewDigest,
) -> HTML:
    """Counts, the aspects complained about (with quotes) and praised, and the most negative
    reviews; `summary` is `upload_digest(texts, results)`."""
    rows = [(i, text, s) for i, (text, s) in enumerate(zip(texts, results, strict=True)) if s is not None]
    if not rows:
        return t(lang, "file.no_reviews")
    lines = [t(lang, "file.title", name=name, total=len(rows))]
    if len(rows) < len(texts):
        lines.append(t(lang, "file.empty_rows", n=len(texts) - len(rows)))
    lines.append(t(lang, "file.counts", **summary.counts))
    lines.extend(complaints(lang, summary))
    lines.extend(praise(lang, summary))
    negatives = sorted((r for r in rows if r[2].label == "negative"), key=lambda r: -r[2].confidence)
    if negatives:
        lines.append(t(lang, "file.negatives", n=min(NEGATIVES_SHOWN, len(negatives))))
        for i, text, s in negatives[:NEGATIVES_SHOWN]:
            lines.append(
                t(
                    lang,
                    "file.negative",
                    row=i + 1,
                    confidence=f"{s.confidence:.0%}",
                    text=short(text, 120),
                )
            )
    return HTML("\n".join(lines))


def to_markdown(text: HTML) -> str:
    """A message's HTML as Markdown for a file: <b> becomes **, <i> _, other tags go, entities
    are decoded (the report `xiaoer analyze --report` writes is the one the bot sends)."""
    md = re.sub(r"</?b>", "**", text)
    md = re.sub(r"</?i>", "_", md)
    md = re.sub(r"<[^>]+>", "", md)
    return html.unescape(md)


def strategy(lang: Language, summary: ReviewDigest, draft: Draft | None, live: str = "") -> HTML:
    """Counts, complaints, then the suggestions (`live` while they are being written)."""
    lines: list[str] = [
        t(lang, "st.counts", total=summary.total, **summary.counts),
        *complaints(lang, summary),
    ]
    lines += ["", t(lang, "st.actions")]
    if draft is None:
        lines.append(esc(live) + " ▌")
    else:
        lines.append(esc(draft.text) if draft.text else t(lang, "cp.empty"))
        if draft.findings:
            lines.append(findings(lang, draft.findings))
    return HTML("\n".join(lines))


def history(lang: Language, items: Sequence[tuple[Generation, Feedback | None]]) -> HTML:
    if not items:
        return t(lang, "hist.empty")
    lines: list[str] = [t(lang, "hist.title")]
    for g, fb in items:
        status = f" · {t(lang, f'status.{fb.action}')}" if fb is not None else ""
        lines.append(
            t(
                lang,
                "hist.line",
                id=g.id,
                kind=t(lang, f"kind.{g.kind}"),
                date=_date(g.created_at),
                status=HTML(status),
            )
        )
        text = fb.edited_text if fb is not None and fb.edited_text else g.output_text
        lines.append(HTML(f"<i>{esc(short(text, HISTORY_CHARS) or '—')}</i>"))
    return HTML("\n".join(lines))


def profile(lang: Language, p: ShopProfile) -> HTML:
    return t(
        lang,
        "profile",
        name=p.name,
        category=p.category or t(lang, "none"),
        tone=tone_name(lang, p.tone),
        signature=p.signature or t(lang, "none"),
        policy=short(p.policy, 200) or t(lang, "none"),
        language=t(lang, f"rlang.{p.language}"),
    )


def policy(lang: Language, parsed: ParsedPolicy) -> HTML:
    """The parsed form of a policy, for the merchant to confirm."""
    return t(lang, "set.policy_parsed", parsed=parsed.describe(lang))


def choice_names(lang: Language, prefix: str, options: Sequence[str]) -> list[tuple[str, str]]:
    """(option, its display name) for a row of buttons, e.g. tones or platforms."""
    return [(o, str(t(lang, f"{prefix}.{o}"))) for o in options]


def _date(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M")


# -- splitting ------------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-z-]+)[^>]*>")
_ENTITY = re.compile(r"&[#a-zA-Z0-9]*$")


def utf16_len(text: str) -> int:
    """The length Telegram measures: UTF-16 code units (characters outside the BMP count 2)."""
    return len(text.encode("utf-16-le")) // 2


def utf16_prefix(text: str, units: int) -> int:
    """How many characters of `text` fit in `units` UTF-16 code units."""
    if len(text) * 2 <= units or utf16_len(text) <= units:
        return len(text)
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return i
    return len(text)


def clip(text: str, units: int) -> str:
    """Plain `text` cut to `units` UTF-16 code units, with "…" when it was cut."""
    if utf16_len(text) <= units:
        return text
    return text[: utf16_prefix(text, units - 1)] + "…"


def split_html(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut HTML into messages of at most `limit` UTF-16 units of source (a safe bound)."""
    chunks: list[str] = []
    rest = text
    reopen = ""
    while rest:
        room = limit - utf16_len(reopen)
        if utf16_len(rest) <= room:
            chunks.append(reopen + rest)
            break
        cut = _cut_point(rest, utf16_prefix(rest, room - 40))  # leave room for closing tags
        piece = reopen + rest[:cut]
        open_tags = _open_tags(piece)
        chunks.append(piece + "".join(f"</{name}>" for name, _ in reversed(open_tags)))
        reopen = "".join(tag for _, tag in open_tags)
        rest = rest[cut:].lstrip("\n")
    return [c for c in chunks if c.strip()]


def _cut_point(text: str, room: int) -> int:
    """Where to cut within `text[:room]`: the last line break, else the last safe boundary."""
    window = text[:room]
    newline = window.rfind("\n")
    if newline > room // 2:
        return newline
    cut = room
    lt = window.rfind("<")
    if lt > window.rfind(">"):  # inside a tag
        cut = lt
    elif m := _ENTITY.search(window):  # inside an entity like &amp;
        cut = m.start()
    return max(cut, 1)


def _open_tags(html: str) -> list[tuple[str, str]]:
    """Tags left open at the end of `html`, outermost first: (name, opening tag)."""
    stack: list[tuple[str, str]] = []
    for m in _TAG.finditer(html):
        closing, name = m.group(1), m.group(2)
        if not closing:
            stack.append((name, m.group(0)))
        elif stack and stack[-1][0] == name:
            stack.pop()
    return stack
