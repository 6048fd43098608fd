"""The hub's outgoing email: the sign-up confirmation (server/register.py asks for it).

SMTP settings come from the environment (PIAZZETTA_HUB_SMTP_URL, PIAZZETTA_HUB_SMTP_FROM);
failures are logged without the address, and the link (it shows a card) is never logged.
"""
from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

log = logging.getLogger("piazzetta.hub.signup")


def smtp_url() -> str:
    """The configured SMTP server (`smtp://user:password@host:port` or `smtps://…`), or ""."""
    return os.environ.get("PIAZZETTA_HUB_SMTP_URL", "").strip()


def send_confirmation(smtp_url: str, to: str, lang: str, link: str, hours: int = 2) -> bool:
    """Send the confirmation email: `smtp://user:password@host:port` (STARTTLS when offered)
    or `smtps://…`. True when the server took it; failures are logged without the address."""
    from app.i18n import gettext_for
    _ = gettext_for(lang)
    parts = urlsplit(smtp_url)
    message = EmailMessage()
    message["Subject"] = _("Confirm your sign-up")
    message["From"] = os.environ.get("PIAZZETTA_HUB_SMTP_FROM", "piazzetta@localhost")
    message["To"] = to
    message.set_content(_("Hello,\n\nTo confirm your sign-up and get your participation card, "
                          "open this link within {hours} h:\n{link}\n\nThe card is shown only "
                          "once: print the page or take a screenshot.\n\nIf you did not sign "
                          "up, ignore this message.").format(link=link, hours=hours))
    try:
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps"
                                                               else 25), timeout=20) as smtp:
            if parts.scheme == "smtp":
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.error("sign-up confirmation email not sent: %s", type(exc).__name__)
        return False
