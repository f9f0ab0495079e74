"""The Telegram bot: builds the Application, owns the services' lifecycle, runs it.

    xiaoer run        long polling
    xiaoer webhook    Telegram posts updates to XIAOER_TELEGRAM__WEBHOOK_URL (secret-checked)

`build_application(settings, engine_factory)` is what both use and what the tests drive
against a local Bot API server (`base_url` is a setting). The store and the engine are
created in `post_init` and closed in `post_shutdown`; `stop()` first cancels model work in
flight, so a shutdown takes seconds, not the length of a generation. Start-up also says who
may get in: a loud warning with XIAOER_ACCESS__OPEN=true, and while the bot has no admin a
one-time `/claim CODE` on stderr (see bot/handlers/access.py).
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.handlers import access, admin, copy, errors, files, history, reviews, start, strategy
from bot.handlers import settings as settings_handlers
from bot.i18n import t
from bot.logs import MASK_SECRET, log_contents, protect
from bot.runtime import BotData, Context, Runtime, UserData
from bot.services import Services
from bot.settings import Settings, SettingsError
from bot.store import Store
from nlp.config import NLPConfig
from nlp.engine import Engine
from nlp.types import Language

log = logging.getLogger(__name__)

EngineFactory = Callable[[NLPConfig], Engine]
XiaoerApp = Application[ExtBot[int], Context, UserData, dict[Any, Any], BotData, JobQueue[Context]]

CLAIM_CODE_BYTES = 16  # 128 random bits: the code is tried at most once a minute per user
FLOOD_RETRIES = 3  # AIORateLimiter waits out a RetryAfter and tries again this many times
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]  # what we handle
MENU = ("start", "help", "copy", "strategy", "history", "export", "settings", "cancel")


def default_engine(nlp: NLPConfig) -> Engine:
    """The engine on the configured models (bundled ones unless the settings name others)."""
    from nlp.models import load_classifier, load_writer  # transformers: imported only when needed

    return Engine(nlp.engine, classifier=lambda: load_classifier(nlp), writer=lambda: load_writer(nlp))


class XiaoerApplication(XiaoerApp):
    """The Application, with a `stop()` that cancels model work before PTB drains the updates."""

    async def stop(self) -> None:
        runtime = self.bot_data.runtime
        if runtime is not None:
            cancelled = runtime.begin_shutdown()
            log.info("stopping: %d model requests in flight cancelled", cancelled)
        await super().stop()


def build_application(settings: Settings, engine_factory: EngineFactory = default_engine) -> XiaoerApp:
    """The bot's Application, handlers registered; started by run_polling/run_webhook (or tests)."""
    tg = settings.telegram
    if tg.token is None:
        raise SettingsError("XIAOER_TELEGRAM__TOKEN is not set: create a bot with @BotFather and set it")
    protect(tg.token.get_secret_value())  # PTB and httpx log URLs, and URLs hold the token
    if tg.webhook_secret is not None:
        protect(tg.webhook_secret.get_secret_value(), MASK_SECRET)  # PTB logs setWebhook's params
    if settings.nlp.writer.api_key is not None:  # sent as a header to the writer's server
        protect(settings.nlp.writer.api_key.get_secret_value(), MASK_SECRET)
    log_contents(settings.log_contents)  # PTB logs updates and request bodies at DEBUG

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await _start_services(application, settings, engine_factory)

    jobs: JobQueue[Context] = JobQueue()  # runs conversation timeouts
    app = (
        ApplicationBuilder()
        .application_class(XiaoerApplication)
        .token(tg.token.get_secret_value())
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .context_types(ContextTypes(context=Context, bot_data=BotData, user_data=UserData))
        .defaults(
            Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
        )
        .job_queue(jobs)
        .rate_limiter(AIORateLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(True)  # model calls wait in the engine; other chats go on meanwhile
        .connect_timeout(tg.timeout_s)
        .read_timeout(tg.timeout_s)
        .write_timeout(tg.timeout_s)
        .media_write_timeout(tg.timeout_s * 3)  # uploads of charts and tables take longer
        .post_init(post_init)
        .post_shutdown(_stop_services)
        .build()
    )
    _add_handlers(app)
    return app


def _add_handlers(app: XiaoerApp) -> None:
    # Group -1 runs first for every update: the allowlist, the merchant record, the UI language.
    app.add_handler(TypeHandler(Update, access.gate), group=-1)

    # Group 0: the first handler that matches takes the update, so order matters.
    # 0. Edited messages: never analysed again (one hint), whatever conversation is open.
    app.add_handler(access.edits())
    # 1. Conversations first, so that their text steps win over "plain text = reviews".
    app.add_handler(start.onboarding())
    app.add_handler(settings_handlers.settings_conversation())
    app.add_handler(copy.copy_conversation())
    app.add_handler(reviews.edit_conversation())
    # 2. Commands.
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("cancel", start.nothing_to_cancel))
    app.add_handler(strategy.handler())
    for handler in (*history.handlers(), *admin.handlers()):
        app.add_handler(handler)
    # 3. Buttons on review cards and copy variants.
    app.add_handler(reviews.card_buttons())
    app.add_handler(copy.variant_buttons())
    # 4. Uploads, then any other text: pasted reviews.
    app.add_handler(files.handler())
    app.add_handler(reviews.pasted_reviews())
    # 5. What is left: unknown commands, and buttons that are stale, foreign or forged.
    app.add_handler(MessageHandler(filters.COMMAND, start.unknown_command))
    app.add_handler(CallbackQueryHandler(start.stale_button))

    app.add_error_handler(errors.on_error)


