"""The hub's web-page kit: the Jinja environment, the translator, the security headers every
page carries, the reader's language, and the 429 page. The sign-up pages, the dashboard, the
sheet upload and the room hubs' pages (server/routes/) all render through it; the API's error
messages use its language negotiation too (server/api.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import formatting
from app.errors import N_
from app.i18n import gettext_for
from app.identifiers import RECORD_ID_FORM
from app.model import localized

from .errors import HubError

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGS = ("fr", "it", "en")

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
# Numbers and dates as the kiosk, the facilitator and the projector write them
# (app/formatting.py): `{{ n|number(lang) }}`, `{{ share|percent(lang) }}`,
# `{{ amount|money(lang, currency) }}`,
# `{{ iso|day_and_time(lang) }}`; the record-ID rule for a form's `pattern` (app/identifiers.py).
_env.filters.update(number=formatting.number, percent=formatting.percent,
                    money=formatting.money,
                    day_and_time=formatting.day_and_time,
                    localized=lambda text, lang: localized(text or {}, lang))
_env.globals["record_id_pattern"] = RECORD_ID_FORM


def request_lang(request: Request, default: str = "fr") -> str:
    """The reader's language, the hub's one negotiation: `?lang=`, else the first of
    Accept-Language the hub speaks, else `default`."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        lang = part.split(";")[0].strip().lower()[:2]
        if lang in LANGS:
            return lang
    return default


def translator(lang: str) -> Callable[[str], str]:
    """The `_` of `lang` (English: the msgids themselves)."""
    if lang == "en":
        return lambda s: s
    try:
        return gettext_for(lang)
    except (OSError, ValueError):
        return lambda s: s


# On every page and export: no script, no framing (clickjacking of the login or sign-up form),
# no sniffing, no address (with its signed link) leaked to another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def render(name: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template `name` in `lang`, never cached, with the security headers."""
    _ = translator(lang)
    html = _env.get_template(name).render(_=_, lang=lang, langs=LANGS, **context)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "Content-Language": lang, **SECURITY_HEADERS})


def limited(request: Request, kind: str, who: str | None = None) -> HTMLResponse | None:
    """None, or the 429 page when the client (or `who`) has passed the `kind` limit."""
    from .limits import client_address
    hub = request.app.state.hub
    if who is None:
        who = client_address(request.scope, hub.settings.trusted_proxies)
    try:
        request.app.state.limits.hit(kind, who)
    except HubError as exc:
        lang = request_lang(request)
        response = render("message.html", lang, exc.status,
                          title=exc.describe(translator(lang)),
                          text=N_("Wait a moment, then try again."))
        response.headers.update(exc.headers or {})
        return response
    return None


async def read_form(request: Request, max_bytes: int | None = None) -> dict[str, str]:
    """A page's form fields (text only); a malformed body, or one of more than `max_bytes`,
    is a form without fields. The Guard (server/body.py) bounds the body first."""
    if max_bytes is not None and len(await request.body()) > max_bytes:
        return {}
    try:
        form = await request.form()
    except Exception:   # a malformed body: the reader only needs a clear page
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def public_form(request: Request, max_bytes: int) -> tuple[HTMLResponse | None, dict, str]:
    """For a resident's POST: (the 429 page or None, the form's fields, the language the form
    names or else the request's)."""
    refused = limited(request, "public")
    if refused is not None:
        return refused, {}, request_lang(request)
    form = await read_form(request, max_bytes)
    return None, form, form["lang"] if form.get("lang") in LANGS else request_lang(request)
