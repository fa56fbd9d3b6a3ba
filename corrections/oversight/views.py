"""HTTP layer of procuratorate oversight (检察监督): procurators file 纠正意见 and 检察建议;
the subject district's commanders (or the city) read them as a queue and reply in writing;
the per-office enforcement-supervision figures for the city and procurators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from corrections.core import links
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import business_date, now_utc
from corrections.core.db import db
from corrections.core.i18n import ZH, _
from corrections.core.schemas import page_envelope
from corrections.oversight import figures, service
from corrections.oversight import rules as oversight_rules
from corrections.oversight.schemas import (
    OfficesQuerySchema,
    OfficesSchema,
    OpinionInSchema,
    OpinionPageSchema,
    OpinionQuerySchema,
    OpinionReplySchema,
    OpinionSchema,
)
from corrections.persons import privacy

blp = Blueprint(
    "oversight",
    __name__,
    url_prefix="/api/v1/oversight",
    description="Procuratorate oversight (检察监督): opinions, replies, per-office figures",
)

RESOURCE = "oversight_opinion"


def _view(row: service.OpinionRow, today) -> dict[str, Any]:
    rules = oversight_rules.current()
    o = row.opinion
    left = service.days_left(o, today)
    kind_zh = rules.labels.get(o.kind, o.kind)
    view = {
        "id": o.id,
        "person_id": o.person_id,
        "agency": {"code": row.agency.code, "name_zh": row.agency.name_zh},
        "kind": o.kind,
        "kind_label_zh": kind_zh,
        "document_number": o.document_number,
        "issued_on": o.issued_on,
        "received_at": o.received_at,
        "district": {
            "id": row.district.id,
            "code": row.district.code,
            "name_zh": row.district.name_zh,
        },
        "office": (
            {"id": row.office.id, "code": row.office.code, "name_zh": row.office.name_zh}
            if row.office is not None
            else None
        ),
        "content": o.content,
        "reply_due_on": o.reply_due_on,
        "days_left": left if o.status == "open" else None,
        "overdue": o.status == "open" and left < 0,
        "article": o.article,
        "article_verified": rules.replies.clocks[o.kind].verified
        if o.kind in rules.replies.clocks
        else None,
        "rules_version": o.rules_version,
        "status": o.status,
        "status_label_zh": rules.status_labels.get(o.status, o.status),
        "reply": o.reply,
        "replied_by": o.replied_by,
        "replied_at": o.replied_at,
        "created_by": o.created_by,
        "created_at": o.created_at,
        # What the decision queues carry (persons/listing.queue_fields).
        "decision_type": "oversight_opinion",
        "decision_type_label_zh": _("Procuratorial opinion").render(ZH),
        "proposed_zh": _(
            "{kind} {number}: a written reply is due by {due}",
            kind=kind_zh,
            number=o.document_number,
            due=o.reply_due_on.isoformat(),
        ).render(ZH),
        "rules": [{"rule_id": o.kind, "label_zh": kind_zh, "article": o.article}],
        "evidence_refs": [],
        "proposed_by": row.agency.name_zh,
        "proposed_at": o.received_at,
        "decided_at_level": "district",
        "decided_at_level_label_zh": None,
    }
    if o.status == "open":
        view["actions"] = [
            links.action(
                "reply", "oversight.OpinionReply", schema=OpinionReplySchema, opinion_id=o.id
            )
        ]
    else:
        view["actions"] = []
    return view


def present(rows: list[service.OpinionRow]) -> list[dict[str, Any]]:
    """Views as the caller may see them: an opinion about a person is masked as that person's
    records are (a juvenile's text ``***`` for whoever may not see them) and the person noted
    as shown (audited with the response); one about a district or an office shows as is."""
    actor, today = current_actor(), business_date(now_utc())
    views = [_view(row, today) for row in rows]
    about = [(i, row.person) for i, row in enumerate(rows) if row.person is not None]
    if about:
        shown = privacy.present_all(
            db.session,
            actor,
            RESOURCE,
            [(person, {**views[i], "person": person.brief()}) for i, person in about],
        )
        for (i, _person), view in zip(about, shown, strict=True):
            views[i] = view
    return links.with_links(views, lambda v: v)


@blp.route("/opinions")
class Opinions(MethodView):
    @requires("oversight:read")
    @blp.arguments(OpinionQuerySchema, location="query")
    @blp.response(200, OpinionPageSchema)
    def get(self, args):
        """纠正意见 and 检察建议 within your scope, oldest received first, each with its reply
        deadline (``reply_due_on``), ``days_left`` and ``overdue``: the commanders' queue is
        ``status=open``. Commanders see their district's, the city all, a procurator those of
        its agency's district (the city's procuratorate: all). Audited by the persons shown."""
        rows, total = service.list_opinions(
            db.session,
            actor=current_actor(),
            status=args["status"],
            kind=args["kind"],
            page=args["page"],
            page_size=args["page_size"],
        )
        return page_envelope(present(rows), args["page"], args["page_size"], total)

    @requires("oversight:file")
    @blp.arguments(OpinionInSchema)
    @blp.response(201, OpinionSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """File a 纠正意见 (``correction_opinion``) or 检察建议 (``suggestion``) about a
        district of your agency's scope (and within it an office and/or a person). Its reply
        is due by the rules' clock (rules/oversight.yaml), counted from the day the bureau
        received it. Procurators only; audited."""
        actor = current_actor()
        opinion = service.file_opinion(db.session, actor=actor, **data)
        return present([service.get_row(db.session, actor, opinion.id)])[0]


@blp.route("/opinions/<int:opinion_id>/reply")
class OpinionReply(MethodView):
    @requires("oversight:reply")
    @blp.arguments(OpinionReplySchema)
    @blp.response(200, OpinionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, opinion_id):
        """Reply in writing (书面回复) to an open opinion of your district (the city: any);
        it closes, and its overdue alert is resolved. Once: a second reply is 409. Audited."""
        actor = current_actor()
        service.reply(db.session, actor=actor, opinion_id=opinion_id, text=data["reply"])
        return present([service.get_row(db.session, actor, opinion_id)])[0]


@blp.route("/offices")
class Offices(MethodView):
    @requires("oversight:offices")
    @blp.arguments(OfficesQuerySchema, location="query")
    @blp.response(200, OfficesSchema)
    def get(self, args):
        """The enforcement-supervision view (执法监督) of a month, per judicial office:
        obligations missed, intake deadlines missed, grade proposals, trips and sanction
        proposals waiting beyond their clocks at the month's end, warnings and admonitions
        per 100 persons under correction; each figure with its label and definition. The
        city and the city's procurators see every office, a district's procurators that
        district's. Counts only: no person is named."""
        return figures.office_figures(db.session, actor=current_actor(), month=args["month"])