async def _start_services(
    app: Application[Any, Any, Any, Any, Any, Any], settings: Settings, engine_factory: EngineFactory
) -> None:
    """Open the store, load the models, build the runtime, publish the command menu."""
    store = Store(settings.storage)
    await store.open()
    engine = engine_factory(settings.nlp)
    try:
        began = time.perf_counter()
        log.info("loading models (the first start builds the bundled ones, about a minute)")
        await engine.load()
        log.info("models ready in %.1f s", time.perf_counter() - began)
        allowed, admins = await store.allowed_users(), await store.admins()
    except BaseException:
        await engine.close()
        await store.close()
        raise
    runtime = Runtime(settings, Services(store, engine, settings.limits), allowed, admins)
    _announce_access(runtime)
    data: BotData = app.bot_data
    data.runtime = runtime
    await _set_commands(app)


def _announce_access(runtime: Runtime) -> None:
    """Warn when the bot is open to everyone; without an admin, print a one-time claim code."""
    if not runtime.allowlist_active:
        log.warning(
            "XIAOER_ACCESS__OPEN=true: EVERY Telegram user can use this bot, its models and its "
            "database. Set it to false and use XIAOER_ACCESS__ALLOWED_USER_IDS or /allow instead."
        )
    if runtime.has_admin:
        return
    runtime.claim_code = secrets.token_urlsafe(CLAIM_CODE_BYTES)
    line = f"no admin yet: send /claim {runtime.claim_code} to the bot to become its admin (single use)"
    print(f"\n*** xiaoer: {line} ***\n", file=sys.stderr, flush=True)
    log.warning("no admin yet: the one-time /claim code is printed on stderr (not logged)")


async def _set_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu in English (default) and Chinese (for zh* clients)."""
    languages: tuple[tuple[Language, str | None], ...] = (("en", None), ("zh", "zh"))
    try:
        for lang, code in languages:
            menu = [BotCommand(c, t(lang, f"cmd.{c}")) for c in MENU]
            await app.bot.set_my_commands(menu, language_code=code)
    except TelegramError as exc:  # the bot works without a menu
        log.warning("could not set the command menu: %s", exc)


async def _stop_services(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Close the engine (cancelling what waits) and the store."""
    data: BotData = app.bot_data
    runtime, data.runtime = data.runtime, None
    if runtime is not None:
        await runtime.services.engine.close()
        await runtime.services.store.close()
        log.info("engine and store closed")


def run_polling(settings: Settings, engine_factory: EngineFactory = default_engine) -> None:
    """`xiaoer run`: long polling until SIGINT/SIGTERM."""
    app = build_application(settings, engine_factory)
    log.info("polling %s for updates", urlparse(settings.telegram.base_url).netloc)
    app.run_polling(allowed_updates=ALLOWED_UPDATES)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments of `run_webhook` / `Updater.start_webhook` from the settings."""
    tg = settings.telegram
    if not tg.webhook_url:
        raise SettingsError("XIAOER_TELEGRAM__WEBHOOK_URL is not set (the public https URL of this bot)")
    secret = tg.webhook_secret.get_secret_value() if tg.webhook_secret else ""
    if not secret:
        secret = secrets.token_urlsafe(32)  # registered with Telegram by setWebhook at start-up
        log.info("XIAOER_TELEGRAM__WEBHOOK_SECRET is not set: using a random secret for this run")
    protect(secret, MASK_SECRET)  # whoever holds it can post updates as any user
    return {
        "listen": tg.listen,
        "port": tg.port,
        "url_path": urlparse(tg.webhook_url).path.lstrip("/"),
        "webhook_url": tg.webhook_url,
        "secret_token": secret,  # Telegram sends it back in a header; other requests get 403
        "allowed_updates": ALLOWED_UPDATES,
    }


def run_webhook(settings: Settings, engine_factory: EngineFactory = default_engine) -> None:
    """`xiaoer webhook`: serve XIAOER_TELEGRAM__WEBHOOK_URL on listen:port until SIGINT/SIGTERM."""
    options = webhook_options(settings)
    app = build_application(settings, engine_factory)
    log.info("serving the webhook on %s:%d", options["listen"], options["port"])
    app.run_webhook(**options)
