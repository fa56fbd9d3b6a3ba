"""Build a deterministic demo city: units, staff accounts and persons under correction.

Same ``seed`` and same ``as_of`` date give the same city. Persons are built through the same
validation as an intake (``persons.service.validate_facts``) and inserted in bulk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core import clocks
from corrections.core.auth import SYSTEM, Role
from corrections.core.clock import add_months, age_on, business_date, start_of_business_day
from corrections.core.ruleset_store import ensure_recorded
from corrections.demo import history
from corrections.demo.models import DemoTruth
from corrections.grading import engine
from corrections.grading import rules as grading_rules
from corrections.grading.models import GradeDecision
from corrections.incidents.models import Incident
from corrections.org import service as org
from corrections.org.models import UnitKind
from corrections.persons import idnumber
from corrections.persons.models import Person, PersonStatusChange
from corrections.persons.service import validate_facts
from corrections.supervision import obligations
from corrections.supervision.models import (
    Obligation,
    SanctionDecision,
    SupervisionEvent,
    TravelPermit,
)

CITY = ("3299", "滨江市司法局")
# (slug, code, district name, [office names])
DISTRICTS = [
    (
        "dongcheng",
        "329901",
        "东城区司法局",
        ["城关司法所", "东门司法所", "新桥司法所", "梅园司法所"],
    ),
    ("xicheng", "329902", "西城区司法局", ["西关司法所", "柳湾司法所", "石桥司法所"]),
    (
        "nanhu",
        "329903",
        "南湖区司法局",
        ["湖滨司法所", "南塘司法所", "莲花司法所", "白沙司法所", "渔港司法所"],
    ),
    ("beishan", "329904", "北山区司法局", ["北山司法所", "松岭司法所", "青石司法所"]),
    (
        "jiangkou",
        "329905",
        "江口区司法局",
        ["江口司法所", "新港司法所", "沙洲司法所", "桃源司法所", "双河司法所", "金湾司法所"],
    ),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国文斌辉鹏飞宇浩凯俊峰亮红梅林海波宁晨阳志"
)
STREETS = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平街",
    "新华路",
    "长江路",
    "湖滨路",
    "文昌路",
    "青年路",
    "园林路",
    "兴业街",
]

# Realistic shares: most persons under correction are on probation (缓刑).
CATEGORY_WEIGHTS = [
    ("suspended_sentence", 80),
    ("parole", 9),
    ("temporary_outside_custody", 6),
    ("control_order", 5),
]
CRIME_WEIGHTS = [
    ("dangerous_driving", 22),
    ("theft", 14),
    ("fraud", 12),
    ("intentional_injury", 8),
    ("traffic_accident", 8),
    ("drug_offence", 5),
    ("gambling", 6),
    ("provocation", 5),
    ("illegal_fundraising", 4),
    ("bribery", 3),
    ("embezzlement", 4),
    ("robbery", 2),
    ("affray", 3),
    ("environmental", 2),
    ("other", 2),
]
EMPLOYMENT_WEIGHTS = [
    ("employed", 45),
    ("self_employed", 18),
    ("unemployed", 25),
    ("student", 2),
    ("retired", 6),
    ("other", 4),
]
HOUSING_WEIGHTS = [("own", 35), ("rented", 25), ("family", 32), ("unstable", 6), ("institution", 2)]


@dataclass
class DemoAccounts:
    password: str
    rows: list[dict] = field(default_factory=list)


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights=weights)[0]


def build_units_and_users(session: Session, *, password: str) -> DemoAccounts:
    """The city, its districts and offices; one officer per office, one commander per
    district, and one city, analyst, auditor and admin account."""
    accounts = DemoAccounts(password=password)
    city = org.create_unit(session, code=CITY[0], name_zh=CITY[1], kind=UnitKind.CITY)

    def add_user(username: str, role: Role, unit_code: str, name: str) -> None:
        org.create_user(
            session,
            username=username,
            password=password,
            role=role,
            unit_code=unit_code,
            display_name=name,
            demo=True,
        )
        accounts.rows.append(
            {"username": username, "role": role.value, "unit": unit_code, "name": name}
        )

    for slug, code, name, offices in DISTRICTS:
        district = org.create_unit(
            session, code=code, name_zh=name, kind=UnitKind.DISTRICT, parent=city
        )
        add_user(f"commander-{slug}", Role.COMMANDER, code, f"{name[:3]}指挥中心")
        for i, office_name in enumerate(offices, start=1):
            office_code = f"{code}{i:02d}"
            org.create_unit(
                session,
                code=office_code,
                name_zh=f"{name[:3]}{office_name}",
                kind=UnitKind.OFFICE,
                parent=district,
            )
            add_user(f"officer-{slug}-{i}", Role.OFFICER, office_code, f"{office_name}工作人员")
    for username, role, label in (
        ("city", Role.CITY, "市局指挥中心"),
        ("analyst", Role.ANALYST, "数据分析员"),
        ("auditor", Role.AUDITOR, "审计员"),
        ("admin", Role.ADMIN, "系统管理员"),
    ):
        add_user(username, role, CITY[0], label)
    return accounts


# The demo's partner agencies (rules/exchange.yaml agency kinds) and one account each: the
# city's procuratorate with a procurator (检察监督), the 东城 court's and police's systems (the
# exchange feed, receipts and the documents they send in).
DEMO_AGENCIES = [
    ("jcy-city", "procuratorate", "滨江市人民检察院", CITY[0], "procurator-city", Role.PROCURATOR),
    ("fy-dongcheng", "court", "滨江市东城区人民法院", "329901", "court-dongcheng", Role.PARTNER),
    ("gaj-dongcheng", "police", "滨江市公安局东城分局", "329901", "police-dongcheng", Role.PARTNER),
]


def build_agencies(session: Session, accounts: DemoAccounts) -> None:
    """The demo's partner agencies and their accounts (:data:`DEMO_AGENCIES`), sharing the
    demo password."""
    from corrections.exchange import service as exchange

    for code, kind, name, unit_code, username, role in DEMO_AGENCIES:
        agency, _routed = exchange.create_agency(
            session, code=code, kind=kind, name_zh=name, unit_code=unit_code
        )
        org.create_user(
            session,
            username=username,
            password=accounts.password,
            role=role,
            unit_code=unit_code,
            display_name=name,
            demo=True,
            agency_id=agency.id,
        )
        accounts.rows.append(
            {"username": username, "role": role.value, "unit": unit_code, "name": name}
        )


def _random_person(rng: random.Random, today: date, office_codes: list[str], seq: int) -> dict:
    category = _pick(rng, CATEGORY_WEIGHTS)
    juvenile = rng.random() < 0.025
    age = rng.randint(15, 17) if juvenile else min(78, max(18, int(rng.gauss(38, 11))))
    dob = today - timedelta(days=age * 365 + rng.randint(0, 364))
    if juvenile and dob > today - timedelta(days=15 * 365):
        dob = today - timedelta(days=15 * 365 + 30)
    gender = "female" if rng.random() < 0.13 else "male"
    seq_code = rng.randint(0, 49) * 2 + (1 if gender == "male" else 0)
    # Sequence codes: last digit odd for men, even for women.
    sequence = (seq % 9) * 100 + seq_code
    district = rng.choice(DISTRICTS)
    id_no = idnumber.make(district[1], dob, sequence)
    # When did the term start: mostly over the last two years, a few judgments just now.
    recent = rng.random() < 0.06
    start = today - timedelta(days=rng.randint(0, 12) if recent else rng.randint(7, 730))
    if category == "control_order":
        months = rng.choice([3, 4, 6, 8, 10, 12, 18, 24])
    elif category == "suspended_sentence":
        months = rng.choice([3, 6, 12, 12, 18, 24, 24, 36, 36, 48, 60])
    elif category == "parole":
        months = rng.choice([4, 6, 8, 12, 18, 24, 36, 60])
    else:
        months = rng.choice([6, 12, 18, 24, 36])
    end = add_months(start, months) - timedelta(days=1)
    judgment = start - timedelta(days=rng.randint(0, 5 if recent else 20))
    offence = judgment - timedelta(days=rng.randint(60, 400))
    if juvenile:
        # Juvenile at the offence: keep the offence after the 14th birthday.
        offence = max(offence, dob + timedelta(days=14 * 365 + 10))
        judgment = max(judgment, offence + timedelta(days=30))
        start = max(start, judgment)
        end = add_months(start, months) - timedelta(days=1)
    surname = rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
    street = rng.choice(STREETS)
    return {
        "name": surname + given,
        "gender": gender,
        "id_number": id_no,
        "date_of_birth": dob,
        "offence_date": offence,
        "category": category,
        "crime_type": _pick(rng, CRIME_WEIGHTS),
        "judgment_date": judgment,
        "judgment_effective_date": judgment + timedelta(days=rng.choice([0, 0, 10, 11])),
        "term_start": start,
        "term_end": end,
        "has_guarantor": category == "temporary_outside_custody" and rng.random() < 0.7,
        "intake_risk": rng.choices(["low", "medium", "high"], weights=[35, 50, 15])[0],
        "phone": f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        "address": f"滨江市{district[2][:3]}{street}{rng.randint(1, 400)}号",
        "employment": "student" if juvenile else _pick(rng, EMPLOYMENT_WEIGHTS),
        "housing": "family" if juvenile else _pick(rng, HOUSING_WEIGHTS),
        "family_contact_name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
        "family_contact_phone": f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        "_office": rng.choice([c for c in office_codes if c.startswith(district[1])]),
    }


def build_persons(
    session: Session,
    *,
    count: int,
    seed: int,
    now: datetime,
    progress=None,
    history_months: int = 0,
) -> int:
    """Insert ``count`` persons with consistent facts, statuses and status history; with
    ``history_months``, each supervised person also gets up to that many months of simulated
    supervision history (:mod:`corrections.demo.history`)."""
    from corrections.org.models import Unit

    rng = random.Random(seed)
    today = business_date(now)
    rules = grading_rules.current()
    version = "+".join(ensure_recorded(session, n, now) for n in ("grading", "assessment"))
    offices = {u.code: u for u in session.query(Unit).filter(Unit.kind == UnitKind.OFFICE)}
    office_codes = sorted(offices)
    used_ids: set[str] = set()
    made = 0
    batch: list[tuple[dict, str]] = []
    intervals = {
        g.id: {k: obligations.interval_days(g.id, k) for k in ("report", "check")}
        for g in rules.grades
    }
    # The demo simulates no trips on grades whose trips need an escort (as before travel was
    # approved on every grade): the generated city stays the same.
    travel_allowed = {g.id: "escort" not in g.requirements.travel_conditions for g in rules.grades}
    history_start = today - timedelta(days=round(history_months * 30.44))

    def _history(facts: dict, grade: str, activated: datetime, status: str, hseed: int):
        first = max(business_date(activated), history_start)
        last = min(facts["term_end"], today - timedelta(days=1))
        hrng = random.Random(hseed)
        z = facts.pop("_propensity")
        story = history.simulate(
            hrng,
            z=z,
            facts=facts,
            grade=grade,
            activated_on=business_date(activated),
            history_from=first,
            last_day=last,
            today=today,
            now=now,
            intervals=intervals,
            travel_allowed=travel_allowed,
            rules_version=version,
            discharged=status == "discharged",
        )
        story.truth = {
            "propensity": z,
            "activated_on": business_date(activated),
            "history_from": first,
            "history_to": last,
            "unstable": story.unstable,
            "episodes": story.episodes,
            "seed": hseed,
        }
        return story

    def flush() -> None:
        person_rows, histories, grades, stories = [], [], [], []
        for facts, status in batch:
            office = offices[facts.pop("_office")]
            juvenile = facts.pop("_juvenile")
            if history_months > 0:
                # The hidden propensity; the intake assessment is a noisy reading of it.
                age = age_on(facts["date_of_birth"], business_date(facts["_activated"]))
                facts["_propensity"], facts["intake_risk"] = history.propensity(
                    random.Random(facts["_seed"] ^ 0x5EED), facts, age
                )
            grade = engine.initial_grade(
                engine.PersonFacts(
                    category=facts["category"],
                    has_guarantor=facts["has_guarantor"],
                    juvenile=juvenile,
                    intake_risk=facts["intake_risk"],
                ),
                rules,
            )
            created = start_of_business_day(facts["term_start"])
            activated = facts.pop("_activated")
            hist_seed = facts.pop("_seed")
            grades.append(grade)
            story = None
            if (
                history_months > 0
                and status != "pending_intake"
                and min(facts["term_end"], today) > max(business_date(activated), history_start)
            ):
                story = _history(facts, grade.grade, activated, status, hist_seed)
                status = story.status if status == "active" else status
            facts.pop("_propensity", None)
            stories.append((story, activated, hist_seed))
            person_rows.append(
                {
                    **facts,
                    "grade": story.grade if story else grade.grade,
                    "grade_since": (story.grade_since if story else None) or created,
                    "juvenile": juvenile,
                    "office_id": office.id,
                    "district_id": office.parent_id,
                    "status": status,
                    "version": 1,
                    "intake_deadline": clocks.due_for(
                        "intake_report", facts["judgment_effective_date"]
                    ),
                    "created_at": created,
                    "updated_at": now,
                }
            )
            histories.append(status)
        ids = session.execute(insert(Person).returning(Person.id), person_rows).scalars().all()
        changes = []
        for pid, row, status, (_s, activated, _h) in zip(
            ids, person_rows, histories, stories, strict=True
        ):
            created = row["created_at"]
            changes.append(
                {
                    "person_id": pid,
                    "from_status": None,
                    "to_status": "pending_intake",
                    "reason": "入矫登记 intake registered",
                    "actor_id": None,
                    "actor_username": "demo-seed",
                    "changed_at": created,
                }
            )
            if status != "pending_intake":
                changes.append(
                    {
                        "person_id": pid,
                        "from_status": "pending_intake",
                        "to_status": "active",
                        "reason": "按期报到 reported for intake",
                        "actor_id": None,
                        "actor_username": "demo-seed",
                        "changed_at": activated,
                    }
                )
            if status == "discharged":
                changes.append(
                    {
                        "person_id": pid,
                        "from_status": "active",
                        "to_status": "discharged",
                        "reason": "期满解除 term completed",
                        "actor_id": None,
                        "actor_username": "demo-seed",
                        "changed_at": start_of_business_day(row["term_end"] + timedelta(days=1)),
                    }
                )
        session.execute(insert(PersonStatusChange), changes)
        session.execute(
            insert(GradeDecision),
            [
                {
                    "person_id": pid,
                    "version": 1,
                    "kind": "intake",
                    "status": "effective",
                    "from_grade": None,
                    "to_grade": grade.grade,
                    "rules_version": version,
                    "inputs": grade.inputs,
                    "basis": "intake",
                    "reasons": [
                        {"rule_id": r.rule_id, "text_zh": r.text_zh} for r in grade.reasons
                    ],
                    "proposed_by_id": None,
                    "proposed_by": "demo-seed",
                    "proposed_at": row["created_at"],
                    "decided_by_id": None,
                    "decided_by": "demo-seed",
                    "decided_at": row["created_at"],
                    "effective_at": row["created_at"],
                }
                for pid, row, grade in zip(ids, person_rows, grades, strict=True)
            ],
        )
        _insert_histories(session, ids, [s for s, _a, _h in stories], now)
        batch.clear()

    seq = 0
    while made < count:
        seq += 1
        facts = _random_person(rng, today, office_codes, seq)
        if facts["id_number"] in used_ids:
            continue
        check = {k: v for k, v in facts.items() if not k.startswith("_")}
        errors, juvenile = validate_facts(check, today)
        if errors:  # a rare random combination the law does not allow: draw again
            continue
        used_ids.add(facts["id_number"])
        facts["_juvenile"] = juvenile
        facts["_seed"] = seed * 1_000_003 + seq
        # Reported for intake a few days after the judgment took effect.
        # (from the person's own stream, so the main one draws the same persons as before)
        own = random.Random(facts["_seed"])
        facts["_activated"] = min(
            start_of_business_day(facts["term_start"])
            + timedelta(days=own.randint(1, 8), hours=own.randint(9, 16)),
            now,
        )
        if facts["term_end"] < today:
            status = "discharged"
        elif facts["judgment_effective_date"] > today or (
            facts["judgment_effective_date"] + timedelta(days=10) >= today and rng.random() < 0.6
        ):
            # Not yet in force, or within the 10 days to report: pending intake.
            status = "pending_intake"
        else:
            status = "active"
        batch.append((facts, status))
        made += 1
        if len(batch) >= 1000:
            flush()
        if progress is not None:
            progress(1)
    if batch:
        flush()
    _plan_obligations(session, rng, today, now)
    audit.record(session, actor=SYSTEM, action="demo.seed", detail={"persons": count, "seed": seed})
    return made


def _plan_obligations(session: Session, rng: random.Random, today: date, now: datetime) -> None:
    """Give every active person what their grade requires, anchored on a recent last contact
    (recorded as the event that fulfilled it): some obligations are overdue, as in any real
    office. The scheduler's sweep (run by ``corrections demo seed``) finds them."""
    from corrections.persons.models import Person
    from corrections.supervision import obligations

    active = session.scalars(
        select(Person).where(Person.status == "active").order_by(Person.id)
    ).all()
    rows, contacts = [], []
    for person in active:
        for kind in obligations.INTERVAL_KINDS:
            interval = obligations.interval_days(person.grade, kind)
            # Most are on schedule; about one in twelve is a little behind.
            back = rng.randint(0, interval - 1) if rng.random() > 0.08 else interval + 1
            anchor = max(today - timedelta(days=back), person.term_start)
            if (row := obligations._interval_row(person, kind, anchor, now)) is not None:
                rows.append(row)
            if kind != "visit" and anchor > person.term_start:
                at = start_of_business_day(anchor) + timedelta(hours=rng.randint(9, 16))
                contacts.append(_contact_event(person.id, kind, min(at, now), now))
        for kind in obligations.HOUR_KINDS:
            if (row := obligations._hour_row(person, kind, today, now)) is not None:
                rows.append(row)
    for start in range(0, len(rows), 5000):
        session.execute(insert(obligations.Obligation), rows[start : start + 5000])
    if contacts:
        session.execute(insert(SupervisionEvent), contacts)


