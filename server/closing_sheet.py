"""The closing sheet a facilitator signs (`python -m server closing pdf`, GET /closing/{id}.pdf):
the closing record (server/closing.py) on A4 pages in French or Italian, drawn with Pillow at
300 dpi like the printed cards (server/card_sheet.py), with lines to sign and the QR of the
record's public page, where anyone checks it against the hub's key.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

from app.counts import CHANNEL_NAMES, CHANNELS
from app.errors import N_
from app.formatting import day_and_time, number
from app.i18n import gettext_for
from app.kinds import kind_of
from app.model import localized
from app.qr import qr_matrix

from . import closing
from .card_sheet import DPI, MM, PAGE, _font, _wrap, save_pdf
from .devices import is_alias

MARGIN = round(18 * MM)
# What a sheet draws at most: a room hub's record (signed by that hub, drawn by the central hub
# for anyone asking its PDF) could hold a megabyte of lines, hundreds of 300-dpi pages in memory
# per request. The page online shows everything; the sheet says when it left some out.
SHEET_ITEMS = 100          # lines per list (channels, counts, reasons, mismatches)
SHEET_CHARS = 300          # characters per line
SHEET_MORE = N_("… and {n} more: see the record's page online.")
ABSTENTIONS = N_("Abstentions")      # a yes/no count's abstain cell, on the page and the sheet

MISMATCH_TEXTS = {
    "more_ballots_than_cards": N_("More ballots with a card ({ballots}) than cards handed out "
                                  "({cards})."),
    "more_cards_used_than_handed_out": N_("More cards used ({used}) than cards handed out "
                                          "({cards})."),
    "device_not_synced": N_("The tablet “{name}” has not synced since {since}: it may hold "
                            "votes the server does not have yet."),
    # A tablet without a name (its recorded name is its alias, a code nobody can match to a
    # tablet) is said by its last sync, the time its facilitator's Sync page shows.
    "device_not_synced_unnamed": N_("A tablet of this site has not synced since {since}; its "
                                    "last sync: {last_contact}. It may hold votes the server "
                                    "does not have yet."),
    "device_never_synced_unnamed": N_("A tablet of this site has never synced: it may hold "
                                      "votes the server does not have yet."),
    "count_corrected_after_closing": N_("A count was corrected after closing no. {closing}."),
}


def public_url(hub, closing_id: str) -> str:
    return f"{hub.settings.public_url.rstrip('/')}/closing/{closing_id}"


def mismatch_lines(record: dict, lang: str) -> list[str]:
    """The record's mismatches, said in `lang` (times as the hub's pages write them). Only
    this module's texts are formatted: a kind it does not know (a room hub's record, signed
    by that hub, is shown at the central hub) is shown as written, never used as a format
    string (`{kind:>999999999}` would build a gigabyte per request); a known kind missing a
    value is shown as its kind."""
    _ = gettext_for(lang) if lang != "en" else (lambda s: s)
    lines = []
    for m in record["mismatches"]:
        kind = m.get("kind") if isinstance(m, dict) else m
        text = MISMATCH_TEXTS.get(kind) if isinstance(kind, str) else None
        if kind == "device_not_synced" and isinstance(m, dict) and "since" in m \
                and not tablet_named(m.get("name")):
            text = MISMATCH_TEXTS["device_not_synced_unnamed" if m.get("last_contact")
                                  else "device_never_synced_unnamed"]
        if text is None:
            lines.append(str(kind))
            continue
        values = dict(m)
        try:
            for key in ("since", "last_contact"):
                if values.get(key):
                    values[key] = day_and_time(str(values[key])[:16], lang) + " UTC"
            lines.append(_(text).format_map(values))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            lines.append(kind)
    return lines


def tablet_named(name: object) -> bool:
    """Whether a tablet's recorded name is one a person gave it (not empty, not its alias)."""
    return isinstance(name, str) and bool(name.strip()) and not is_alias(name)


def recorded_by(who: dict, _) -> str:
    """Who typed a count, as the page and the sheet say it: the tablet's name, else "a
    tablet" (its alias or device ID would be a code nobody in the room can read)."""
    name = who.get("name") if isinstance(who, dict) else None
    return name if tablet_named(name) else _("a tablet")


def _question(hub, record: dict, question_id: str):
    """(consultation, question) of a count: the meeting's consultation, else the first this
    hub holds that has the question (a site's day may span several)."""
    scope = record["scope"]
    ids = ([scope["consultation_id"]] if scope.get("consultation_id")
           else [row["id"] for row in hub.consultations()])
    for consultation_id in ids:
        consultation = hub.consultation(consultation_id)
        question = consultation.question(question_id) if consultation else None
        if question is not None:
            return consultation, question
    return None, None


