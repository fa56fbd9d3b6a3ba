from __future__ import annotations

from flask.views import MethodView

from corrections.audit import service
from corrections.audit.schemas import AuditPageSchema, AuditQuerySchema, VerificationSchema
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.core.i18n import ZH, _, negotiate, translate
from corrections.core.schemas import page_envelope

blp = Blueprint(
    "audit", __name__, url_prefix="/api/v1/audit", description="Audit trail (auditors only)"
)


@blp.route("")
class AuditEntries(MethodView):
    @requires("audit:read")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Audit entries, newest first (filters: actor, action, subject, juvenile, time)."""
        page, page_size = args.pop("page"), args.pop("page_size")
        rows, total = service.list_entries(
            db.session,
            actor=current_actor(),
            page=page,
            page_size=page_size,
            actor_username=args.pop("actor", None),
            **args,
        )
        return page_envelope(rows, page, page_size, total)


# How many of the newest sealed rows the page's check reads: a request must answer in
# seconds; `corrections audit verify` at the server reads the whole chain.
VERIFY_WINDOW = 20_000

FINDING_LABELS = {
    "rewritten": _("rewritten"),
    "missing": _("missing"),
    "inserted": _("inserted late"),
    "truncated": _("truncated"),
    "checkpoint": _("checkpoint"),
    "head": _("chain head"),
    "stalled": _("sealing stalled"),
}


@blp.route("/verification")
class Verification(MethodView):
    # Auditors, and procurators overseeing the bureau (检察监督): the result only, never rows.
    @requires("audit:verify")
    @blp.response(200, VerificationSchema)
    def get(self):
        """Verify the audit trail now, read-only (never seals): the newest 20,000 sealed rows
        against the audit key and the signed checkpoints, the end of the chain, its head, rows
        outside it and rows not yet sealed (``complete`` false when older rows were not read:
        ``corrections audit verify`` at the server reads them all). Audited
        (``audit.verify``)."""
        result = service.verify(db.session, window=VERIFY_WINDOW)
        locale = negotiate()
        view = {
            "ok": result.ok,
            "complete": result.first_seq == 1,
            "first_seq": result.first_seq,
            "checked": result.checked,
            "checkpoints": result.checkpoints,
            "unsealed": result.unsealed,
            "counts": dict(result.counts),
            "findings": [
                {
                    "kind": f.kind,
                    "kind_label_zh": translate(FINDING_LABELS.get(f.kind, f.kind), ZH),
                    "text": translate(f.text, locale),
                    "seq": f.seq,
                    "entry_id": f.entry_id,
                }
                for f in result.findings
            ],
            "verified_at": now_utc(),
        }
        service.record(
            db.session,
            actor=current_actor(),
            action="audit.verify",
            detail={
                "ok": result.ok,
                "first_seq": result.first_seq,
                "checked": result.checked,
                "counts": dict(result.counts),
            },
        )
        return view
