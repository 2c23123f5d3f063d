"""The console's words in German and English; the approval strings of the CLI are reused as they are
(:data:`adpilot.app.approvals.STRINGS`: change, rule, spend, expiry …).

The language: the ``lang`` cookie the switch sets, else the browser's ``Accept-Language``, else the
configuration's ``locale``.
"""

from __future__ import annotations

from adpilot.app.approvals import strings as approval_strings

LANGUAGES = ("de", "en")
COOKIE = "adpilot_lang"

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "app": "adpilot console",
        "skip": "Skip to content",
        "nav.inbox": "Inbox",
        "nav.runs": "Runs",
        "nav.audit": "Audit",
        "nav.controls": "Controls",
        "nav.accounts": "Accounts",
        "accounts.numbers": "The numbers",
        "accounts.spend": "spend",
        "accounts.conversions": "conversions",
        "accounts.campaign": "campaign",
        "accounts.campaigns": "Campaigns (last 30 days)",
        "accounts.changes": "Changes adpilot made in this account",
        "accounts.no_changes": "adpilot has changed nothing in this account yet.",
        "accounts.marks": "Each day of the last 30 from the platform's reporting; a vertical line marks a day "
        "adpilot changed something (its tooltip and the numbers name the audit rows).",
        "nav.label": "Main",
        "lang.switch": "Deutsch",
        "logout": "Sign out",
        "signed_in": "Signed in as {name} ({role})",
        "login.title": "Sign in",
        "login.name": "User name",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.wrong": "User name or password is wrong.",
        "login.throttled": "Too many failed attempts: try again in {seconds} s.",
        "forbidden": "Your role ({role}) may not do this; it takes the role {needed}.",
        "csrf": "The form has expired or did not come from this console: reload the page and try again.",
        "not_found": "Not found.",
        "error": "That did not work",
        "back": "Back",
        "inbox.title": "Approvals waiting",
        "inbox.open": "Open",
        "decide.reason": "Reason (recorded in the audit log)",
        "decide.approve": "Approve",
        "decide.reject": "Reject",
        "decide.edit": "Edit and approve",
        "decide.edits": "Changed arguments, one KEY=VALUE a line (e.g. amount_micros=60000000)",
        "decide.edits_missing": "An edit changes at least one argument: write KEY=VALUE lines.",
        "decide.edits_bad": "Line {line!r}: write KEY=VALUE.",
        "decide.done": "Decision recorded",
        "decide.viewer": "Your role ({role}) may look, not decide.",
        "runs.title": "Runs",
        "runs.none": "No runs yet.",
        "col.thread": "run",
        "col.kind": "kind",
        "col.accounts": "accounts",
        "col.status": "status",
        "col.started": "started (UTC)",
        "col.updated": "updated (UTC)",
        "col.waiting": "waiting",
        "col.seq": "seq",
        "col.time": "time (UTC)",
        "col.account": "account",
        "col.who": "who",
        "col.what": "what happened, and why",
        "col.entry": "entry",
        "col.cron": "cron",
        "col.next": "next runs (UTC)",
        "run.title": "Run {thread}",
        "run.timeline": "Timeline",
        "run.none": "No audit rows for this run.",
        "run.pending": "Waiting for a person",
        "audit.title": "Audit trail",
        "audit.filter": "Filter",
        "audit.reads": "include reads",
        "audit.limit": "newest rows",
        "audit.none": "No audit rows match.",
        "audit.verify": "Verify the chain",
        "audit.export": "Export",
        "audit.intact": "Intact: {rows} rows verified.",
        "audit.broken": "NOT INTACT: {message}",
        "controls.title": "Controls",
        "kill.title": "Kill switch",
        "kill.off": "Released: runs may change things within the policy.",
        "kill.on": "ENGAGED by {by} since {at} UTC: {reason}",
        "kill.reason": "Reason",
        "kill.confirm": "Yes, stop every run and every change now",
        "kill.engage": "Engage the kill switch",
        "kill.release": "Release the kill switch",
        "kill.unconfirmed": "Tick the confirmation to engage the kill switch.",
        "kill.engaged": "Kill switch engaged.",
        "kill.released": "Kill switch released.",
        "kill.was_off": "The kill switch was not engaged.",
        "schedule.title": "Schedule",
        "schedule.none": "No schedule entries in the configuration.",
        "policy.title": "Policy in force",
        "policy.value": "{name}, version {version}, hash {hash}",
        "policy.whole": "The whole policy",
    },
    "de": {
        "app": "adpilot-Konsole",
        "skip": "Zum Inhalt springen",
        "nav.inbox": "Eingang",
        "nav.runs": "Läufe",
        "nav.audit": "Audit",
        "nav.controls": "Steuerung",
        "nav.accounts": "Konten",
        "accounts.numbers": "Die Zahlen",
        "accounts.spend": "Ausgaben",
        "accounts.conversions": "Conversions",
        "accounts.campaign": "Kampagne",
        "accounts.campaigns": "Kampagnen (letzte 30 Tage)",
        "accounts.changes": "Änderungen von adpilot in diesem Konto",
        "accounts.no_changes": "adpilot hat in diesem Konto noch nichts geändert.",
        "accounts.marks": "Jeder der letzten 30 Tage laut Berichten der Plattform; eine senkrechte Linie markiert "
        "einen Tag, an dem adpilot etwas geändert hat (Tooltip und Zahlen nennen die Audit-Zeilen).",
        "nav.label": "Hauptmenü",
        "lang.switch": "English",
        "logout": "Abmelden",
        "signed_in": "Angemeldet als {name} ({role})",
        "login.title": "Anmelden",
        "login.name": "Benutzername",
        "login.password": "Passwort",
        "login.submit": "Anmelden",
        "login.wrong": "Benutzername oder Passwort ist falsch.",
        "login.throttled": "Zu viele Fehlversuche: bitte in {seconds} s erneut versuchen.",
        "forbidden": "Ihre Rolle ({role}) darf das nicht; dazu braucht es die Rolle {needed}.",
        "csrf": (
            "Das Formular ist abgelaufen oder stammt nicht von dieser Konsole: Seite neu laden und erneut versuchen."
        ),
        "not_found": "Nicht gefunden.",
        "error": "Das hat nicht geklappt",
        "back": "Zurück",
        "inbox.title": "Offene Freigaben",
        "inbox.open": "Öffnen",
        "decide.reason": "Begründung (wird im Audit-Log vermerkt)",
        "decide.approve": "Freigeben",
        "decide.reject": "Ablehnen",
        "decide.edit": "Ändern und freigeben",
        "decide.edits": "Geänderte Argumente, ein KEY=WERT pro Zeile (z. B. amount_micros=60000000)",
        "decide.edits_missing": "Eine Änderung setzt mindestens ein Argument: KEY=WERT-Zeilen angeben.",
        "decide.edits_bad": "Zeile {line!r}: KEY=WERT schreiben.",
        "decide.done": "Entscheidung vermerkt",
        "decide.viewer": "Ihre Rolle ({role}) darf ansehen, nicht entscheiden.",
        "runs.title": "Läufe",
        "runs.none": "Noch keine Läufe.",
        "col.thread": "Lauf",
        "col.kind": "Art",
        "col.accounts": "Konten",
        "col.status": "Status",
        "col.started": "gestartet (UTC)",
        "col.updated": "aktualisiert (UTC)",
        "col.waiting": "wartet",
        "col.seq": "Nr.",
        "col.time": "Zeit (UTC)",
        "col.account": "Konto",
        "col.who": "wer",
        "col.what": "was geschah, und warum",
        "col.entry": "Eintrag",
        "col.cron": "Cron",
        "col.next": "nächste Läufe (UTC)",
        "run.title": "Lauf {thread}",
        "run.timeline": "Verlauf",
        "run.none": "Keine Audit-Zeilen zu diesem Lauf.",
        "run.pending": "Wartet auf eine Person",
        "audit.title": "Audit-Protokoll",
        "audit.filter": "Filtern",
        "audit.reads": "Lesezugriffe zeigen",
        "audit.limit": "neueste Zeilen",
        "audit.none": "Keine passenden Audit-Zeilen.",
        "audit.verify": "Kette prüfen",
        "audit.export": "Exportieren",
        "audit.intact": "Intakt: {rows} Zeilen geprüft.",
        "audit.broken": "NICHT INTAKT: {message}",
        "controls.title": "Steuerung",
        "kill.title": "Not-Aus",
        "kill.off": "Gelöst: Läufe dürfen im Rahmen der Richtlinie ändern.",
        "kill.on": "AKTIV, ausgelöst von {by} seit {at} UTC: {reason}",
        "kill.reason": "Begründung",
        "kill.confirm": "Ja, jeden Lauf und jede Änderung jetzt stoppen",
        "kill.engage": "Not-Aus auslösen",
        "kill.release": "Not-Aus lösen",
        "kill.unconfirmed": "Bitte die Bestätigung ankreuzen, um den Not-Aus auszulösen.",
        "kill.engaged": "Not-Aus ausgelöst.",
        "kill.released": "Not-Aus gelöst.",
        "kill.was_off": "Der Not-Aus war nicht ausgelöst.",
        "schedule.title": "Zeitplan",
        "schedule.none": "Keine Zeitplan-Einträge in der Konfiguration.",
        "policy.title": "Geltende Richtlinie",
        "policy.value": "{name}, Version {version}, Hash {hash}",
        "policy.whole": "Die ganze Richtlinie",
    },
}


def words(locale: str) -> dict[str, str]:
    """The console's words and the approval strings of ``locale``, in one table."""
    return {**approval_strings(locale), **WORDS.get(locale, WORDS["en"])}


def negotiate(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language of a page: the switch's cookie, else the best of ``Accept-Language`` (by q),
    else ``default``."""
    if cookie in LANGUAGES:
        return cookie
    best, best_q = None, 0.0
    for part in (accept_language or "").split(","):
        code, _, params = part.strip().partition(";")
        primary = code.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best or (default if default in LANGUAGES else "en")