def _prompt(hub, record: dict, question_id: str, lang: str) -> str:
    question = _question(hub, record, question_id)[1]
    return (localized(question.prompt, lang) if question else "") or question_id


def count_lines(hub, record: dict, lang: str) -> list[dict]:
    """Each typed count of the record as the room reads it out in `lang`: its question's
    prompt and its cells by the answers' words ("Oui : 30, Non : 4"), never the sheet's IDs
    ("q-ticket", "yes 30"). A question the hub no longer holds keeps its IDs."""
    _ = gettext_for(lang) if lang != "en" else (lambda s: s)
    colon = "\u00a0:" if lang == "fr" else ":"
    known: dict[str, tuple] = {}

    def words(cells: dict, labels: dict) -> str:
        order = {key: i for i, key in enumerate(labels)}      # the question's own order
        parts = []
        for key, n in sorted(cells.items(), key=lambda kv: order.get(str(kv[0]), len(order))):
            name = labels.get(str(key), str(key))
            if isinstance(n, dict):
                parts.append(f"{name}{colon} " + ", ".join(
                    f"{labels.get(str(k), str(k))} {number(v, lang)}" for k, v in sorted(
                        n.items(), key=lambda kv: order.get(str(kv[0]), len(order)))))
            else:
                parts.append(f"{name}{colon} {number(n, lang)}")
        return (" · " if any(isinstance(n, dict) for n in cells.values()) else ", ").join(parts)

    lines = []
    for c in record["counts"]:
        question_id = c["question_id"]
        if question_id not in known:
            consultation, question = _question(hub, record, question_id)
            labels, prompt = {}, question_id
            if question is not None:
                prompt = localized(question.prompt, lang) or question_id
                fields = kind_of(question).form_fields(consultation, question, lang, _)
                for key in ("options", "colours", "projects"):
                    labels.update({str(item[0]): item[1] for item in fields.get(key, ())})
                if "abstain" in labels:     # a count of abstentions, not "I abstain: 4"
                    labels["abstain"] = _(ABSTENTIONS)
            known[question_id] = (prompt, labels)
        prompt, labels = known[question_id]
        lines.append({"question": prompt, "counts": words(c["counts"], labels),
                      "before": words(c["before"], labels) if c["before"] else "",
                      "recorded_by": recorded_by(c.get("recorded_by"), _)})
    return lines


def channels_in_order(per_channel: dict) -> list[tuple[str, int]]:
    """Ballots per channel in app.counts.CHANNELS' order (a channel it lacks, after)."""
    return ([(c, per_channel[c]) for c in CHANNELS if c in per_channel]
            + [(c, n) for c, n in per_channel.items() if c not in CHANNELS])


def sheet_context(hub, row: dict, lang: str) -> dict:
    """What the page and the PDF show of a closing: its record, checked against this hub's
    key, and its texts in `lang`."""
    key = row.get("public_key") or closing.hub_public_key(hub)   # a room hub's: pinned
    try:
        record = closing.verify_document(row["document"], key)
        problem = closing.chain_problem(hub, row, record)
    except closing.VerificationError as exc:
        record, problem = json.loads(row["document"])["record"], str(exc)
    scope = record["scope"]
    title = localized(scope.get("title") or {}, lang) if scope["kind"] == "meeting" else ""
    return {"record": record, "problem": problem, "title": title, "digest": row["digest"],
            "channel_names": CHANNEL_NAMES, "mismatches": mismatch_lines(record, lang),
            "channels": channels_in_order(record["ballots"]["per_channel"]),
            "count_lines": count_lines(hub, record, lang),
            "question_names": {q: _prompt(hub, record, q, lang) for q in record["used_cards"]},
            "url": public_url(hub, row["id"]), "public_key": key,
            "relay_id": row.get("relay_id")}


