"""Every text the bot shows, in Chinese and English.

`t(lang, key, **values)` picks the template and fills it in; values are HTML-escaped unless
they are `HTML` (already rendered markup), so merchant text can never inject markup.
The language of a user comes from their Telegram `language_code` ("zh*" -> Chinese, anything
else -> English) until they choose one in /settings (stored with `Store.set_language`).
"""

from __future__ import annotations

import html
import string
from typing import Final

from nlp.types import ASPECTS, Language


class HTML(str):
    """Markup that is already safe (rendered by us); `t` inserts it without escaping."""

    __slots__ = ()


def esc(value: object) -> HTML:
    """Merchant or model text made safe for Telegram's HTML parse mode."""
    return value if isinstance(value, HTML) else HTML(html.escape(str(value), quote=False))


def language_of(language_code: str | None) -> Language:
    """A Telegram `language_code` ("zh-hans", "en-US", None) -> the bot's UI language."""
    return "zh" if language_code and language_code.lower().startswith("zh") else "en"


def t(lang: Language, key: str, **values: object) -> HTML:
    """The text `key` in `lang`, with `values` escaped and filled in."""
    zh, en = TEXTS[key]
    template = zh if lang == "zh" else en
    return HTML(template.format(**{k: esc(v) for k, v in values.items()}) if values else template)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


ASPECTS_EN: Final[dict[str, str]] = {
    "logistics": "delivery",
    "quality": "quality",
    "price": "price",
    "service": "service",
    "packaging": "packaging",
    "appearance": "looks",
    "function": "function",
    "authenticity": "authenticity",
    "size": "size",
    "taste": "taste",
}


def aspect_name(lang: Language, key: str) -> str:
    names = ASPECTS if lang == "zh" else ASPECTS_EN
    return names.get(key, key)


