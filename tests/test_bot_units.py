"""The bot's pure parts: callback data, texts in two languages, HTML rendering, log redaction."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest
from telegram.constants import MessageLimit

from bot import callbacks as cb
from bot.i18n import HTML, TEXTS, esc, language_of, placeholders, t
from bot.logs import MASK, RedactSecrets
from bot.parsing import Table
from bot.render import findings, review_card, split_html, summary
from bot.report import labelled_csv
from bot.services import AnalysedReview
from nlp.digest import digest
from nlp.types import Draft, Finding, Sentiment
from tests.fake_telegram import parse_html

NEG = Sentiment("negative", {"negative": 0.91, "neutral": 0.05, "positive": 0.04}, ("logistics",))

# -- callback data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "id", "arg"),
    [
        (cb.RV_REGEN, 42, None),
        (cb.RV_TONE, 42, "apologetic"),
        (cb.RV_REPLY, 2**63 - 1, None),
        (cb.CP_PLATFORM, None, "xiaohongshu"),
        (cb.ST_FIELD, None, "policy"),
        (cb.ST_DONE, None, None),
    ],
)
def test_callback_data_round_trips_and_fits(action: str, id: int | None, arg: str | None) -> None:
    data = cb.build(action, id, arg)
    assert data.startswith("v1:")
    assert len(data.encode()) <= 64
    assert cb.parse(data) == cb.Callback(action, id, arg)
    assert re.match(cb.pattern(action), data)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "v1",
        "v2:rv:regen:1",  # another version
        "v1:rv:nope:1",  # unknown action
        "v1:rv:regen",  # id missing
        "v1:rv:regen:0",
        "v1:rv:regen:-1",
        "v1:rv:regen:01",
        "v1:rv:regen:1e3",
        "v1:rv:regen:99999999999999999999",  # beyond SQLite's INTEGER
        "v1:rv:tone:1",  # argument missing
        "v1:rv:tone:1:shouty",  # not a tone
        "v1:rv:ok:1:extra",
        "v1:cp:plat:taobao:1",
        "v1:st:field:owner",
        "v1:rv:regen:1" + "0" * 60,  # over 64 bytes
    ],
)
def test_forged_callback_data_is_refused(data: object) -> None:
    with pytest.raises(cb.BadCallback):
        cb.parse(data)


def test_build_refuses_what_parse_would_refuse() -> None:
    with pytest.raises(ValueError):
        cb.build(cb.RV_TONE, 1, "shouty")
    with pytest.raises(ValueError):
        cb.build(cb.RV_REGEN)


def test_patterns_do_not_overlap_prefixes() -> None:
    assert not re.match(cb.pattern(cb.RV_REPLY), "v1:rv:regen:1")
    assert not re.match(cb.pattern(cb.ST_TONE), "v1:st:toneX:warm")


# -- texts ---------------------------------------------------------------------------------------


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, (zh, en) in TEXTS.items():
        assert zh and en, key
        assert placeholders(zh) == placeholders(en), key
        for template in (zh, en):  # the templates themselves are valid Telegram HTML
            parse_html(template.format(**dict.fromkeys(placeholders(template), "x")))


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh-TW", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("ru", "en"),
        (None, "en"),
    ],
)
def test_language_follows_telegram_language_code(code: str | None, lang: str) -> None:
    assert language_of(code) == lang


def test_values_are_escaped_but_rendered_markup_is_not() -> None:
    text = t("en", "invalid_value", detail="<b>&</b>")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in text
    assert t("en", "cp.variant", i=1, platform=HTML("<i>x</i>"), length="l", tone="t").count("<i>x</i>") == 1
    assert esc(esc("<")) == "&lt;"  # escaping twice does not double-escape


# -- rendering -----------------------------------------------------------------------------------


def test_review_card_escapes_merchant_and_model_text() -> None:
    review = AnalysedReview(1, "<script>alert(1)</script> & 物流慢", NEG)
    draft = Draft(
        "reply", "亲 <b>抱歉</b>", (Finding("x", "warning", "可能<承诺>"),), params={"tone": "warm"}
    )
    for lang in ("zh", "en"):
        html = review_card(lang, review, draft)
        plain, _ = parse_html(html)  # Telegram would accept it
        assert "<script>alert(1)</script> & 物流慢" in plain
        assert "亲 <b>抱歉</b>" in plain and "⚠️ 可能<承诺>" in plain
    assert "👎 差评 · 置信度 91%" in parse_html(review_card("zh", review))[0]
    assert "Aspects: delivery" in parse_html(review_card("en", review))[0]


def test_findings_all_clear_line_only_when_asked() -> None:
    assert findings("zh", ()) == ""
    assert "未发现" in findings("zh", (), ok_line=True)


@pytest.mark.parametrize("line", ["短行", "x" * 5000, "&amp;" * 2000, "<b>" + "粗" * 6000 + "</b>"])
def test_split_html_respects_the_limit_and_keeps_each_part_valid(line: str) -> None:
    text = "\n".join([line, "<i>尾巴 &lt;ok&gt;</i>"] * 3)
    parts = split_html(text)
    assert all(len(p) <= MessageLimit.MAX_TEXT_LENGTH for p in parts)
    plain = [parse_html(p)[0] for p in parts]  # each part is valid HTML on its own
    joined = "".join(plain).replace("\n", "")
    assert joined == parse_html(text)[0].replace("\n", "")


def test_cards_and_summary_read_each_aspects_own_polarity() -> None:
    mixed = replace(
        NEG, aspects=("logistics", "quality"), aspect_polarity=(("logistics", 1), ("quality", -1))
    )
    card = parse_html(review_card("zh", AnalysedReview(1, "物流快，但质量太差", mixed)))[0]
    assert "方面：物流👍、质量👎" in card
    assert (
        "Aspects: delivery\n" in parse_html(review_card("en", AnalysedReview(1, "x", NEG)))[0]
    )  # no signs known
    # praised logistics in a negative review is not a logistics complaint; a complaint inside a
    # positive review is one
    pos = Sentiment(
        "positive", {"negative": 0.1, "neutral": 0.1, "positive": 0.8}, ("taste", "packaging"),
        (("taste", 1), ("packaging", -1)),
    )  # fmt: skip
    reviews = [AnalysedReview(1, "a", mixed), AnalysedReview(2, "b", pos), AnalysedReview(3, "c", NEG)]
    text = parse_html(summary("zh", reviews, 5))[0]
    assert "共 3 条评价：👍 1 · 😐 0 · 👎 2" in text
    assert "吐槽集中在：物流 ×1、包装 ×1、质量 ×1" in text
    d = digest([(r.text, r.sentiment) for r in reviews])
    stats = {a.aspect: (a.negative, a.positive, a.total) for a in d.aspects}
    assert stats == {"logistics": (1, 1, 2), "quality": (1, 0, 1), "taste": (0, 1, 1), "packaging": (1, 0, 1)}


def test_labelled_csv_matches_the_cli_format() -> None:
    table = Table(
        ["订单号", "评价内容", "label"],
        [["A1", "物流慢", "x"], ["A2", "", "y"], ["A3", "物流快，但质量一般", "z"]],
        1,
        "utf-8",
    )
    mixed = replace(
        NEG, aspects=("logistics", "quality"), aspect_polarity=(("logistics", 1), ("quality", -1))
    )
    data = labelled_csv(table, [NEG, None, mixed]).decode("utf-8-sig").splitlines()
    assert (
        data[0]
        == "订单号,评价内容,input_label,label,p_negative,p_neutral,p_positive,aspects,aspect_sentiment"
    )
    assert data[1] == "A1,物流慢,x,negative,0.9100,0.0500,0.0400,logistics,"  # no tagger: no polarity
    assert data[2] == "A2,,y,,,,,,"
    assert (
        data[3]
        == "A3,物流快，但质量一般,z,negative,0.9100,0.0500,0.0400,logistics;quality,logistics:+;quality:-"
    )


# -- logs ----------------------------------------------------------------------------------------


def test_redaction_masks_the_token_in_messages_and_tracebacks() -> None:
    secret = "123456:AAH3fakeFAKEfake_token-0123456789ab"
    redact = RedactSecrets()
    redact.secrets |= {secret, secret.split(":")[1]}
    args = {"url": f"https://api.telegram.org/bot{secret}/getMe"}
    record = logging.LogRecord("telegram.Bot", logging.DEBUG, __file__, 1, "calling %s", (args,), None)
    try:
        raise RuntimeError(f"failed: https://api.telegram.org/bot{secret.replace(':', '%3A')}/x")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert redact.filter(record)
    args["url"] = secret  # a dict logged by reference and changed later (as PTB does)
    text = logging.Formatter().format(record)
    assert "AAH3fake" not in text and MASK in text


async def test_a_refused_value_is_logged_by_its_field_not_its_text(caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from bot.handlers.errors import on_error
    from bot.store import InvalidValue

    typed = "给我转账 13800138000"
    context = SimpleNamespace(error=InvalidValue("tone", f"must be one of a, b (got {typed!r})"), lang="zh")
    with caplog.at_level(logging.INFO, logger="bot.handlers.errors"):
        await on_error(None, context)  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.name == "bot.handlers.errors"]
    assert "InvalidValue: field tone" in record.getMessage() and typed not in record.getMessage()
