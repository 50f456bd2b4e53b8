"""Email through SMTP (settings smtp_*), STARTTLS when configured; subject, preheader and message from the trigger."""

from __future__ import annotations

import html
import json
import smtplib
from email.message import EmailMessage
from typing import Any

from core.messages import summary_lines
from notify.webhook import SendResult
from settings import Settings

TIMEOUT_SECONDS = 15.0


def build_message(sender: str, to: list[str], subject: str, preheader: str, message: str,
                  payload: dict[str, Any], summary: list[str] | None = None) -> EmailMessage:
    """The rendered message, then who / account / score / level / trigger, then the full payload."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject
    lines = summary if summary is not None else summary_lines(payload)
    details = json.dumps(payload, indent=2, sort_keys=True, default=str)
    text = "\n\n".join(part for part in (message, "\n".join(lines), details) if part)
    mail.set_content(text + "\n")
    hidden = (
        f'<div style="display:none;max-height:0;overflow:hidden">{html.escape(preheader)}</div>' if preheader else ""
    )
    facts = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    paragraph = f"<p>{html.escape(message)}</p>" if message else ""
    mail.add_alternative(
        f"<html><body>{hidden}{paragraph}<ul>{facts}</ul><pre>{html.escape(details)}</pre></body></html>",
        subtype="html",
    )
    return mail


def send_email(settings: Settings, recipients: str, body: str) -> SendResult:
    if not settings.smtp_host:
        return SendResult(False, None, "SMTP is not configured (LEADVANE_SMTP_HOST)")
    data = json.loads(body)
    to = [r for r in recipients.split(",") if r]
    mail = build_message(settings.smtp_from, to, data.get("subject", ""), data.get("preheader", ""),
                         data.get("message", ""), data.get("payload", {}), data.get("summary"))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except smtplib.SMTPResponseException as exc:  # the server's text stays out of the delivery log
        return SendResult(False, None, f"SMTP error {exc.smtp_code}")
    except smtplib.SMTPRecipientsRefused:
        return SendResult(False, None, "SMTP server refused the recipients")
    except ConnectionRefusedError:
        return SendResult(False, None, "connection refused")
    except TimeoutError:
        return SendResult(False, None, "timed out")
    except (OSError, smtplib.SMTPException) as exc:
        return SendResult(False, None, f"SMTP failed ({type(exc).__name__})")
    return SendResult(True, 250)
