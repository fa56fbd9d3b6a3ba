from __future__ import annotations

from flask.views import MethodView

from corrections.audit import service
from corrections.audit.schemas import AuditPageSchema, AuditQuerySchema
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
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
