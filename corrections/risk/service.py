"""Serving the risk model: signing, activation, nightly scoring, a person's scores, the models.

A score is advice for the command centre: it never changes a grade or a status by itself.
Entering the high band raises one ``high_risk`` alert (at most one live per person) and
proposes flagged control, which a commander decides.

Only a card this instance signed is activated and scored with: signed by ``risk train`` when it
wrote it (the signature is in the card), or signed here after review (:func:`sign`, which
records the signature in the model's row and leaves the files as they are).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.alerts.models import LIVE_STATUSES, Alert
from corrections.audit import service as audit
from corrections.core import keys
from corrections.core.auth import Actor
from corrections.core.errors import Conflict, NotFound, RuleViolation
from corrections.core.i18n import Message, _
from corrections.core.sqlfuncs import json_object
from corrections.incidents import flags
from corrections.persons import privacy
from corrections.persons.models import Person
from corrections.persons.scope import read_scoped
from corrections.risk import artifact, features, queries, signing
from corrections.risk.models import RiskModel, RiskScore
from corrections.risk.rules import band_labels
from corrections.risk.scorer import Scorer

log = logging.getLogger(__name__)

# The model the repository ships (models/README.md says how to reproduce it), and its card's
# checksum as reviewed: `corrections demo` signs that card, and no other, under this name.
DEFAULT_MODEL = "default-2026.11"
DEFAULT_MODEL_CARD_SHA256 = "bd49d313b9c312a28fc1335c2d5f90e4778015fc099cf688231f070110918fd1"
HISTORY = 30
FLAG_REASON = "脱管风险模型评分进入高风险段，建议挂牌管控（评分仅供参考，须人工决定）"


def models_dir() -> Path:
    return Path(current_app.config["RISK_MODELS_DIR"])


def _directory(version: str) -> Path:
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise RuleViolation(_("not a model version"), field="version")
    path = models_dir() / version
    if not path.is_dir():
        raise NotFound(
            _("No model {version!r} in the models directory (RISK_MODELS_DIR).", version=version)
        )
    return path


def _refuse(exc: artifact.ArtifactError) -> Conflict:
    reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return Conflict(reason, errors={"version": [reason]})


def _registered_signature(row: RiskModel | None, card: dict[str, Any]) -> Any:
    """The signature recorded for ``card`` in its row (by :func:`sign`), if the row is of
    this very card."""
    if row is None or row.card_sha256 != card.get("card_sha256"):
        return None
    return (row.card or {}).get("signature")


def _short(checksum: Any) -> str:
    return f"{str(checksum)[:12]}…"


def changed_since_recorded(card: dict[str, Any], row: RiskModel) -> Message:
    """Why a card that differs from the one recorded in its row (signed with ``risk sign``,
    or activated) is refused: who signed the recorded one, both checksums."""
    signed_by = ((row.card or {}).get("signature") or {}).get("signed_by")
    since = _("{name} signed it", name=signed_by) if signed_by else _("it was activated")
    return _(
        "{version}: the card changed since {since} (checksum {recorded}, now {now}); review "
        "the card on disk and sign it again (`corrections risk sign {version} --by NAME`), or "
        "put back the one that was signed",
        version=row.version,
        since=since,
        recorded=_short(row.card_sha256),
        now=_short(card.get("card_sha256")),
    )


def _version_mismatch(card: dict[str, Any], version: str) -> Message:
    return _(
        "the card names version {named!r}, the directory {version!r}",
        named=card["version"],
        version=version,
    )


def card_signature(card: dict[str, Any], row: RiskModel | None) -> dict[str, Any]:
    """This instance's valid signature of ``card``: the one recorded in its row (``risk
    sign``) or the one in the card (``risk train``); :class:`ArtifactError` saying why if
    neither verifies (a card changed since the recorded one was signed says so, with both
    checksums)."""
    keyring = keys.current()
    found = [s for s in (_registered_signature(row, card), card.get("signature")) if s]
    for signature in found:
        if signing.is_valid(card, signature, keyring=keyring):
            return signature
    if row is not None and row.card_sha256 != card.get("card_sha256"):
        raise artifact.ArtifactError(changed_since_recorded(card, row))
    last = found[-1] if found else None
    signing.verify(card, last, keyring=keyring)  # raises, saying why
    return last


def sign(
    session: Session,
    *,
    actor: Actor,
    version: str,
    now: datetime,
    expect_card_sha256: str | None = None,
    operator: str | None = None,
) -> RiskModel:
    """Sign ``version``'s card with this instance's key after the artifact checks (nothing in
    the model file runs), and record the signature in its row (registered, not activated):
    the bureau vouches for the card it reviewed. ``expect_card_sha256`` (the checksum of the
    card that was reviewed) must match the card on disk. Audited, with ``operator`` (who
    typed the command, when ``actor`` is the reviewer it names)."""
    try:
        checked = artifact.check(_directory(version))
    except artifact.ArtifactError as exc:
        raise _refuse(exc) from exc
    card = checked.card
    if card["version"] != version:
        msg = _version_mismatch(card, version)
        raise Conflict(msg, errors={"version": [msg]})
    if expect_card_sha256 is not None and card["card_sha256"] != expect_card_sha256:
        msg = _(
            "{version}: the card's checksum is {actual}…, not the {expected}… that was "
            "reviewed; refusing to sign it",
            version=version,
            actual=card["card_sha256"][:12],
            expected=expect_card_sha256[:12],
        )
        raise Conflict(msg, errors={"card_sha256": [msg]})
    row = session.get(RiskModel, version)
    if row is not None and row.active and row.card_sha256 != card["card_sha256"]:
        msg = _(
            "{version} is active and its card changed since it was activated; activate "
            "another version first",
            version=version,
        )
        raise Conflict(msg, errors={"version": [msg]})
    signature = signing.sign(card, by=actor.username, at=now, keyring=keys.current())
    if row is None:
        row = RiskModel(version=version, registered_at=now, active=False)
        session.add(row)
    if not row.active:
        row.sha256, row.holdout_auc = checked.sha256, float(card["metrics"]["auc"])
    row.card_sha256, row.card = card["card_sha256"], {**card, "signature": signature}
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="risk.model.sign",
        subject_type="risk_model",
        subject_id=version,
        detail={
            "card_sha256": card["card_sha256"],
            "sha256": checked.sha256,
            "key_id": signature["key_id"],
            "holdout_auc": float(card["metrics"]["auc"]),
            **({"operator": operator} if operator else {}),
        },
        now=now,
    )
    return row


def check_features(card: dict[str, Any]) -> list[Message]:
    """What is wrong with the model's features for this service (empty: all good): every one
    must be a feature the service computes, of the same type."""
    problems = []
    for f in card.get("features", []):
        ours = features.BY_NAME.get(f["name"])
        if ours is None:
            problems.append(_("{name}: not a feature the service computes", name=f["name"]))
        elif ours.kind != f["type"]:
            problems.append(
                _(
                    "{name}: {theirs} in the model, {ours} here",
                    name=f["name"],
                    theirs=f["type"],
                    ours=ours.kind,
                )
            )
    return problems


def activate(
    session: Session,
    *,
    actor: Actor,
    version: str,
    now: datetime,
    force: bool = False,
    reason: str | None = None,
    operator: str | None = None,
) -> Activation:
    """Make ``version`` the service model, after the artifact, signature and feature checks,
    the training rows and the comparison with the active model on this database's data
    (:func:`_against_active`; refused, :class:`~corrections.risk.compare.Refused` with the
    comparison, unless ``force`` with a ``reason``). The signature is checked before the
    model file is loaded. Audited, with the comparison, and ``operator`` (who typed the
    command, when ``actor`` is the person it names)."""
    row = session.get(RiskModel, version)
    try:
        checked = artifact.check(_directory(version))
        card = checked.card
        if card["version"] != version:
            msg = _version_mismatch(card, version)
            raise Conflict(msg, errors={"version": [msg]})
        signature = card_signature(card, row)
        loaded = artifact.build(checked)
    except artifact.ArtifactError as exc:
        raise _refuse(exc) from exc
    problems = check_features(card)
    if problems:
        raise Conflict(
            _("The model's features do not match what the service computes."),
            errors={"features": problems},
        )
    if force and not (reason and reason.strip()):
        raise RuleViolation(_("--force needs a reason"), field="reason")
    auc = float(card["metrics"]["auc"])
    current = session.scalar(select(RiskModel).where(RiskModel.active.is_(True)))
    comparison, refusals = _against_active(session, current, loaded, now=now)
    if refusals and not force:
        from corrections.risk.compare import Refused

        raise Refused(
            _(
                "{version} is not activated; --force --reason activates it all the same",
                version=version,
            ),
            errors={"version": refusals},
            comparison=comparison,
        )
    if current is not None and current.version != version:
        current.active = False
        session.flush()
        # A drift alert was about the model replaced: the new one is checked afresh (and
        # raises its own), so none is hidden behind the old model's live alert.
        from corrections.risk import monitoring

        alerts.resolve_where(
            session,
            (Alert.kind == monitoring.ALERT_KIND) & Alert.person_id.is_(None),
            now=now,
            note=f"风险模型已更换为 {version}",
        )
    if row is None:
        row = RiskModel(version=version, registered_at=now)
        session.add(row)
    row.sha256, row.card_sha256 = loaded.sha256, card["card_sha256"]
    row.card = {**card, "signature": signature}
    row.holdout_auc, row.active = auc, True
    row.activated_at, row.activated_by, row.activation_reason = now, actor.username, reason
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="risk.model.activate",
        subject_type="risk_model",
        subject_id=version,
        detail={
            "sha256": loaded.sha256,
            "holdout_auc": auc,
            "previous": current.version if current is not None else None,
            "forced": force,
            "reason": reason,
            "signed_by": signature["signed_by"],
            **({"refused_for": [str(r) for r in refusals]} if refusals else {}),
            **({"comparison": compare_summary(comparison)} if comparison else {}),
            **({"operator": operator} if operator else {}),
        },
        now=now,
    )
    return Activation(row, comparison, refusals)


@dataclass
class Activation:
    """What :func:`activate` did: the model now active, the comparison with the one it
    replaced (None: there was none to make) and the refusals ``--force`` overrode (the audit
    row has both; the command line prints them)."""

    row: RiskModel
    comparison: dict[str, Any] | None
    overridden: list[Message]


def compare_summary(comparison: dict[str, Any]) -> dict[str, Any]:
    from corrections.risk import compare

    return compare.summary(comparison)


def _against_active(
    session: Session, current: RiskModel | None, loaded: artifact.Loaded, *, now: datetime
) -> tuple[dict[str, Any] | None, list[Message]]:
    """Why ``loaded`` should not replace the active model without --force --reason (empty:
    no reason), and the comparison of the two on this database's recent matured snapshots
    (compare.py; None when there was none to make). Its card's hold-out figures decide
    nothing: they were measured on the data it was trained on. A model fitted on fewer rows
    than RISK_MIN_TRAINING_ROWS is refused whatever the comparison says. The same model file
    as the active one (another name for it) has nothing to compare."""
    from corrections.risk import compare

    if current is not None and (
        current.version == loaded.version or current.sha256 == loaded.sha256
    ):
        return None, []
    refusals: list[Message] = []
    config = current_app.config
    rows, minimum = compare.training_rows(loaded.card), int(config["RISK_MIN_TRAINING_ROWS"])
    if rows is None or rows < minimum:
        refusals.append(
            _(
                "fitted on {rows} rows, fewer than {minimum} (RISK_MIN_TRAINING_ROWS)",
                rows="?" if rows is None else rows,
                minimum=minimum,
            )
        )
    if current is None:
        return None, refusals
    try:
        champion = active_scorer(session)
    except artifact.ArtifactError as exc:
        why = exc.args[0] if exc.args else str(exc)
        refusals.append(
            _(
                "no comparison: the active model {version} cannot be loaded ({why})",
                version=current.version,
                why=why,
            )
        )
        return None, refusals
    comparison, why_none = compare.run(session, champion.loaded, loaded, now=now, config=config)
    if why_none is not None:
        refusals.append(why_none)
    else:
        refusals.extend(compare.worse(comparison))
    if compare.fitted_before(loaded.card) is None:
        # Split at random: the days it was fitted on are not known, so none can be left out;
        # trained on this database's export, it would be measured on its own training rows
        # and win (a hostile review had such a model replace a better one without --force).
        refusals.append(
            _(
                "no fair comparison: {version} was not split by snapshot day (train with "
                "--time-column as_of), so the days it was fitted on are not known and its "
                "figures on this database may be its training figures",
                version=loaded.version,
            )
        )
    return comparison, refusals


@dataclass
class Shipped:
    """What :func:`activate_shipped` did: ``activated`` the shipped model (``copied_to``: the
    folder it was copied into first, if any), or found it ``already`` active, or left
    ``other`` (another version, the bureau's choice) active."""

    outcome: str
    row: RiskModel
    copied_to: Path | None = None


def _copy_shipped(source: Path, target: Path) -> None:
    """The shipped model's directory into RISK_MODELS_DIR: under a temporary name, renamed
    when complete (a half-copied directory is never taken for the model)."""
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        shutil.copytree(source, partial, dirs_exist_ok=True)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def activate_shipped(
    session: Session, *, actor: Actor, now: datetime, operator: str | None = None
) -> Shipped:
    """Install the model the package ships (``DEFAULT_MODEL``, models/README.md) as the
    service model: copy its directory into ``RISK_MODELS_DIR`` when that folder lacks it (an
    installation keeps its models in a folder of its own, /var/lib/corrections/models), sign
    its card with this instance's key (only the card reviewed in the repository,
    ``DEFAULT_MODEL_CARD_SHA256``) and activate it. Nothing changes while another version is
    active (the bureau chose it) or this one already is. Audited (sign, activate), with
    ``operator`` (who typed the command, when ``actor`` is the person ``--by`` names)."""
    from corrections.config import DEFAULT_MODELS_DIR

    current = session.scalar(select(RiskModel).where(RiskModel.active.is_(True)))
    if current is not None:
        return Shipped("already" if current.version == DEFAULT_MODEL else "other", current)
    target = models_dir() / DEFAULT_MODEL
    copied_to = None
    if not target.exists():
        source = DEFAULT_MODELS_DIR / DEFAULT_MODEL
        if not source.is_dir():
            raise NotFound(_("the package holds no model {version}", version=DEFAULT_MODEL))
        _copy_shipped(source, target)
        copied_to = target.parent
    sign(
        session,
        actor=actor,
        version=DEFAULT_MODEL,
        now=now,
        expect_card_sha256=DEFAULT_MODEL_CARD_SHA256,
        operator=operator,
    )
    done = activate(session, actor=actor, version=DEFAULT_MODEL, now=now, operator=operator)
    return Shipped("activated", done.row, copied_to)


_cache: dict[tuple[str, str], Scorer] = {}
_cache_lock = threading.Lock()


def active_scorer(session: Session) -> Scorer | None:
    """The active model, loaded once per process; refused if its files changed since it was
    activated (sha256 of the artifact and of the card) or its signature does not verify."""
    row = session.scalar(select(RiskModel).where(RiskModel.active.is_(True)))
    if row is None:
        return None
    return scorer_for(row)


def scorer_for(row: RiskModel) -> Scorer:
    """A registered model (active or not), checked as :func:`active_scorer` checks the active
    one, loaded once per process."""
    key = (row.version, row.sha256)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    directory = models_dir() / row.version
    checked = artifact.check(directory, expect_sha256=row.sha256)
    if checked.card["card_sha256"] != row.card_sha256:
        raise artifact.ArtifactError(
            _(
                "{version}: the card changed since it was activated (checksum {recorded}, "
                "now {now})",
                version=row.version,
                recorded=_short(row.card_sha256),
                now=_short(checked.card["card_sha256"]),
            )
        )
    signing.verify(checked.card, (row.card or {}).get("signature"), keyring=keys.current())
    scorer = Scorer(artifact.build(checked))
    with _cache_lock:
        _cache[key] = scorer
    return scorer


@dataclass
class ScoringResult:
    scored: int
    model: str | None
    high: int = 0
    entered_high: int = 0
    alerts: int = 0
    flags_proposed: int = 0

    def counts(self) -> dict[str, Any]:
        return self.__dict__.copy()


# The bands whose reasons the nightly run computes: the high band's, which raise alerts and
# flag proposals that show them. A medium or low score's reasons (a prediction per feature
# that differs from typical: most of the night's work, and a quarter of the persons are
# medium) are computed when someone opens the person (reasons_of): with the medium band's
# too, 100,000 active persons took longer than the 20 s of issue 18.
REASONS_AT_NIGHT = ("high",)


def score_all(session: Session, *, now: datetime, batch: int | None = None) -> ScoringResult:
    """Score every active person (features set-based, prediction in batches), store the scores,
    alert and propose flags for those entering the high band."""
    scorer = active_scorer(session)
    if scorer is None:
        return ScoringResult(scored=0, model=None)
    batch = batch or int(current_app.config["RISK_SCORING_BATCH"])
    frame = features.compute(session, features.active_now(), now)
    previous = queries.previous_bands(session, now)
    version = scorer.loaded.version
    entering: list[int] = []
    high = 0
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        scored = scorer.score(part, reasons_for=REASONS_AT_NIGHT)
        rows = []
        for pid, p, band, reasons in zip(
            part["person_id"].tolist(),
            scored["probability"].tolist(),
            scored["band"].tolist(),
            scored["reasons"].tolist(),
            strict=True,
        ):
            rows.append(
                {
                    "person_id": pid,
                    "scored_at": now,
                    "model_version": version,
                    "probability": round(float(p), 6),
                    "band": band,
                    "reasons": reasons,
                }
            )
            if band == "high":
                high += 1
                if previous.get(pid) != "high":
                    entering.append(pid)
        session.execute(insert(RiskScore), rows)
    result = ScoringResult(scored=len(frame), model=version, high=high)
    result.entered_high = len(entering)
    for start in range(0, len(entering), 5000):
        chunk = entering[start : start + 5000]
        result.alerts += alerts.raise_from(
            session,
            select(
                RiskScore.person_id,
                # About the person (one live alert each), as an overdue intake is; the score
                # that raised it is in the detail.
                literal("person").label("subject_type"),
                RiskScore.person_id.label("subject_id"),
                json_object(
                    "model_version",
                    RiskScore.model_version,
                    "probability",
                    RiskScore.probability,
                    "score_id",
                    RiskScore.id,
                ).label("detail"),
            ).where(
                RiskScore.person_id.in_(chunk),
                RiskScore.scored_at == now,
                # Nor beside a live one raised before the subject was the person ("person", 0).
                ~select(Alert.id)
                .where(
                    Alert.person_id == RiskScore.person_id,
                    Alert.kind == "high_risk",
                    Alert.status.in_(LIVE_STATUSES),
                )
                .exists(),
            ),
            kind="high_risk",
            now=now,
            once=False,
        )
    result.flags_proposed = flags.propose_for(
        session,
        entering,
        basis="risk_model",
        reason=FLAG_REASON,
        since=now - timedelta(days=features.HORIZON_DAYS),
        now=now,
    )
    return result


# --- reading ------------------------------------------------------------------------------


def _value_label(feature: str, value: Any) -> Any:
    """A categorical feature's code as the page says it (parole -> 假释); else the value."""
    if not isinstance(value, str):
        return value
    from corrections.grading import rules as grading_rules
    from corrections.persons import rules as person_rules

    people = person_rules.current()
    if feature == "category" and value in people.categories:
        return people.categories[value].label_zh
    if feature in ("gender", "crime_type"):
        return people.labels[f"{feature}s"].get(value, value)
    if feature == "intake_risk":
        return band_labels().get(value, value)
    if feature == "grade":
        try:
            return grading_rules.current().grade(value).label_zh
        except KeyError:
            return value
    return value


def reasons_of(session: Session, score: RiskScore) -> list[dict[str, Any]]:
    """The score's reasons: stored, or (a score outside REASONS_AT_NIGHT) computed now from the
    person's features as of the score's time with the model that made it. The features are
    point-in-time, so these are the reasons of that score, unless an event dated before it
    was recorded since (then they are the reasons the record now gives for that day). A
    model whose files can no longer be loaded gives none (logged)."""
    if score.reasons is not None:
        return score.reasons
    row = session.get(RiskModel, score.model_version)
    if row is None:
        return []
    try:
        scorer = scorer_for(row)
    except artifact.ArtifactError as exc:
        log.warning("reasons of score %s: model %s refused: %s", score.id, row.version, exc)
        return []
    population = select(Person.id.label("person_id")).where(Person.id == score.person_id)
    frame = features.compute(session, population, score.scored_at)
    if frame.empty:
        return []
    X = scorer.prepare(frame)
    return scorer.reasons(X, scorer.probability(X))[0]


def reason_view(reason: dict[str, Any]) -> dict[str, Any]:
    f = features.BY_NAME.get(reason["feature"])
    return {
        **reason,
        "label_zh": f.label_zh if f else reason["feature"],
        "label_en": f.label_en if f else reason["feature"],
        "value_label_zh": _value_label(reason["feature"], reason.get("value")),
        "typical_label_zh": _value_label(reason["feature"], reason.get("typical")),
    }


def score_view(score: RiskScore, *, reasons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``reasons``: the score's (reasons_of), shown with it; None: not shown (the history)."""
    view = {
        "scored_at": score.scored_at,
        "model_version": score.model_version,
        "probability": score.probability,
        "band": score.band,
        "band_label_zh": band_labels()[score.band],
    }
    if reasons is not None:
        view["reasons"] = [reason_view(r) for r in reasons]
    return view


def person_risk(session: Session, *, actor: Actor, person_id: int) -> dict[str, Any]:
    person = read_scoped(session, actor, person_id, action="risk.read")
    scores = session.scalars(
        select(RiskScore)
        .where(RiskScore.person_id == person.id)
        .order_by(RiskScore.scored_at.desc(), RiskScore.id.desc())
        .limit(HISTORY)
    ).all()
    view = {
        "person_id": person.id,
        "latest": score_view(scores[0], reasons=reasons_of(session, scores[0])) if scores else None,
        "history": [score_view(s) for s in scores],
        "note_zh": "评分仅为辅助研判，不自动改变管理等级或状态",
    }
    return privacy.present(session, actor, person, "risk", view)


STATEMENT_ZH = (
    "本评分仅供参考，不作决定：它不改变管理等级、矫正状态，也不据以作出处罚、收监或其他任何处理；"
    "任何决定均由工作人员依法审查后作出。"
)
LEGAL_BASIS_ZH = (
    "依据《中华人民共和国个人信息保护法》第二十四条，就自动化决策对个人权益的影响作出说明。"
)
EXPLANATION_ACTION = "risk.explanation"


def _percent(p: float) -> str:
    return f"{p * 100:.1f}%"


def _shown(value: Any, label: Any) -> str:
    shown = label if label is not None else value
    if shown is None:
        return "无记录"
    if isinstance(shown, float):
        return f"{shown:g}"
    return str(shown)


def explanation_view(
    score: RiskScore, card: dict[str, Any] | None, reasons: list[dict[str, Any]]
) -> dict[str, Any]:
    """A score explained in Chinese: the model, the date, the factors (the person's value,
    the typical value, how much lower the score would be with the typical value) and the
    statement that the score decides nothing."""
    from corrections.core.clock import business_date

    card = card or {}
    typical_basis = {
        f["name"]: "训练数据的中位数" if f.get("type") == "numeric" else "训练数据中最常见的值"
        for f in card.get("features", [])
    }
    factors = []
    for r in reasons:
        view = reason_view(r)
        view["typical_basis_zh"] = typical_basis.get(r["feature"], "训练数据的典型值")
        factors.append(view)
    scored_on = business_date(score.scored_at)
    band = band_labels()[score.band]
    lines = [
        f"{scored_on:%Y年%m月%d日}，脱管风险模型（版本 {score.model_version}）对该对象的评分为"
        f"“{band}”（估计未来90天内失去联系的概率约 {_percent(score.probability)}）。",
    ]
    if factors:
        lines.append("对评分影响最大的因素：")
        for i, f in enumerate(factors, start=1):
            lines.append(
                f"{i}. {f['label_zh']}：本人为 {_shown(f.get('value'), f.get('value_label_zh'))}，"
                f"一般为 {_shown(f.get('typical'), f.get('typical_label_zh'))}"
                f"（{f['typical_basis_zh']}）；若为一般值，评分约低 "
                f"{f['effect'] * 100:.1f} 个百分点。"
            )
    else:
        lines.append("没有使评分明显高于一般水平的因素。")
    lines.append(STATEMENT_ZH)
    lines.append(LEGAL_BASIS_ZH)
    metrics = card.get("metrics") or {}
    return {
        "model_version": score.model_version,
        "model_created_at": card.get("created_at"),
        "model_holdout_auc": metrics.get("auc"),
        "scored_at": score.scored_at,
        "scored_on": scored_on,
        "probability": score.probability,
        "band": score.band,
        "band_label_zh": band,
        "factors": factors,
        "statement_zh": STATEMENT_ZH,
        "legal_basis_zh": LEGAL_BASIS_ZH,
        "text_zh": "\n".join(lines),
    }


def person_risk_explanation(session: Session, *, actor: Actor, person_id: int) -> dict[str, Any]:
    """The explanation of the person's latest score (PIPL art. 24), scoped and audited as a
    read of the person's record."""
    person = read_scoped(session, actor, person_id, action=EXPLANATION_ACTION)
    score = session.scalars(
        select(RiskScore)
        .where(RiskScore.person_id == person.id)
        .order_by(RiskScore.scored_at.desc(), RiskScore.id.desc())
        .limit(1)
    ).first()
    view: dict[str, Any] = {"person_id": person.id}
    if score is None:
        view.update(
            scored=False,
            statement_zh=STATEMENT_ZH,
            text_zh="该对象暂无风险评分。" + STATEMENT_ZH,
        )
    else:
        row = session.get(RiskModel, score.model_version)
        card = row.card if row else None
        view.update(scored=True, **explanation_view(score, card, reasons_of(session, score)))
    return privacy.present(session, actor, person, "risk", view)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "metrics": card.get("metrics"),
        "bands": card.get("bands"),
        "model": card.get("model", {}).get("chosen"),
        "created_at": card.get("created_at"),
        "data": {
            k: card.get("data", {}).get(k)
            for k in ("rows", "rows_holdout", "base_rate", "split", "sha256")
        },
        "features": [f["name"] for f in card.get("features", [])],
        "groups": {
            g: rep.get("largest_gaps") for g, rep in (card.get("group_report") or {}).items()
        },
        "libraries": card.get("libraries"),
    }


def _signed(card: dict[str, Any], row: RiskModel | None) -> dict[str, Any]:
    try:
        signature = card_signature(card, row)
    except artifact.ArtifactError:
        return {"signed_by": None, "signed_at": None}
    return {"signed_by": signature["signed_by"], "signed_at": signature["signed_at"]}


def list_models(session: Session) -> list[dict[str, Any]]:
    """Model versions on disk and registered, with their cards' summaries and who signed
    them. Versions by name only: nothing says where on the server they are."""
    rows = {r.version: r for r in session.scalars(select(RiskModel))}
    out: dict[str, dict[str, Any]] = {}
    base = models_dir()
    for directory in sorted(base.iterdir()) if base.is_dir() else []:
        if not (directory / artifact.CARD_FILE).is_file():
            continue
        try:
            card = artifact.read_card(directory)
            problem = None
        except artifact.ArtifactError as exc:
            card, problem = {}, str(exc)
        out[directory.name] = {
            "version": directory.name,
            "active": False,
            "on_disk": True,
            "problem": problem,
            "sha256": card.get("artifact", {}).get("sha256"),
            "card_sha256": card.get("card_sha256"),
            "card": card_summary(card) if card else None,
            "recorded": None,
            **(_signed(card, rows.get(directory.name)) if card else {}),
        }
    for version, row in rows.items():
        entry = out.get(version)
        recorded = {
            "sha256": row.sha256,
            "card_sha256": row.card_sha256,
            "holdout_auc": row.holdout_auc,
            "signed_by": ((row.card or {}).get("signature") or {}).get("signed_by"),
        }
        if entry is None:  # only the database knows it: what it recorded is all there is
            entry = out[version] = {
                "version": version,
                "on_disk": False,
                "problem": "not on disk",
                "sha256": row.sha256,
                "card_sha256": row.card_sha256,
                "card": card_summary(row.card),
                "recorded": None,
            }
        elif (entry["card_sha256"], entry["sha256"]) != (row.card_sha256, row.sha256):
            # The files are not what was signed or activated: show the file's values as the
            # file's, and what the database recorded beside them, never in their place.
            entry["recorded"] = recorded
            entry["problem"] = entry["problem"] or _differs(recorded)
        entry.update(
            active=row.active,
            activated_at=row.activated_at,
            activated_by=row.activated_by,
        )
    return sorted(out.values(), key=lambda m: (not m["active"], m["version"]))


def _differs(recorded: dict[str, Any]) -> str:
    who = f" by {recorded['signed_by']}" if recorded["signed_by"] else ""
    return (
        f"card on disk differs from the one signed{who} (recorded: card "
        f"{_short(recorded['card_sha256'])}, hold-out AUC {recorded['holdout_auc']:.4f})"
    )
