"""Email through SMTP (settings smtp_*), STARTTLS when configured; subject, preheader and message from the trigger."""

from __future__ import annotations

import html
import json
import smtplib
from email.message import EmailMessage
from typing import Any

from notify.webhook import SendResult
from settings import Settings

TIMEOUT_SECONDS = 15.0


def build_message(sender: str, to: list[str], subject: str, preheader: str, message: str,
                  payload: dict[str, Any]) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject
    details = json.dumps(payload, indent=2, sort_keys=True, default=str)
    mail.set_content(f"{message}\n\n{details}\n" if message else f"{details}\n")
    hidden = (
        f'<div style="display:none;max-height:0;overflow:hidden">{html.escape(preheader)}</div>' if preheader else ""
    )
    mail.add_alternative(
        f"<html><body>{hidden}<p>{html.escape(message)}</p><pre>{html.escape(details)}</pre></body></html>",
        subtype="html",
    )
    return mail


def send_email(settings: Settings, recipients: str, body: str) -> SendResult:
    if not settings.smtp_host:
        return SendResult(False, None, "SMTP is not configured (LEADVANE_SMTP_HOST)")
    data = json.loads(body)
    to = [r for r in recipients.split(",") if r]
    mail = build_message(settings.smtp_from, to, data.get("subject", ""), data.get("preheader", ""),
                         data.get("message", ""), data.get("payload", {}))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        return SendResult(False, None, f"{type(exc).__name__}: {exc}")
    return SendResult(True, 250)