def _contact_event(person_id: int, kind: str, at: datetime, now: datetime) -> dict:
    """The report or check that last fulfilled a window of ``kind``."""
    report = kind == "report"
    return {
        "person_id": person_id,
        "type": "report" if report else "phone_check",
        "occurred_at": at,
        "recorded_at": at if at < now else now,
        "recorded_by_id": None,
        "recorded_by": "demo-seed",
        "channel": "in_person" if report else "phone",
        "note": None,
        "payload": {"late": False} if report else {"success": True},
        "corrects_id": None,
        "idempotency_key": None,
        "request_hash": None,
    }


def _insert_histories(session: Session, ids: list[int], stories: list, now: datetime) -> None:
    """Insert the simulated histories of one batch of persons, in bulk."""
    events, sanction_events, decisions, missed, grades, incidents = [], [], [], [], [], []
    changes, permits, truths = [], [], []
    for pid, story in zip(ids, stories, strict=True):
        if story is None:
            continue
        events += [{**e, "person_id": pid} for e in story.events]
        for event, decision in story.sanctions:
            sanction_events.append({**event, "person_id": pid})
            decisions.append({**decision, "person_id": pid})
        missed += [
            {
                **m,
                "person_id": pid,
                "hours_required": None,
                "hours_done": None,
                "fulfilled_by_event_id": None,
                "fulfilled_at": None,
                "closed_reason": None,
                "created_at": start_of_business_day(m["opens_on"]),
                "updated_at": m["missed_at"],
            }
            for m in story.missed
        ]
        grades += [{**g, "person_id": pid} for g in story.grades]
        incidents += [
            {
                "absconded_at": None,
                "confirmed_by": None,
                "search_record": None,
                "closed_at": None,
                "closed_by": None,
                "close_reason": None,
                "close_note": None,
                "absence_days": None,
                **i,
                "person_id": pid,
            }
            for i in story.incidents
        ]
        changes += [{**c, "person_id": pid} for c in story.status_changes]
        permits += [{**p, "person_id": pid} for p in story.permits]
        truths.append({**story.truth, "person_id": pid})
    for table, rows in (
        (SupervisionEvent, events),
        (Obligation, missed),
        (GradeDecision, grades),
        (Incident, incidents),
        (PersonStatusChange, changes),
        (TravelPermit, permits),
        (DemoTruth, truths),
    ):
        for start in range(0, len(rows), 5000):
            session.execute(insert(table), rows[start : start + 5000])
    if sanction_events:
        event_ids = session.scalars(
            insert(SupervisionEvent).returning(SupervisionEvent.id, sort_by_parameter_order=True),
            sanction_events,
        ).all()
        session.execute(
            insert(SanctionDecision),
            [{**d, "event_id": eid} for d, eid in zip(decisions, event_ids, strict=True)],
        )