class _Pages:
    """Pages written top to bottom; a new one when the current is full."""

    def __init__(self):
        self.pages: list = []
        self.more: list = []      # (font, "… and n more") for the list being drawn
        self._new()

    def _new(self) -> None:
        from PIL import Image, ImageDraw
        if self.pages:      # a full page kept in black and white: an eighth of the memory
            self.pages[-1] = _black_and_white(self.pages[-1])
        self.image = Image.new("L", PAGE, 255)
        self.draw = ImageDraw.Draw(self.image)
        self.pages.append(self.image)
        self.y = MARGIN

    def room(self, height: int) -> None:
        if self.y + height > PAGE[1] - MARGIN:
            self._new()

    def text(self, text: str, font, *, indent: int = 0, gap: int = 8) -> None:
        width = PAGE[0] - 2 * MARGIN - indent
        text = text if len(text) <= SHEET_CHARS else text[:SHEET_CHARS - 1] + "…"
        for line in _wrap(self.draw, text, font, width):
            height = font.size + gap
            self.room(height)
            self.draw.text((MARGIN + indent, self.y), line, font=font, fill=0)
            self.y += height

    def row(self, label: str, value: str, font) -> None:
        self.room(font.size + 12)
        self.draw.text((MARGIN + round(4 * MM), self.y), label, font=font, fill=0)
        width = self.draw.textlength(value, font=font)
        self.draw.text((PAGE[0] - MARGIN - width, self.y), value, font=font, fill=0)
        self.y += font.size + 6
        self.draw.line((MARGIN, self.y, PAGE[0] - MARGIN, self.y), fill=160, width=1)
        self.y += 8

    def space(self, mm: float) -> None:
        self.y += round(mm * MM)

    def qr(self, text: str, side_mm: float = 38) -> None:
        matrix = qr_matrix(text, border=0)
        module = max(1, round(side_mm * MM) // len(matrix))
        side = module * len(matrix)
        self.room(side)
        left = PAGE[0] - MARGIN - side
        for y, line in enumerate(matrix):
            for x, dark in enumerate(line):
                if dark:
                    self.draw.rectangle((left + x * module, self.y + y * module,
                                         left + (x + 1) * module - 1,
                                         self.y + (y + 1) * module - 1), fill=0)
        return side


def _black_and_white(page):
    return page if page.mode == "1" else page.point(lambda v: 255 if v > 150 else 0, mode="1")


def _some(items: list, out: "_Pages", font, lang: str) -> list:
    """The first SHEET_ITEMS of `items`; a line saying how many more when there are."""
    items = list(items)
    if len(items) > SHEET_ITEMS:
        _ = gettext_for(lang)
        out.more.append((font, _(SHEET_MORE).format(n=number(len(items) - SHEET_ITEMS, lang))))
    return items[:SHEET_ITEMS]


def _said_more(out: "_Pages") -> None:
    for font, line in out.more:
        out.text(line, font, indent=round(4 * MM))
    out.more.clear()


def render_sheet(context: dict, lang: str) -> list:
    """Pages (Pillow images, mode "1", 300 dpi) of a closing's sheet; `context` as the public
    page's (server.routes.closings.sheet_context)."""
    _ = gettext_for(lang)
    record = context["record"]
    title_font, head, body = (_font("DejaVuSans-Bold.ttf", 64), _font("DejaVuSans-Bold.ttf", 42),
                              _font("DejaVuSans.ttf", 36))
    small = _font("DejaVuSans.ttf", 29)
    colon = "\u00a0:" if lang == "fr" else ":"      # French typography
    out = _Pages()
    out.text(f"{_('Closing record')} {_('no.')} {record['number']}", title_font)
    scope = record["scope"]
    if scope["kind"] == "meeting":
        out.text(f"{context['title']} · {day_and_time(scope['starts_at'], lang)}", body)
    else:
        out.text(f"{_('Site')} {scope['site_id']} · {day_and_time(scope['day'], lang)}", body)
    out.text(f"{_('Closed on')} {day_and_time(record['made_at'], lang)} UTC · "
             f"{_('Events covered')}{colon} {number(record['events']['count'], lang)}", small)
    top = out.y
    side = out.qr(context["url"])
    out.draw.text((MARGIN, top + 10), _("Check it yourself"), font=head, fill=0)
    text_top = out.y
    out.y = top + 70
    for line in _wrap(out.draw, context["url"], small, PAGE[0] - 2 * MARGIN - side - 40):
        out.draw.text((MARGIN, out.y), line, font=small, fill=0)
        out.y += small.size + 6
    out.y = max(out.y, text_top + side) + round(6 * MM)

    out.text(_("Ballots per channel"), head)
    for channel, n in _some(context["channels"], out, small, lang):
        out.row(_(CHANNEL_NAMES.get(channel, channel))[:SHEET_CHARS], number(n, lang), body)
    _said_more(out)
    out.space(5)
    out.text(_("Participation cards"), head)
    cards = record["cards"]
    for label, n in ((_("Printed"), cards["printed"]),
                     (_("Handed out to sign-ups"), cards["issued_online"]),
                     (_("Cards used"), cards["used"])):
        out.row(label, number(n, lang), body)
    out.space(5)
    if record["counts"]:
        out.text(_("Counts typed in, with every correction"), head)
        for c, said in _some(list(zip(record["counts"], context["count_lines"])), out, small,
                             lang):
            before = f" ({_('Before')}{colon} {said['before']})" if said["before"] else ""
            mark = f" ({_('corrected')})" if not c["current"] else ""
            # What is read out in the room in the body's size; who typed it and when, small.
            out.text(f"{said['question']} · {_(CHANNEL_NAMES.get(c['channel'], c['channel']))}"
                     f"{colon} {said['counts']}{mark}", body, indent=round(4 * MM), gap=4)
            out.text(f"{before.strip() + ' · ' if before else ''}{_('Recorded by')} "
                     f"{said['recorded_by']}, "
                     f"{day_and_time(c['received_at'], lang)}", small, indent=round(8 * MM))
        _said_more(out)
        out.space(5)
    ideas = record["ideas"]
    out.text(_("Ideas"), head)
    for label, key in ((_("Received"), "received"), (_("Published"), "approved"),
                       (_("Not published"), "rejected"), (_("Awaiting moderation"), "pending")):
        out.row(label, number(ideas[key], lang), body)
    for reason in _some(ideas["rejected_reasons"], out, small, lang):
        out.text(f"– {reason['reason'] or '—'}{colon} {number(reason['ideas'], lang)}", small,
                 indent=round(4 * MM))
    _said_more(out)
    out.space(5)
    out.text(_("Mismatches"), head)
    if not context["mismatches"]:
        out.text(_("None: the figures add up."), body)
    for line in _some(context["mismatches"], out, body, lang):
        out.text("– " + line, body, indent=round(4 * MM))
    _said_more(out)
    out.space(8)
    out.room(round(60 * MM))
    out.text(_("The facilitator signs here, having read these figures out in the room."), body)
    for label in (_("Name"), _("Signature"), _("Date and place")):
        out.space(12)
        out.draw.text((MARGIN, out.y), label, font=body, fill=0)
        out.draw.line((MARGIN + round(45 * MM), out.y + body.size, PAGE[0] - MARGIN,
                       out.y + body.size), fill=0, width=3)
        out.y += body.size + 10
    out.space(8)
    out.text(f"{_('Digest')} {context['digest']}", small)
    total = len(out.pages)
    for index, page in enumerate(out.pages, start=1):
        from PIL import ImageDraw
        ImageDraw.Draw(page).text((MARGIN, PAGE[1] - MARGIN + 20),
                                  f"{_('Closing record')} {record['number']} · {index}/{total}",
                                  font=small, fill=0)
    return [_black_and_white(p) for p in out.pages]


def write_pdf(hub, row: dict, lang: str, path: Path) -> int:
    """The sheet of a stored closing (server.closing.closing) as a PDF; its number of pages."""
    pages = render_sheet(sheet_context(hub, row, lang), lang)
    save_pdf(pages, path)
    return len(pages)


# Sheets drawn lately, by everything they show: a record never changes, so the public GET
# .../closing/{id}.pdf draws each sheet once (some 200 ms of CPU at 300 dpi each time: the
# public rate limit alone let one address keep a core busy).
_DRAWN: "OrderedDict[tuple, bytes]" = OrderedDict()
_DRAWN_MAX = 32
_DRAWN_LOCK = threading.Lock()


def pdf_bytes(hub, row: dict, lang: str) -> bytes:
    import io
    context = sheet_context(hub, row, lang)
    key = (row["id"], row["digest"], lang, context["problem"], context["url"],
           context["public_key"], context["title"])
    with _DRAWN_LOCK:
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
            return _DRAWN[key]
    pages = render_sheet(context, lang)
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=DPI,
                  title="Piazzetta", producer="Piazzetta")
    with _DRAWN_LOCK:
        _DRAWN[key] = buffer.getvalue()
        while len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return buffer.getvalue()


def can_show(hub, row: dict) -> bool:
    """Whether this hub can show a room's record (signed by the room, so any shape): its page
    in each language and its sheet. A record that breaks them is refused when sent up rather
    than stored for a public page that fails."""
    from markupsafe import Markup

    from .pages import render
    try:
        for lang in ("fr", "it", "en"):
            context = sheet_context(hub, row, lang)
            render("closing.html", lang, previous=None, closing_id=row["id"], qr=Markup(""),
                   **context)
        render_sheet(context, "fr")
    except Exception:       # any shape the room's signature allows: refused, never a 500
        return False
    return True