# key -> (Chinese, English). Templates are HTML: literal "<", ">" and "&" must be escaped.
TEXTS: Final[dict[str, tuple[str, str]]] = {
    # -- start, help, commands -----------------------------------------------------------------
    "intro": (
        "👋 我是<b>店小二</b>，帮你打理顾客评价和商品文案。\n"
        "1. 直接粘贴顾客评价（每行一条）：判断好评差评、找出问题方面，并按店铺语气写好回复。\n"
        "2. /copy 按商品信息写文案并检查编造参数和广告法禁用词；上传 CSV/Excel 评价表可批量分析。\n"
        "3. /strategy 根据差评给出经营建议；/settings 修改店铺资料；/help 查看全部命令。",
        "👋 I am <b>xiaoer (店小二)</b>, your assistant for customer reviews and product copy.\n"
        "1. Paste customer reviews (one per line): sentiment, the aspects mentioned, and a reply "
        "in your shop's voice.\n"
        "2. /copy writes product copy checked for invented specs and banned ad claims; upload a "
        "CSV/Excel review export for a triage report.\n"
        "3. /strategy suggests actions from your complaints; /settings edits the shop profile; "
        "/help lists every command.",
    ),
    "help": (
        "<b>使用方法</b>\n"
        "• 粘贴评价（每行一条或带编号）→ 情感、方面和建议回复，可重新生成、换语气、修改、采用\n"
        "• 上传评价表（CSV / TSV / TXT / Excel）→ 统计报告、图表和带标签的表格\n"
        "/copy 写商品文案\n/strategy 经营建议\n/history 最近记录\n"
        "/export 导出采用和修改过的回复（JSONL，用于训练）\n"
        "/settings 店铺资料和界面语言\n/start 重新设置店铺\n/cancel 取消当前操作",
        "<b>How to use</b>\n"
        "• Paste reviews (one per line or numbered) → sentiment, aspects and a suggested reply "
        "you can regenerate, re-tone, edit, accept\n"
        "• Upload a review export (CSV / TSV / TXT / Excel) → report, chart and a labelled table\n"
        "/copy write product copy\n/strategy suggestions from your reviews\n/history recent items\n"
        "/export accepted and edited replies as JSONL (for training)\n"
        "/settings shop profile and UI language\n/start set up the shop again\n"
        "/cancel stop what is in progress",
    ),
    "cmd.start": ("设置店铺并开始使用", "set up your shop"),
    "cmd.help": ("使用方法", "how to use the bot"),
    "cmd.copy": ("写商品文案", "write product copy"),
    "cmd.strategy": ("根据评价给出经营建议", "suggestions from your reviews"),
    "cmd.history": ("最近的记录", "recent items"),
    "cmd.export": ("导出训练数据（JSONL）", "export training data (JSONL)"),
    "cmd.settings": ("店铺资料和语言", "shop profile and language"),
    "cmd.cancel": ("取消当前操作", "cancel what is in progress"),
    "cancelled": ("已取消。", "Cancelled."),
    "nothing_to_cancel": ("现在没有进行中的操作。", "Nothing to cancel."),
    "unknown_command": ("不认识这个命令，/help 查看全部命令。", "Unknown command; /help lists them."),
    "skip_hint": ("（/skip 保留当前值）", "(/skip keeps the current value)"),
    # -- onboarding ----------------------------------------------------------------------------
    "ob.ask_name": (
        "先设置店铺资料（随时 /cancel 退出）。\n店铺名称是？当前：<i>{current}</i>",
        "Let's set up your shop (/cancel at any time).\nWhat is the shop's name? Now: <i>{current}</i>",
    ),
    "ob.ask_category": (
        "主营类目是？如 女装、家居、数码。当前：<i>{current}</i>",
        "What do you sell? E.g. women's clothing, home goods. Now: <i>{current}</i>",
    ),
    "ob.ask_tone": ("回复顾客时用什么语气？", "Which tone should replies to customers take?"),
    "ob.ask_signature": (
        "回复的落款是？如 “—— 小美家居客服”。当前：<i>{current}</i>",
        "How should replies be signed? E.g. “— The Mia Home team”. Now: <i>{current}</i>",
    ),
    "ob.ask_policy": (
        "售后政策是？回复会引用它，不会承诺政策以外的补偿。当前：<i>{current}</i>",
        "What is your after-sales policy? Replies quote it and promise nothing beyond it. "
        "Now: <i>{current}</i>",
    ),
    "ob.ask_language": ("回复顾客用什么语言？", "Which language should replies be written in?"),
    "ob.done": (
        "✅ 设置完成！\n\n{profile}\n\n现在粘贴一条顾客评价试试吧。",
        "✅ All set!\n\n{profile}\n\nNow paste a customer review to try it.",
    ),
    "invalid_value": (
        "⚠️ 这个值不行：{detail}\n请重新发送，或 /cancel。",
        "⚠️ That value was refused: {detail}\nSend it again, or /cancel.",
    ),
    # -- vocabularies --------------------------------------------------------------------------
    "tone.warm": ("亲切", "warm"),
    "tone.professional": ("专业", "professional"),
    "tone.concise": ("简洁", "concise"),
    "tone.apologetic": ("致歉", "apologetic"),
    "label.negative": ("👎 差评", "👎 negative"),
    "label.neutral": ("😐 中评", "😐 neutral"),
    "label.positive": ("👍 好评", "👍 positive"),
    "rlang.zh": ("中文", "Chinese"),
    "rlang.en": ("英文", "English"),
    "rlang.auto": ("跟随评价的语言", "same as the review"),
    "ui.zh": ("中文", "中文 (Chinese)"),
    "ui.en": ("English", "English"),
    "platform.generic": ("通用", "generic"),
    "platform.taobao": ("淘宝", "Taobao"),
    "platform.jd": ("京东", "JD"),
    "platform.pdd": ("拼多多", "Pinduoduo"),
    "platform.douyin": ("抖音", "Douyin"),
    "platform.xiaohongshu": ("小红书", "Xiaohongshu"),
    "length.short": ("短", "short"),
    "length.medium": ("中等", "medium"),
    "length.long": ("长", "long"),
    "kind.reply": ("回复", "reply"),
    "kind.copy": ("文案", "copy"),
    "kind.strategy": ("建议", "strategy"),
    "field.name": ("店铺名称", "shop name"),
    "field.category": ("类目", "category"),
    "field.tone": ("语气", "tone"),
    "field.signature": ("落款", "signature"),
    "field.policy": ("售后政策", "after-sales policy"),
    "field.language": ("回复语言", "reply language"),
    "field.ui": ("界面语言", "UI language"),
    "profile": (
        "店铺：{name}\n类目：{category}\n语气：{tone}\n落款：{signature}\n售后政策：{policy}\n回复语言：{language}",
        "Shop: {name}\nCategory: {category}\nTone: {tone}\nSignature: {signature}\n"
        "After-sales policy: {policy}\nReply language: {language}",
    ),
    "none": ("—", "—"),
    # -- review cards --------------------------------------------------------------------------
    "analysing": ("🔎 分析中…", "🔎 Analysing…"),
    "summary": (
        "🔎 共 {total} 条评价：👍 {positive} · 😐 {neutral} · 👎 {negative}",
        "🔎 {total} reviews: 👍 {positive} · 😐 {neutral} · 👎 {negative}",
    ),
    "summary_aspects": ("吐槽集中在：{aspects}", "Complaints are about: {aspects}"),
    "summary_order": ("下面是每条评价的卡片，差评在前。", "A card per review follows, negatives first."),
    "summary_more": (
        "前 {n} 条已自动写回复，其余点卡片上的 ✍️ 生成。",
        "The first {n} get a reply now; press ✍️ on the others for theirs.",
    ),
    "card.head": ("{badge} · 置信度 {confidence}", "{badge} · confidence {confidence}"),
    "card.aspects": ("方面：{aspects}", "Aspects: {aspects}"),
    "card.reply": ("💬 <b>建议回复</b>（{tone}）：", "💬 <b>Suggested reply</b> ({tone}):"),
    "card.writing": ("✍️ 正在写回复…", "✍️ Writing a reply…"),
    "card.no_reply": ("点 ✍️ 生成回复。", "Press ✍️ for a reply."),
    "card.not_sent": (
        "⚠️ 有 {n} 条评价的卡片没能发出（Telegram 暂时出错），评价已保存。请稍后把这几条再发一次：\n{reviews}",
        "⚠️ {n} review cards could not be sent (Telegram failed for now); the reviews are saved. "
        "Send these again in a moment:\n{reviews}",
    ),
    "card.empty_reply": ("（模型没有给出内容，点 🔄 重试）", "(the model gave no text; press 🔄 to retry)"),
    "card.accepted": ("✅ 已采用，已记入训练数据。", "✅ Accepted and kept for training."),
    "card.rejected": (
        "🚫 已标记为不用。可以换个语气或重新生成。",
        "🚫 Marked as not used. Try another tone or regenerate.",
    ),
    "card.edited": ("✏️ 已保存你修改后的版本。", "✏️ Your edited version is saved."),
    "card.failed": ("⚠️ 回复没写成：{reason}", "⚠️ No reply this time: {reason}"),
    "btn.regen": ("🔄 重新生成", "🔄 Regenerate"),
    "btn.edit": ("✏️ 修改", "✏️ Edit"),
    "btn.accept": ("✅ 采用", "✅ Accept"),
    "btn.reject": ("🚫 不用", "🚫 Reject"),
    "btn.reply": ("✍️ 生成回复", "✍️ Write a reply"),
    "btn.shorten": ("✂️ 缩短", "✂️ Shorter"),
    "btn.done": ("完成", "Done"),
    "edit.prompt": (
        "请发送修改后的回复全文（/cancel 取消）：\n\n<code>{current}</code>",
        "Send the edited reply in full (/cancel to stop):\n\n<code>{current}</code>",
    ),
    "edit.saved": (
        "✅ 已保存修改后的回复，可用于训练（/export 导出）。",
        "✅ Edited reply saved for training (/export to download).",
    ),
    "edit.too_long": (
        "回复太长了（上限 {limit} 字）。",
        "That reply is too long (limit {limit} characters).",
    ),
    "cb.invalid": ("这个按钮无效或已过期。", "This button is invalid or has expired."),
    "cb.not_yours": ("找不到这条记录。", "That record was not found."),
    "cb.saved": ("已记录", "Saved"),
    "findings.ok": ("✅ 未发现编造的参数或违规用语", "✅ No invented facts or banned claims found"),
    # -- /copy ---------------------------------------------------------------------------------
    "cp.ask_name": (
        "✍️ 写商品文案。商品名称是？（/cancel 取消）",
        "✍️ Product copy. What is the product? (/cancel to stop)",
    ),
    "cp.ask_points": (
        "卖点有哪些？用逗号或分号分隔。",
        "Its selling points? Separate them with commas or semicolons.",
    ),
    "cp.ask_specs": (
        "规格参数？如 容量=500ml；材质=304不锈钢（/skip 跳过）",
        "Specifications? E.g. capacity=500ml; material=304 steel (/skip to leave out)",
    ),
    "cp.ask_price": ("价格？（/skip 跳过）", "Price? (/skip to leave out)"),
    "cp.ask_audience": ("目标人群？（/skip 跳过）", "Who is it for? (/skip to leave out)"),
    "cp.ask_platform": ("发布在哪个平台？", "Which platform is it for?"),
    "cp.ask_length": ("文案多长？", "How long should the copy be?"),
    "cp.writing": ("✍️ 正在写 {n} 个方案…", "✍️ Writing {n} variants…"),
    "cp.variant": (
        "<b>方案 {i}</b>（{platform} · {length} · {tone}）",
        "<b>Variant {i}</b> ({platform} · {length} · {tone})",
    ),
    "cp.empty": ("（模型没有给出内容，点 🔄 重试）", "(the model gave no text; press 🔄 to retry)"),
    "cp.accepted": ("✅ 已采用这个方案。", "✅ You accepted this variant."),
    "cp.failed": ("⚠️ 文案没写成：{reason}", "⚠️ No copy this time: {reason}"),
    # -- /strategy -----------------------------------------------------------------------------
    "st.none": (
        "还没有分析过的评价：先粘贴或上传一些评价。",
        "No analysed reviews yet: paste or upload some first.",
    ),
    "st.working": (
        "📊 正在根据最近的评价写经营建议…",
        "📊 Working out suggestions from your recent reviews…",
    ),
    "st.counts": (
        "📊 <b>最近 {total} 条评价</b>：👍 {positive} · 😐 {neutral} · 👎 {negative}",
        "📊 <b>Your last {total} reviews</b>: 👍 {positive} · 😐 {neutral} · 👎 {negative}",
    ),
    "st.aspects": ("<b>吐槽集中的方面</b>：", "<b>What customers complain about</b>:"),
    "st.aspect": (
        "• {aspect}：{negative} 条吐槽（共 {total} 条提到）",
        "• {aspect}: {negative} complaints (mentioned in {total})",
    ),
    "st.praise": ("<b>好评集中的方面</b>：{aspects}", "<b>What customers praise</b>: {aspects}"),
    "st.quote": ("   “{quote}”", "   “{quote}”"),
    "st.no_complaints": ("暂时没有集中的差评方面 👍", "No complaint stands out 👍"),
    "st.actions": ("💡 <b>建议</b>：", "💡 <b>Suggestions</b>:"),
    # -- /history, /export ---------------------------------------------------------------------
    "hist.title": ("🗂 <b>最近的记录</b>", "🗂 <b>Recent items</b>"),
    "hist.line": ("#{id} · {kind} · {date}{status}", "#{id} · {kind} · {date}{status}"),
    "hist.empty": ("还没有记录。粘贴一条评价开始吧。", "Nothing yet. Paste a review to begin."),
    "status.accepted": ("已采用", "accepted"),
    "status.edited": ("已修改", "edited"),
    "status.rejected": ("不用", "rejected"),
    "status.regenerated": ("已重新生成", "regenerated"),
    "export.empty": (
        "还没有可导出的数据：先采用或修改一些回复。",
        "Nothing to export yet: accept or edit some replies first.",
    ),
    "export.caption": (
        "📦 {n} 条训练样本（JSONL），可用于 <code>xiaoer train</code>。",
        "📦 {n} training examples (JSONL), ready for <code>xiaoer train</code>.",
    ),
    # -- files ---------------------------------------------------------------------------------
    "file.too_big": (
        "文件太大（{size}，上限 {limit}），请拆分后再上传。",
        "The file is too large ({size}; the limit is {limit}). Split it and upload the parts.",
    ),
    "file.cloud_limit": (
        "Telegram 官方服务器只允许机器人下载 20 MB 以内的文件；更大的文件需要自建 Bot API 服务器"
        "（XIAOER_TELEGRAM__BASE_URL）。",
        "Telegram's cloud Bot API lets bots download files up to 20 MB; bigger ones need a "
        "self-hosted Bot API server (XIAOER_TELEGRAM__BASE_URL).",
    ),
    "file.bad_type": (
        "只支持 CSV、TSV、TXT 和 Excel（.xlsx）文件。",
        "Only CSV, TSV, TXT and Excel (.xlsx) files are supported.",
    ),
    "file.unreadable": ("无法读取这个文件：{reason}", "Cannot read this file: {reason}"),
    "file.reading": ("📥 正在读取 {name}…", "📥 Reading {name}…"),
    "file.download_failed": (
        "⚠️ {name} 没有下载成功（与 Telegram 的连接中断），什么都没有保存。请重新发送这个文件。",
        "⚠️ {name} could not be downloaded (the connection to Telegram dropped); nothing was saved. "
        "Please send the file again.",
    ),
    "file.failed": (
        "⚠️ {name} 没有分析完：{reason}\n请稍后重新发送这个文件：已经分析过的评价不会重复保存。",
        "⚠️ {name} was not analysed to the end: {reason}\nSend the file again in a moment: reviews already "
        "analysed are not stored twice.",
    ),
    "file.progress": ("🔎 已分析 {done}/{total} 条…", "🔎 Classified {done}/{total}…"),
    "file.title": ("📑 <b>{name}</b>：{total} 条评价", "📑 <b>{name}</b>: {total} reviews"),
    "file.empty_rows": ("（{n} 行为空，未分析）", "({n} empty rows left out)"),
    "file.counts": (
        "👍 好评 {positive} · 😐 中评 {neutral} · 👎 差评 {negative}",
        "👍 positive {positive} · 😐 neutral {neutral} · 👎 negative {negative}",
    ),
    "file.negatives": ("<b>差评（前 {n} 条）</b>：", "<b>Negative reviews (first {n})</b>:"),
    "file.negative": ("第 {row} 行 · {confidence}：{text}", "row {row} · {confidence}: {text}"),
    "file.chart": ("评价分布与主要问题", "Sentiment and top complaints"),
    "file.csv": (
        "带标签的表格（UTF-8，Excel 可直接打开）",
        "The labelled table (UTF-8, opens in Excel)",
    ),
    "file.no_reviews": ("文件里没有评价内容。", "The file holds no reviews."),
    # -- uploads: why a file is refused (bot/tables.py ParseError codes), duplicates, rate units --
    "upload.too_big": (
        "文件太大（{size}，上限 {limit}），请拆分后再上传。",
        "The file is too large ({size}; the limit is {limit}). Split it and upload the parts.",
    ),
    "upload.binary": (
        "这不是文本文件（含二进制内容），请上传 CSV、TXT 或 .xlsx。",
        "This is not a text file (it holds binary data): upload a CSV, TXT or .xlsx.",
    ),
    "upload.no_rows": ("文件里没有评价（只有表头或全是空行）。", "The file has no rows of reviews."),
    "upload.empty": ("文件是空的。", "The file is empty."),
    "upload.no_text_column": (
        "找不到评价所在的列，请把该列命名为 text 或 评价内容。现有列：{columns}",
        "No review column found: name it 'text' or '评价内容'. Columns: {columns}",
    ),
    "upload.bad_utf16": ("UTF-16 文件已损坏，请重新导出。", "The UTF-16 file is damaged: export it again."),
    "upload.encoding": (
        "文件编码无法识别：请另存为 UTF-8 或 GBK 编码。",
        "Cannot decode the file: save it as UTF-8 or GBK.",
    ),
    "upload.foreign_encoding": (
        "文件看起来是 {encoding} 编码（繁体或日文），按 GBK 读会变成乱码。请在 Excel 里另存为"
        "“CSV UTF-8”后再上传。",
        "The file looks like {encoding} (Traditional Chinese or Japanese) and would read as "
        'gibberish. Save it from Excel as "CSV UTF-8" and upload it again.',
    ),
    "upload.bad_csv": (
        "CSV 格式有误（{detail}），请重新导出。",
        "Malformed CSV ({detail}): export it again.",
    ),
    "upload.bad_xlsx": (
        "无法读取 Excel 文件（{detail}），请在 Excel 里重新保存为 .xlsx 或另存为 CSV。",
        "Unreadable XLSX ({detail}): save it again as .xlsx from Excel, or as CSV.",
    ),
    "upload.too_many_rows": (
        "行数太多：超过 {limit} 行（空行也算），请拆分后分批上传。",
        "Too many rows: over {limit} (empty rows count too). Split the file and upload the parts.",
    ),
    "upload.too_many_columns": (
        "文件有 {n} 列，最多支持 {limit} 列，请删掉不需要的列。",
        "The file has {n} columns; at most {limit} are supported. Delete the columns you do not need.",
    ),
    "upload.too_many_cells": (
        "表格太大：{rows} 行 × {columns} 列，最多 {cells} 个单元格，请删掉不需要的列或拆分文件。",
        "The table is too large: {rows} rows × {columns} columns, at most {cells} cells. Delete "
        "columns you do not need or split the file.",
    ),
    "upload.cell_too_long": (
        "第 {row} 行有一个单元格超过 {limit} 个字，请删减后再上传。",
        "Row {row} has a cell over {limit} characters: shorten it and upload again.",
    ),
    "upload.too_much_text": (
        "表格里的文字太多：超过 {limit} 百万字，请删掉不需要的列或拆分文件。",
        "The table holds too much text: over {limit} million characters. Delete the columns you "
        "do not need or split the file.",
    ),
    "upload.zip_members": (
        "Excel 文件里有 {n} 个部件，最多 {limit} 个，请另存为 CSV。",
        "The Excel file has {n} parts; at most {limit} are allowed. Save it as CSV.",
    ),
    "upload.zip_size": (
        "Excel 文件解压后有 {size}，上限 {limit}，请拆分或另存为 CSV。",
        "The Excel file unpacks to {size}; the limit is {limit}. Split it or save it as CSV.",
    ),
    "upload.zip_ratio": (
        "Excel 文件的 {name} 压缩比异常（{ratio} 倍，上限 {limit} 倍），请在 Excel 里重新保存。",
        "{name} in the Excel file is compressed {ratio}x (the limit is {limit}x): save it again from Excel.",
    ),
    "upload.repeat": (
        "ℹ️ 这个文件 {when} 已经分析过，评价没有重复保存；下面是重新生成的报告。",
        "ℹ️ This file was already analysed on {when}; its reviews were not stored again. Here is "
        "the report once more.",
    ),
    # -- /settings -----------------------------------------------------------------------------
    "set.show": (
        "⚙️ <b>店铺资料</b>\n{profile}\n界面语言：{ui}\n\n点按钮修改：",
        "⚙️ <b>Shop profile</b>\n{profile}\nUI language: {ui}\n\nPress a button to change it:",
    ),
    "set.ask_value": (
        "请发送新的{field}（当前：<i>{current}</i>；/cancel 取消）。",
        "Send the new {field} (now: <i>{current}</i>; /cancel to stop).",
    ),
    "set.choose": ("请选择{field}：", "Choose the {field}:"),
    "set.saved": ("✅ 已保存。", "✅ Saved."),
    "set.closed": ("⚙️ 设置已关闭。", "⚙️ Settings closed."),
    # -- admin ---------------------------------------------------------------------------------
    "admin.only": ("这个命令只有管理员可以用。", "Only admins can use this command."),
    "admin.stats": (
        "📈 <b>运行状态</b>\n运行时间：{uptime}\n排队中的模型请求：{queue}\n"
        "写作模型：<code>{writer}</code>\n分类模型：<code>{classifier}</code>\n引擎：{engine}\n"
        "数据：{store}\n今日用量：{usage}\n允许名单：{allowlist}",
        "📈 <b>Status</b>\nUptime: {uptime}\nModel requests waiting: {queue}\n"
        "Writer: <code>{writer}</code>\nClassifier: <code>{classifier}</code>\nEngine: {engine}\n"
        "Data: {store}\nUsage today: {usage}\nAllowlist: {allowlist}",
    ),
    "admin.allowlist_off": (
        "未启用（XIAOER_ACCESS__OPEN=true，所有人可用）",
        "off (XIAOER_ACCESS__OPEN=true: open to everyone)",
    ),
    "admin.allowlist_on": ("{n} 人，管理员 {admins} 人", "{n} users, admins: {admins}"),
    "admin.allow_usage": (
        "用法：/allow 用户ID（纯数字，例如 /allow 123456789；对方给机器人发任意消息就能看到自己的 ID）",
        "Usage: /allow USER_ID (digits only, e.g. /allow 123456789; users see their id when they "
        "message the bot)",
    ),
    "admin.allowed": ("✅ 已允许用户 {user_id}。", "✅ User {user_id} may now use the bot."),
    "admin.already": ("用户 {user_id} 已经在允许名单里。", "User {user_id} was already allowed."),
    "admin.open_note": (
        "注意：XIAOER_ACCESS__OPEN=true，现在所有人都能使用；关闭开放模式后允许名单才生效。",
        "Note: XIAOER_ACCESS__OPEN=true, so everyone may use the bot; the allowlist applies once "
        "open mode is off.",
    ),
    # -- access: /deny, the start-up claim code, edited messages ---------------------------------
    "admin.deny_usage": (
        "用法：/deny 用户ID（纯数字，例如 /deny 123456789）",
        "Usage: /deny USER_ID (digits only, e.g. /deny 123456789)",
    ),
    "admin.denied": (
        "🚫 已移除用户 {user_id}，对方不能再使用机器人。",
        "🚫 User {user_id} was removed and can no longer use the bot.",
    ),
    "admin.not_listed": (
        "用户 {user_id} 不在允许名单里，无需移除。",
        "User {user_id} was not on the allowlist; nothing to remove.",
    ),
    "admin.deny_configured": (
        "用户 {user_id} 写在配置里（XIAOER_ACCESS__ALLOWED_USER_IDS 或 XIAOER_ACCESS__ADMIN_USER_IDS），"
        "请从配置中删除后重启机器人。",
        "User {user_id} is listed in the configuration (XIAOER_ACCESS__ALLOWED_USER_IDS or "
        "XIAOER_ACCESS__ADMIN_USER_IDS): remove them there and restart the bot.",
    ),
    "admin.deny_self": (
        "不能把自己移除；需要的话请另一位管理员操作。",
        "You can't remove yourself; another admin can.",
    ),
    "claim.ok": (
        "✅ 你现在是这个机器人的管理员。/allow 用户ID 让别人使用，/deny 用户ID 移除，/stats 查看状态。",
        "✅ You are now the admin of this bot. /allow USER_ID lets someone in, /deny USER_ID removes "
        "them, /stats shows the status.",
    ),
    "claim.bad": (
        "认领码不对或已经用过。认领码在 xiaoer run 启动时打印在控制台上；一分钟后可以再试。",
        "That claim code is wrong or already used. It is printed on the console when `xiaoer run` "
        "starts; you can try again in a minute.",
    ),
    "claim.none": (
        "这个机器人已经有管理员了，无需认领。",
        "This bot already has an admin; there is nothing to claim.",
    ),
    "edit.ignored": (
        "✏️ 修改过的消息不会重新分析。请把改好的内容作为新消息再发一次。",
        "✏️ Edited messages are not analysed again. Send the corrected text as a new message.",
    ),
    # -- access and errors ---------------------------------------------------------------------
    "not_allowed": (
        "抱歉，这个机器人只对受邀商家开放。把你的用户 ID <code>{user_id}</code> 发给管理员即可开通。",
        "Sorry, this bot is invite-only. Send your user id <code>{user_id}</code> to the admin to get in.",
    ),
    "rate_limited": (
        "⏳ 请求太频繁了，请 {seconds} 秒后再试。",
        "⏳ Too many requests; try again in {seconds} s.",
    ),
    "too_long": ("内容太长（上限 {limit} 字）。", "Too long (the limit is {limit} characters)."),
    "err.busy": ("⏳ 模型正忙，请稍后再试。", "⏳ The model is busy; try again shortly."),
    # the served writer (XIAOER_NLP__WRITER__BACKEND=openai); review analysis does not need it
    "err.writer_down": (
        "🔌 写作模型的服务器暂时连不上，请稍后再试（评价分析不受影响）。",
        "🔌 The writing model's server cannot be reached right now; try again later "
        "(review analysis still works).",
    ),
    "err.writer_timeout": (
        "⌛ 写作模型的服务器迟迟没有回应，请稍后再试（评价分析不受影响）。",
        "⌛ The writing model's server is not answering in time; try again later "
        "(review analysis still works).",
    ),
    "err.writer_setup": (
        "🔧 写作模型的服务器拒绝了请求（API 密钥或模型名不对），请店主检查 XIAOER_NLP__WRITER__ 设置。",
        "🔧 The writing model's server refused the request (wrong API key or model name); the "
        "operator should check the XIAOER_NLP__WRITER__ settings.",
    ),
    "err.writer_refused": (
        "⚠️ 写作模型的服务器拒绝了这次请求（内容可能太长），请缩短后再试。",
        "⚠️ The writing model's server refused this request (probably too long); shorten it and retry.",
    ),
    "err.timeout": (
        "⌛ 处理超时，请缩短内容或稍后再试。",
        "⌛ That took too long; shorten it or try again later.",
    ),
    "err.restarting": (
        "🔄 机器人正在重启，这个请求已取消，请稍后重新发送。",
        "🔄 The bot is restarting; this request was cancelled. Send it again in a minute.",
    ),
    "err.model": ("❌ 模型加载失败，请联系管理员。", "❌ The model failed to load; please tell the admin."),
    "err.db": ("❌ 数据库出错了，请稍后再试。", "❌ A database error occurred; try again later."),
    "err.not_found": ("找不到这条记录。", "That record was not found."),
    "err.generic": (
        "😵 出了点问题，已记录下来。请再试一次，或 /cancel 重新开始。",
        "😵 Something went wrong and was logged. Try again, or /cancel to start over.",
    ),
    # -- cards that end in a final state (retry button, unexpected errors) ---------------------
    "btn.retry": ("🔁 重试", "🔁 Try again"),
    "err.card": ("出了点问题，已记录下来，请重试。", "something went wrong and was logged; try again."),
    "err.card_db": ("保存时数据库出错，请重试。", "the database failed while saving; try again."),
    "err.card_model": (
        "模型加载失败，请联系管理员。",
        "the model failed to load; please tell the admin.",
    ),
    "err.crashed": (
        "🔄 模型出错，已自动重启，请再试一次。",
        "🔄 The model crashed and was restarted; try again.",
    ),
    "cp.failed_all": (
        "⚠️ 文案没写成：{reason}\n选一个长度再试一次，或 /cancel 退出。",
        "⚠️ No copy this time: {reason}\nChoose a length to try again, or /cancel.",
    ),
    # -- resilience: the store could not write (busy, full, read-only) -------------------------
    "err.db_busy": (
        "⏳ 数据库忙，请稍后再试（这次没有保存）。",
        "⏳ The database is busy; try again in a moment (nothing was saved this time).",
    ),
    "err.db_full": (
        "❌ 磁盘已满，这次没有保存。请管理员清理 XIAOER_STORAGE__PATH 所在的磁盘后再试。",
        "❌ The disk is full; nothing was saved. Ask the admin to free space where "
        "XIAOER_STORAGE__PATH lives, then try again.",
    ),
    "err.db_read_only": (
        "❌ 数据库文件只读，这次没有保存。请管理员检查 XIAOER_STORAGE__PATH 的写权限。",
        "❌ The database file is read-only; nothing was saved. Ask the admin to make "
        "XIAOER_STORAGE__PATH writable.",
    ),
    # -- policy: what the shop's policy allows (parsed policy, drafts with errors) ---------------
    "set.policy_parsed": (
        "📋 我理解的售后政策：\n{parsed}\n\n回复只会承诺以上内容；如有不对，请点“售后政策”改写（写明时限、"
        "原因和运费由谁承担，例如“7天无理由退货，运费买家承担；质量问题包邮退换”）。",
        "📋 How I read your after-sales policy:\n{parsed}\n\nReplies will promise only these. If something "
        "is wrong, press “after-sales policy” and rewrite it (state the time limit, the reason and who "
        "pays shipping, e.g. “7-day no-reason returns, buyer pays shipping; defective items exchanged "
        "with free shipping”).",
    ),
    "card.accept_has_errors": (
        "⚠️ 这条回复有错误（{problems}），不能直接采用：请先点“✏️ 修改”改好，或重新生成。",
        "⚠️ This reply has errors ({problems}) and cannot be accepted as it is: tap “✏️ Edit” to fix it "
        "first, or regenerate.",
    ),
    "console.accept_has_errors": (
        "⚠️ 这条回复有错误（{problems}），不能直接采用：请用 /edit 修改后的回复，或 /reject。",
        "⚠️ This reply has errors ({problems}) and cannot be accepted as it is: send /edit TEXT with "
        "the fixed reply, or /reject.",
    ),
}
